//! Silver: parse a JSON stock trade, validate every field, emit a typed row.
//!
//! Input (from `finlake produce` or any producer):
//! `{"trade_id":"T1","symbol":"AAPL","price":189.5,"quantity":100,"side":"buy",
//!   "exchange":"NASDAQ","ts":1764218700123}` (`ts` in epoch milliseconds or RFC 3339 text).
use finlake_plugin_sdk::{Config, Emitter, Plugin, Record, export_plugin};
use std::borrow::Cow;

use serde::Deserialize;

mod loose;
use loose::Loose;

struct NormalizeTrade {
    allowed_symbols: Option<Vec<String>>,
    max_price: f64,
    /// Symbol → asset class (`equity`, `etf`, …); symbols not listed get `default_asset_class`.
    asset_classes: std::collections::BTreeMap<String, String>,
    default_asset_class: String,
    /// Currency the venue quotes prices in.
    currency: String,
}

/// The input as sent, text borrowed from the record unless the JSON escapes it; fields whose
/// type producers vary (ids and numbers as text or numbers) are read loosely and checked below.
#[derive(Deserialize)]
struct RawTrade<'a> {
    #[serde(borrow)]
    trade_id: Option<Loose<'a>>,
    #[serde(borrow)]
    symbol: Option<Cow<'a, str>>,
    #[serde(borrow)]
    price: Option<Loose<'a>>,
    #[serde(borrow)]
    quantity: Option<Loose<'a>>,
    #[serde(borrow)]
    side: Option<Cow<'a, str>>,
    #[serde(borrow)]
    exchange: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ts: Option<Loose<'a>>,
}

/// The row's event time: epoch milliseconds or RFC 3339 text; the host's timestamp column
/// accepts both.
enum EventTime<'a> {
    Millis(i64),
    Text(Cow<'a, str>),
}

impl Plugin for NormalizeTrade {
    const NAME: &'static str = "normalize-trade";
    // Test builds (xtask/build-plugins.sh) set `NORMALIZE_TRADE_VERSION` and
    // `NORMALIZE_TRADE_VARIANT` to make candidates for the shadow-run tests.
    const VERSION: &'static str = match option_env!("NORMALIZE_TRADE_VERSION") {
        Some(v) => v,
        None => env!("CARGO_PKG_VERSION"),
    };

    fn new(config: Config) -> Result<Self, String> {
        let allowed_symbols = match config.get("allowed_symbols") {
            None => None,
            Some(v) => Some(
                serde_json::from_value::<Vec<String>>(v.clone())
                    .map_err(|e| format!("allowed_symbols must be a list of strings: {e}"))?,
            ),
        };
        let max_price = match config.get("max_price") {
            None => 1_000_000.0,
            Some(v) => v.as_f64().ok_or("max_price must be a number")?,
        };
        let text = |key: &str, default: &str| match config.get(key) {
            None => Ok(default.to_string()),
            Some(v) => v.as_str().map(str::to_string).ok_or(format!("{key} must be text")),
        };
        let asset_classes = match config.get("asset_classes") {
            None => Default::default(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| format!("asset_classes must map symbols to text, like {{ SPY = \"etf\" }}: {e}"))?,
        };
        Ok(NormalizeTrade {
            allowed_symbols,
            max_price,
            asset_classes,
            default_asset_class: text("default_asset_class", "equity")?,
            currency: text("currency", "USD")?,
        })
    }

    fn process(&mut self, record: &Record<'_>, out: &mut Emitter) -> Result<(), String> {
        let text = record.value_str()?;
        let raw: RawTrade<'_> = serde_json::from_str(text).map_err(|e| format!("not a JSON trade object: {e}"))?;

        let trade_id = match raw.trade_id {
            Some(Loose::Text(s)) if !s.is_empty() => s,
            Some(n @ (Loose::Int(_) | Loose::UInt(_) | Loose::Float(_))) => Cow::Owned(n.to_string()),
            _ => return Err("trade_id is missing or empty".into()),
        };
        let symbol = raw.symbol.ok_or("symbol is missing")?;
        // Tickers mostly arrive upper case: copy only when one does not.
        let trimmed = symbol.trim();
        let symbol = if trimmed.bytes().any(|b| b.is_ascii_lowercase()) {
            Cow::Owned(trimmed.to_ascii_uppercase())
        } else if trimmed.len() != symbol.len() {
            Cow::Owned(trimmed.to_string())
        } else {
            symbol
        };
        if symbol.is_empty()
            || symbol.len() > 12
            || !symbol.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return Err(format!("symbol {symbol:?} is not a ticker"));
        }
        if let Some(allowed) = &self.allowed_symbols
            && !allowed.iter().any(|s| *s == *symbol)
        {
            return Err(format!("symbol {symbol} is not in allowed_symbols"));
        }
        let price = number(raw.price, "price")?;
        if !(price > 0.0 && price <= self.max_price) {
            return Err(format!("price {price} is outside (0, {}]", self.max_price));
        }
        let quantity = number(raw.quantity, "quantity")?;
        if !(quantity >= 1.0 && quantity.fract() == 0.0 && quantity < 1e12) {
            return Err(format!("quantity {quantity} is not a positive whole number"));
        }
        let side = match raw.side.as_deref() {
            Some(s) if s.eq_ignore_ascii_case("buy") || s.eq_ignore_ascii_case("b") => "buy",
            Some(s) if s.eq_ignore_ascii_case("sell") || s.eq_ignore_ascii_case("s") => "sell",
            other => return Err(format!("side {:?} is not buy or sell", other.map(str::to_ascii_lowercase))),
        };
        let event_time = match raw.ts {
            Some(Loose::Int(v)) if v > 0 => EventTime::Millis(v),
            Some(Loose::UInt(v)) if v > 0 && i64::try_from(v).is_ok() => EventTime::Millis(v as i64),
            Some(Loose::Text(s)) if !s.is_empty() => EventTime::Text(s),
            None => EventTime::Millis(record.timestamp),
            Some(other) => return Err(format!("ts {other} is not epoch milliseconds or RFC 3339")),
        };
        let quantity = quantity as i64;
        let asset_class = self.asset_classes.get(&*symbol).unwrap_or(&self.default_asset_class);
        // Test variants: `exchange:SYM` reports another venue for one symbol's trades, `trap:SYM`
        // panics on them.
        let mut exchange = raw.exchange.as_deref();
        match option_env!("NORMALIZE_TRADE_VARIANT").and_then(|v| v.split_once(':')) {
            Some(("exchange", s)) if s == symbol => exchange = Some("SHADOW"),
            Some(("trap", s)) if s == symbol => panic!("test variant: trap on {symbol}"),
            _ => {}
        }
        // Written field by field (JsonRow): the JSON a derived Serialize struct gives, without
        // its serializer's per-byte escaping.
        out.emit_row("trades", |w| {
            w.str("trade_id", &trade_id)
                .str("symbol", &symbol)
                .f64("price", price)
                .i64("quantity", quantity)
                .str("side", side)
                .f64("notional", price * quantity as f64)
                .str("asset_class", asset_class)
                .str("currency", &self.currency)
                .opt_str("exchange", exchange);
            match &event_time {
                EventTime::Millis(ms) => w.i64("event_time", *ms),
                EventTime::Text(text) => w.str("event_time", text),
            };
        });
        Ok(())
    }
}

fn number(value: Option<Loose<'_>>, field: &str) -> Result<f64, String> {
    match value {
        Some(Loose::Int(n)) => Ok(n as f64),
        Some(Loose::UInt(n)) => Ok(n as f64),
        Some(Loose::Float(n)) => Ok(n),
        Some(Loose::Text(s)) => s.trim().parse::<f64>().map_err(|_| format!("{field} {s:?} is not a number")),
        Some(other) => Err(format!("{field} {other} is not a number")),
        None => Err(format!("{field} is missing")),
    }
    .and_then(|v| if v.is_finite() { Ok(v) } else { Err(format!("{field} is not finite")) })
}

export_plugin!(NormalizeTrade);

#[cfg(test)]
mod tests {
    /// Runs `values` through the plugin (native build, the SDK's batch layout) and returns
    /// each record's row or rejection reason.
    fn run(config: &str, values: &[&str]) -> Vec<Result<String, String>> {
        let (mut records, mut data) = (Vec::new(), Vec::new());
        for (i, v) in values.iter().enumerate() {
            data.extend_from_slice(v.as_bytes());
            let end = data.len() as u32;
            let mut entry = [0u8; 40];
            entry[0..4].copy_from_slice(&(end - v.len() as u32).to_le_bytes()); // no key
            entry[4..8].copy_from_slice(&end.to_le_bytes());
            entry[8..12].copy_from_slice(&end.to_le_bytes()); // no headers
            entry[24..32].copy_from_slice(&(i as i64).to_le_bytes());
            entry[32..40].copy_from_slice(&1_700_000_000_000i64.to_le_bytes());
            records.extend_from_slice(&entry);
        }
        let mut plugin = super::finlake_native(config).unwrap();
        let result = plugin.process("stock-trades", &records, &data).unwrap();
        let mut out: Vec<Result<String, String>> = vec![Err("nothing".into()); values.len()];
        let mut start = 0;
        for row in result.rows.chunks(12) {
            let end = u32::from_le_bytes(row[0..4].try_into().unwrap()) as usize;
            let input = u32::from_le_bytes(row[4..8].try_into().unwrap()) as usize;
            out[input] = Ok(String::from_utf8(result.data[start..end].to_vec()).unwrap());
            start = end;
        }
        for r in result.rejections {
            out[r.input as usize] = Err(r.reason);
        }
        out
    }

    #[test]
    fn rows_are_the_json_of_the_typed_trade() {
        let rows = run(
            r#"{"asset_classes":{"SPY":"etf"}}"#,
            &[
                r#"{"trade_id":"T1","symbol":"aapl","price":"190.5","quantity":10,"side":"BUY","exchange":"NASDAQ","ts":1764218700123}"#,
                r#"{"trade_id":42,"symbol":" SPY ","price":0.1,"quantity":"3","side":"s","ts":"2026-11-27T04:45:00Z"}"#,
                r#"{"trade_id":"a\"b\\c","symbol":"MSFT","price":1e2,"quantity":1,"side":"sell","exchange":"X\u0001"}"#,
            ],
        );
        assert_eq!(
            rows,
            vec![
                Ok(r#"{"trade_id":"T1","symbol":"AAPL","price":190.5,"quantity":10,"side":"buy","notional":1905.0,"asset_class":"equity","currency":"USD","exchange":"NASDAQ","event_time":1764218700123}"#.to_string()),
                Ok(r#"{"trade_id":"42","symbol":"SPY","price":0.1,"quantity":3,"side":"sell","notional":0.30000000000000004,"asset_class":"etf","currency":"USD","exchange":null,"event_time":"2026-11-27T04:45:00Z"}"#.to_string()),
                Ok(r#"{"trade_id":"a\"b\\c","symbol":"MSFT","price":100.0,"quantity":1,"side":"sell","notional":100.0,"asset_class":"equity","currency":"USD","exchange":"X\u0001","event_time":1700000000000}"#.to_string()),
            ]
        );
    }

    #[test]
    fn malformed_fields_are_rejected_quoting_what_was_sent() {
        let base = r#""trade_id":"T","symbol":"A","quantity":1,"side":"buy""#;
        let rows = run(
            "{}",
            &[
                &format!(r#"{{{base},"price":1,"ts":true}}"#),
                &format!(r#"{{{base},"price":1,"ts":0}}"#),
                &format!(r#"{{{base},"price":1,"ts":-5}}"#),
                &format!(r#"{{{base},"price":1,"ts":1.5}}"#),
                &format!(r#"{{{base},"price":[1,{{"a":"x"}}]}}"#),
                &format!(r#"{{{base},"price":"ten"}}"#),
                &format!(r#"{{{base},"price":null}}"#),
                r#"{"trade_id":"","symbol":"A","price":1,"quantity":1,"side":"buy"}"#,
                r#"{"trade_id":true,"symbol":"A","price":1,"quantity":1,"side":"buy"}"#,
            ],
        );
        let reasons: Vec<String> = rows.into_iter().map(|r| r.unwrap_err()).collect();
        assert_eq!(
            reasons,
            [
                "ts true is not epoch milliseconds or RFC 3339",
                "ts 0 is not epoch milliseconds or RFC 3339",
                "ts -5 is not epoch milliseconds or RFC 3339",
                "ts 1.5 is not epoch milliseconds or RFC 3339",
                r#"price [1,{"a":"x"}] is not a number"#,
                r#"price "ten" is not a number"#,
                "price is missing",
                "trade_id is missing or empty",
                "trade_id is missing or empty",
            ]
        );
    }
}
