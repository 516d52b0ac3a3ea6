//! Silver: parse a JSON stock trade, validate every field, emit a typed row.
//!
//! Input (from `finlake produce` or any producer):
//! `{"trade_id":"T1","symbol":"AAPL","price":189.5,"quantity":100,"side":"buy",
//!   "exchange":"NASDAQ","ts":1764218700123}` (`ts` in epoch milliseconds or RFC 3339 text).
use finlake_plugin_sdk::{Config, Emitter, Plugin, Record, export_plugin};
use std::borrow::Cow;

use serde::{Deserialize, Serialize};

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
    trade_id: Option<serde_json::Value>,
    #[serde(borrow)]
    symbol: Option<Cow<'a, str>>,
    price: Option<serde_json::Value>,
    quantity: Option<serde_json::Value>,
    #[serde(borrow)]
    side: Option<Cow<'a, str>>,
    #[serde(borrow)]
    exchange: Option<Cow<'a, str>>,
    ts: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct SilverTrade<'a> {
    trade_id: String,
    symbol: &'a str,
    price: f64,
    quantity: i64,
    side: &'a str,
    notional: f64,
    asset_class: &'a str,
    currency: &'a str,
    exchange: Option<&'a str>,
    /// Epoch milliseconds or RFC 3339 text; the host's timestamp column accepts both.
    event_time: serde_json::Value,
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
            Some(serde_json::Value::String(s)) if !s.is_empty() => s,
            Some(serde_json::Value::Number(n)) => n.to_string(),
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
            Some(serde_json::Value::Number(n)) if n.as_i64().is_some_and(|v| v > 0) => serde_json::Value::Number(n),
            Some(serde_json::Value::String(s)) if !s.is_empty() => serde_json::Value::String(s),
            None => serde_json::Value::from(record.timestamp),
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
        out.emit(
            "trades",
            &SilverTrade {
                trade_id,
                symbol: &symbol,
                price,
                quantity,
                side,
                notional: price * quantity as f64,
                asset_class,
                currency: &self.currency,
                exchange,
                event_time,
            },
        );
        Ok(())
    }
}

fn number(value: Option<serde_json::Value>, field: &str) -> Result<f64, String> {
    match value {
        Some(serde_json::Value::Number(n)) => n.as_f64().ok_or(format!("{field} is not a number")),
        Some(serde_json::Value::String(s)) => {
            s.trim().parse::<f64>().map_err(|_| format!("{field} {s:?} is not a number"))
        }
        Some(other) => Err(format!("{field} {other} is not a number")),
        None => Err(format!("{field} is missing")),
    }
    .and_then(|v| if v.is_finite() { Ok(v) } else { Err(format!("{field} is not finite")) })
}

export_plugin!(NormalizeTrade);
