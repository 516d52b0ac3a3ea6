//! CoinGecko `simple/price`: the five coins' USD price and 24 h volume, as crypto-price records
//! (`{"symbol","price","volume_24h","ts","source"}`, key = symbol). A coin whose
//! `last_updated_at` has not moved since the last poll is not sent again.

use std::collections::HashMap;
use std::time::Duration;

use super::{Source, SourceError, client, get_json};

pub const COINS: [(&str, &str); 5] =
    [("BTC", "bitcoin"), ("ETH", "ethereum"), ("BNB", "binancecoin"), ("ADA", "cardano"), ("SOL", "solana")];

pub struct CoinGecko {
    base_url: String,
    client: reqwest::Client,
    last_updated: HashMap<&'static str, i64>,
}

impl CoinGecko {
    /// `base_url` is `https://api.coingecko.com` in production, a local server in tests.
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        CoinGecko {
            base_url: base_url.trim_end_matches('/').to_string(),
            client: client(timeout),
            last_updated: HashMap::new(),
        }
    }
}

impl Source for CoinGecko {
    fn name(&self) -> &'static str {
        "coingecko"
    }

    async fn poll(&mut self) -> Result<Vec<(String, String)>, SourceError> {
        let ids: Vec<&str> = COINS.iter().map(|c| c.1).collect();
        let url = format!(
            "{}/api/v3/simple/price?ids={}&vs_currencies=usd&include_24hr_vol=true&include_last_updated_at=true",
            self.base_url,
            ids.join(",")
        );
        let body = get_json(&self.client, &url, &url).await?;
        let malformed = |message: String| SourceError::Malformed { url: url.clone(), message };
        if let Some(status) = body.get("status").and_then(|s| s.get("error_code")) {
            if status.as_i64() == Some(429) {
                return Err(SourceError::RateLimited { url: url.clone(), message: body["status"].to_string() });
            }
            return Err(malformed(format!("error status {}", body["status"])));
        }
        let mut records = Vec::new();
        for (symbol, id) in COINS {
            let Some(coin) = body.get(id) else {
                tracing::warn!(source = "coingecko", coin = id, "coin missing from the response");
                continue;
            };
            let Some(price) = coin.get("usd").and_then(|p| p.as_f64()).filter(|p| *p > 0.0) else {
                tracing::warn!(source = "coingecko", coin = id, body = %coin, "no usable usd price");
                continue;
            };
            let updated = coin.get("last_updated_at").and_then(|t| t.as_i64()).unwrap_or(0);
            if self.last_updated.get(symbol) == Some(&updated) {
                continue;
            }
            self.last_updated.insert(symbol, updated);
            let volume = coin.get("usd_24h_vol").and_then(|v| v.as_f64());
            // A hostile or broken answer must not overflow into a wrapped time.
            let ts = Some(updated)
                .filter(|u| *u > 0)
                .and_then(|u| u.checked_mul(1000))
                .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
            let value = serde_json::json!({"symbol": symbol, "price": price, "volume_24h": volume, "ts": ts, "source": "coingecko"});
            records.push((symbol.to_string(), value.to_string()));
        }
        if records.is_empty() && self.last_updated.is_empty() {
            return Err(malformed("no coin in the response has a usd price".into()));
        }
        Ok(records)
    }
}
