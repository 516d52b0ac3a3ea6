//! Real market-data sources polled over HTTP: Alpha Vantage (stock quotes) and CoinGecko (coin
//! prices). Each poll turns a response into records of the same shapes the simulators produce,
//! so the same pipelines handle both. Failures (timeouts, HTTP errors, rate limits, malformed
//! bodies) are logged with context and retried with exponential backoff; nothing crashes.

pub mod alpha_vantage;
pub mod coingecko;

use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::watch;

/// Why one poll produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("request to {url} failed: {message}")]
    Http { url: String, message: String },
    #[error("{url} answered HTTP {status}: {body}")]
    Status { url: String, status: u16, body: String },
    #[error("{url} is rate-limiting us: {message}")]
    RateLimited { url: String, message: String },
    #[error("{url} sent a body we cannot read: {message}")]
    Malformed { url: String, message: String },
}

/// A source of records, polled periodically.
pub trait Source: Send {
    fn name(&self) -> &'static str;
    /// One poll: (key, JSON value) records, possibly none.
    fn poll(&mut self) -> impl std::future::Future<Output = Result<Vec<(String, String)>, SourceError>> + Send;
}

pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("finlake/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

pub(crate) async fn get_json(
    client: &reqwest::Client,
    url: &str,
    shown: &str,
) -> Result<serde_json::Value, SourceError> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| SourceError::Http { url: shown.to_string(), message: e.to_string() })?;
    let status = response.status().as_u16();
    let body =
        response.bytes().await.map_err(|e| SourceError::Http { url: shown.to_string(), message: e.to_string() })?;
    if status == 429 {
        return Err(SourceError::RateLimited { url: shown.to_string(), message: "HTTP 429".into() });
    }
    if !(200..300).contains(&status) {
        let text = String::from_utf8_lossy(&body).chars().take(200).collect();
        return Err(SourceError::Status { url: shown.to_string(), status, body: text });
    }
    serde_json::from_slice(&body).map_err(|e| SourceError::Malformed { url: shown.to_string(), message: e.to_string() })
}

/// Polls `source` every `interval` and produces its records to `topic` until `stop`. After a
/// failure, waits `interval` × 2^n (capped at 10 minutes) before the next try.
pub async fn run(
    mut source: impl Source,
    producer: &FutureProducer,
    topic: &str,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> u64 {
    let mut sent = 0u64;
    let mut failures = 0u32;
    loop {
        let wait = match source.poll().await {
            Ok(records) => {
                failures = 0;
                for (key, value) in &records {
                    match producer.send(FutureRecord::to(topic).key(key).payload(value), Duration::from_secs(30)).await
                    {
                        Ok(_) => sent += 1,
                        Err((e, _)) => tracing::warn!(source = source.name(), topic, error = %e, "produce failed"),
                    }
                }
                tracing::info!(source = source.name(), records = records.len(), total = sent, "polled");
                interval
            }
            Err(e) => {
                failures += 1;
                let backoff = (interval * 2u32.saturating_pow(failures.min(10))).min(Duration::from_secs(600));
                tracing::warn!(source = source.name(), error = %e, failures, retry_in_s = backoff.as_secs_f64(), "poll failed");
                metrics::counter!("finlake_source_errors_total", "source" => source.name()).increment(1);
                backoff
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return sent,
        }
        if *stop.borrow() {
            return sent;
        }
    }
}

#[cfg(test)]
mod tests;
