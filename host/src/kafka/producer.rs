//! Producing simulated market data to Kafka (`finlake produce`, and `[simulator]` inside `finlake run`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio::sync::watch;

use super::{KafkaError, client_config};
use crate::simulate::{Kind, generator};

/// Options of one producer run.
#[derive(Debug, Clone)]
pub struct ProduceOptions {
    pub kind: Kind,
    pub topic: String,
    pub rate: f64,
    pub count: Option<u64>,
    pub malformed_ratio: f64,
    pub seed: u64,
    /// Event-time speed-up: 1.0 stamps records with the wall clock; 60.0 makes a simulated
    /// minute pass every real second (so 1-minute and daily windows close during a demo).
    pub clock_speed: f64,
}

pub fn create_producer(brokers: &str, properties: &BTreeMap<String, String>) -> Result<FutureProducer, KafkaError> {
    let mut c = client_config(brokers, properties);
    c.set("linger.ms", "5").set("enable.idempotence", "true").set("message.timeout.ms", "30000");
    Ok(c.create()?)
}

/// Produces simulated records of `options.kind` at `rate` per second until `count` is reached or `stop` fires.
/// Calls `progress(sent)` about once per second. Returns how many were acknowledged.
pub async fn produce(
    producer: &FutureProducer,
    options: &ProduceOptions,
    mut stop: watch::Receiver<bool>,
    mut progress: impl FnMut(u64),
) -> Result<u64, KafkaError> {
    let mut generator = generator(options.kind, options.seed, options.malformed_ratio);
    let started = Instant::now();
    let clock_start_ms = chrono::Utc::now().timestamp_millis();
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
        let now_ms = clock_start_ms + (started.elapsed().as_secs_f64() * 1000.0 * options.clock_speed) as i64;
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

/// Replays rows of the credit-card fraud layout into `topic`. `speed` multiplies the file's
/// `Time` column (1.0 = real time, 60.0 = a minute per second); 0 sends as fast as possible.
/// Stops at the first malformed row with its line number (nothing after it is sent).
pub async fn replay_csv(
    producer: &FutureProducer,
    rows: impl Iterator<Item = Result<crate::simulate::creditcard::CsvRow, String>>,
    topic: &str,
    speed: f64,
    mut stop: watch::Receiver<bool>,
    mut progress: impl FnMut(u64),
) -> Result<u64, String> {
    use futures::StreamExt;
    let started = Instant::now();
    let mut first_time: Option<f64> = None;
    let mut sent = 0u64;
    let mut last_report = Instant::now();
    let mut in_flight = futures::stream::FuturesUnordered::new();
    for row in rows {
        if *stop.borrow() {
            break;
        }
        let row = row?;
        if speed > 0.0 {
            let due = (row.time - *first_time.get_or_insert(row.time)) / speed;
            let wait = due - started.elapsed().as_secs_f64();
            if wait > 0.0 {
                // Time and speed are checked finite, but their quotient can still overflow.
                let wait = Duration::try_from_secs_f64(wait).map_err(|_| {
                    format!("{}: Time {} at --speed {speed} is too far ahead to wait for", row.key, row.time)
                })?;
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => break,
                }
            }
        }
        let record = FutureRecord::to(topic).key(&row.key).payload(&row.json);
        in_flight.push(producer.send_result(record).map_err(|(e, _)| e.to_string())?);
        sent += 1;
        while in_flight.len() > 10_000 {
            if let Some(Ok(Err((e, _)))) = in_flight.next().await {
                return Err(e.to_string());
            }
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            progress(sent);
            last_report = Instant::now();
        }
    }
    while let Some(result) = in_flight.next().await {
        if let Ok(Err((e, _))) = result {
            return Err(e.to_string());
        }
    }
    producer.flush(Duration::from_secs(10)).map_err(|e| e.to_string())?;
    progress(sent);
    Ok(sent)
}
