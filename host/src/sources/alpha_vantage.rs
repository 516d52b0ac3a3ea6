//! Alpha Vantage `GLOBAL_QUOTE`: the five stocks' latest price and day volume.
//!
//! A quote is not a trade, so the source derives one aggregated trade per symbol and poll from
//! what changed: quantity = the day volume traded since the previous poll, price = the latest
//! price, side = the sign of the price move. The first poll of a symbol only records its volume.
//! Records have the stock-trade shape (`{"trade_id","symbol","price","quantity","side",
//! "exchange","ts","source"}`, key = symbol), so `normalize-trade` handles them.
//! The free tier allows a few requests a minute: a `Note`/`Information` body is a rate limit.

use std::collections::HashMap;
use std::time::Duration;

use super::{Source, SourceError, client, get_json};

pub const SYMBOLS: [&str; 5] = ["AAPL", "TSLA", "GOOGL", "MSFT", "AMZN"];

pub struct AlphaVantage {
    base_url: String,
    api_key: String,
    client: reqwest::Client,
    /// Last (day, volume, price) per symbol.
    last: HashMap<String, (String, u64, f64)>,
}

impl AlphaVantage {
    /// `base_url` is `https://www.alphavantage.co` in production, a local server in tests.
    pub fn new(base_url: &str, api_key: &str, timeout: Duration) -> Self {
        AlphaVantage {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            client: client(timeout),
            last: HashMap::new(),
        }
    }

    async fn quote(&mut self, symbol: &str) -> Result<Option<(String, String)>, SourceError> {
        let url = format!("{}/query?function=GLOBAL_QUOTE&symbol={symbol}&apikey={}", self.base_url, self.api_key);
        let shown = format!("{}/query?function=GLOBAL_QUOTE&symbol={symbol}&apikey=***", self.base_url);
        let body = get_json(&self.client, &url, &shown).await?;
        for key in ["Note", "Information"] {
            if let Some(message) = body.get(key).and_then(|m| m.as_str()) {
                return Err(SourceError::RateLimited { url: shown, message: message.to_string() });
            }
        }
        if let Some(message) = body.get("Error Message").and_then(|m| m.as_str()) {
            return Err(SourceError::Malformed { url: shown, message: message.to_string() });
        }
        let q = body.get("Global Quote").and_then(|q| q.as_object()).filter(|q| !q.is_empty()).ok_or_else(|| {
            SourceError::Malformed { url: shown.clone(), message: "no \"Global Quote\" object".into() }
        })?;
        let field = |k: &str| q.get(k).and_then(|v| v.as_str()).map(str::trim);
        let price: f64 = field("05. price")
            .and_then(|p| p.parse().ok())
            .filter(|p: &f64| *p > 0.0)
            .ok_or_else(|| SourceError::Malformed { url: shown.clone(), message: "no usable \"05. price\"".into() })?;
        let volume: u64 = field("06. volume")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| SourceError::Malformed { url: shown.clone(), message: "no usable \"06. volume\"".into() })?;
        let day = field("07. latest trading day").unwrap_or("").to_string();
        let previous = self.last.insert(symbol.to_string(), (day.clone(), volume, price));
        let Some((prev_day, prev_volume, prev_price)) = previous else { return Ok(None) };
        let traded = if prev_day == day { volume.saturating_sub(prev_volume) } else { volume };
        if traded == 0 {
            return Ok(None);
        }
        let side = if price >= prev_price { "buy" } else { "sell" };
        let value = serde_json::json!({
            "trade_id": format!("AV-{symbol}-{day}-{volume}"),
            "symbol": symbol,
            "price": price,
            "quantity": traded,
            "side": side,
            "exchange": "NASDAQ",
            "ts": chrono::Utc::now().timestamp_millis(),
            "source": "alphavantage",
        });
        Ok(Some((symbol.to_string(), value.to_string())))
    }
}

impl Source for AlphaVantage {
    fn name(&self) -> &'static str {
        "alphavantage"
    }

    async fn poll(&mut self) -> Result<Vec<(String, String)>, SourceError> {
        let mut records = Vec::new();
        for symbol in SYMBOLS {
            // A rate limit or transport failure ends this poll (the next symbols would fail
            // too); a malformed quote for one symbol only skips that symbol.
            match self.quote(symbol).await {
                Ok(Some(r)) => records.push(r),
                Ok(None) => {}
                Err(e @ SourceError::Malformed { .. }) => {
                    tracing::warn!(source = "alphavantage", symbol, error = %e, "quote skipped")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(records)
    }
}
