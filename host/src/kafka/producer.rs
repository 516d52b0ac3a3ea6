//! The simulated stock-trade producer (`finlake produce`, and `[simulator]` inside `finlake run`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio::sync::watch;

use super::{KafkaError, client_config};

/// Symbols, starting prices and yearly volatility of the simulated market.
const SYMBOLS: [(&str, f64, f64, &str); 5] = [
    ("AAPL", 190.0, 0.25, "NASDAQ"),
    ("TSLA", 240.0, 0.60, "NASDAQ"),
    ("GOOGL", 140.0, 0.30, "NASDAQ"),
    ("MSFT", 380.0, 0.25, "NASDAQ"),
    ("AMZN", 150.0, 0.35, "NASDAQ"),
];

/// A seeded generator of trades: a geometric random walk per symbol.
pub struct TradeGenerator {
    rng: SmallRng,
    prices: Vec<f64>,
    next_id: u64,
    malformed_ratio: f64,
}

impl TradeGenerator {
    pub fn new(seed: u64, malformed_ratio: f64) -> Self {
        TradeGenerator {
            rng: SmallRng::seed_from_u64(seed),
            prices: SYMBOLS.iter().map(|s| s.1).collect(),
            next_id: 1,
            malformed_ratio,
        }
    }

    /// The next record as (key, value). Malformed records are still UTF-8, so bronze keeps them.
    pub fn next_record(&mut self, now_ms: i64) -> (String, String) {
        let i = self.rng.random_range(0..SYMBOLS.len());
        let (symbol, _, vol, exchange) = SYMBOLS[i];
        // One step of a geometric Brownian motion, scaled to roughly one trade per 100 ms.
        let z: f64 = (0..12).map(|_| self.rng.random::<f64>()).sum::<f64>() - 6.0;
        let step = vol / (252.0f64 * 6.5 * 3600.0 * 10.0).sqrt();
        self.prices[i] *= (step * z).exp();
        let price = (self.prices[i] * 100.0).round() / 100.0;
        let quantity = 1 + (self.rng.random::<f64>().powi(3) * 1000.0) as u64;
        let side = if self.rng.random_bool(0.5) { "buy" } else { "sell" };
        let id = self.next_id;
        self.next_id += 1;
        let good = format!(
            r#"{{"trade_id":"T{id:010}","symbol":"{symbol}","price":{price},"quantity":{quantity},"side":"{side}","exchange":"{exchange}","ts":{now_ms}}}"#
        );
        let value = if self.rng.random_bool(self.malformed_ratio.clamp(0.0, 1.0)) {
            match self.rng.random_range(0..4) {
                0 => good[..good.len() / 2].to_string(),
                1 => good.replace(&format!("\"price\":{price}"), "\"price\":-1"),
                2 => good.replace(&format!("\"side\":\"{side}\""), "\"side\":\"hold\""),
                _ => format!("garbage trade #{id}"),
            }
        } else {
            good
        };
        (symbol.to_string(), value)
    }
}

/// Options of one producer run.
#[derive(Debug, Clone)]
pub struct ProduceOptions {
    pub topic: String,
    pub rate: f64,
    pub count: Option<u64>,
    pub malformed_ratio: f64,
    pub seed: u64,
}

pub fn create_producer(brokers: &str, properties: &BTreeMap<String, String>) -> Result<FutureProducer, KafkaError> {
    let mut c = client_config(brokers, properties);
    c.set("linger.ms", "5").set("enable.idempotence", "true").set("message.timeout.ms", "30000");
    Ok(c.create()?)
}

/// Produces simulated trades at `rate` per second until `count` is reached or `stop` fires.
/// Calls `progress(sent)` about once per second. Returns how many were acknowledged.
pub async fn produce_trades(
    producer: &FutureProducer,
    options: &ProduceOptions,
    mut stop: watch::Receiver<bool>,
    mut progress: impl FnMut(u64),
) -> Result<u64, KafkaError> {
    let mut generator = TradeGenerator::new(options.seed, options.malformed_ratio);
    let started = Instant::now();
    let mut sent: u64 = 0;
    let mut last_report = Instant::now();
    let mut in_flight = futures::stream::FuturesUnordered::new();
    use futures::StreamExt;
    loop {
        if options.count.is_some_and(|c| sent >= c) || *stop.borrow() {
            break;
        }
        // Pace: never run ahead of `rate`, catch up in small bursts when behind.
        let due = (started.elapsed().as_secs_f64() * options.rate) as u64 + 1;
        if sent >= due {
            let wait = Duration::from_secs_f64(
                ((sent + 1) as f64 / options.rate - started.elapsed().as_secs_f64()).max(0.0005),
            );
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        let (key, value) = generator.next_record(now_ms);
        let record = FutureRecord::to(&options.topic).key(&key).payload(&value);
        let delivery = producer.send_result(record).map_err(|(e, _)| KafkaError::Client(e))?;
        in_flight.push(delivery);
        sent += 1;
        while in_flight.len() > 10_000 {
            if let Some(Ok(Err((e, _)))) = in_flight.next().await {
                return Err(KafkaError::Client(e));
            }
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            progress(sent);
            last_report = Instant::now();
        }
    }
    while let Some(result) = in_flight.next().await {
        if let Ok(Err((e, _))) = result {
            return Err(KafkaError::Client(e));
        }
    }
    producer.flush(Duration::from_secs(10))?;
    progress(sent);
    Ok(sent)
}
