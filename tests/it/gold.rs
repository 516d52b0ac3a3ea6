//! Gold windows: watermark, late rows, restarts and crashes, checked against a recomputation
//! from silver with SQL.

use std::path::Path;
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;

use finlake::config::Config;
use finlake::kafka::EmbeddedBroker;
use finlake::kafka::producer::{ProduceOptions, create_producer};
use finlake::query::{self, QueryOptions, format::json_rows};
use finlake::service::Service;
use finlake::simulate::Kind;

use crate::common::*;

/// The shipped trades pipeline and its gold tables, polling fast, written to `dir`.
pub fn gold_config(dir: &Path, topic: &str) -> Config {
    trades_config(dir, topic);
    let path = dir.join("pipelines.toml");
    let mut config = Config::load(&path).unwrap();
    assert!(config.gold.iter().any(|g| g.name == "gold_trades_1m"), "the shipped config has gold_trades_1m");
    for g in &mut config.gold {
        g.poll_ms = 200;
        // Event times here are fixed instants in 2027, or simulated clocks running 120 times
        // faster than the wall clock: legitimately far ahead of now.
        g.future_skew = "3650d".into();
    }
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    Config::load(&path).unwrap()
}

pub async fn sql(config: &Config, text: &str) -> Vec<serde_json::Map<String, Value>> {
    let catalog = finlake::lake::catalog(config);
    let options = QueryOptions { limit: 100_000, ..QueryOptions::default() };
    let out = query::run(&catalog, &config.lake.root, text, &options).await.unwrap_or_else(|e| panic!("{text}: {e}"));
    json_rows(&out.batches)
}

/// The first value of `text`'s first row; 0 while the table does not exist yet.
pub async fn count(config: &Config, text: &str) -> i64 {
    match query::run(&finlake::lake::catalog(config), &config.lake.root, text, &QueryOptions::default()).await {
        Ok(out) => json_rows(&out.batches).first().and_then(|r| r.values().next()?.as_i64()).unwrap_or(0),
        Err(_) => 0, // the table does not exist yet
    }
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

async fn send(producer: &FutureProducer, topic: &str, id: &str, symbol: &str, price: f64, qty: i64, ts_ms: i64) {
    let value = format!(
        r#"{{"trade_id":"{id}","symbol":"{symbol}","price":{price},"quantity":{qty},"side":"buy","exchange":"XNAS","ts":{ts_ms}}}"#
    );
    producer.send(FutureRecord::to(topic).key(symbol).payload(&value), Duration::from_secs(5)).await.unwrap();
}

/// OHLCV per symbol and minute recomputed from silver (late rows excluded), and the gold rows,
/// both for windows that start before `below_ms`.
pub async fn recomputed_and_gold(config: &Config, below_ms: i64) -> (Vec<Value>, Vec<Value>) {
    let below = format!("'{}'", rfc3339(below_ms));
    let silver = sql(
        config,
        &format!(
            "SELECT symbol, date_bin(INTERVAL '1 minute', event_time) AS window_start, \
             first_value(price ORDER BY event_time, kafka_partition, kafka_offset) AS open, max(price) AS high, \
             min(price) AS low, last_value(price ORDER BY event_time, kafka_partition, kafka_offset) AS close, \
             sum(quantity) AS volume, round(sum(notional) / sum(quantity), 6) AS vwap, count(*) AS trades \
             FROM silver_trades WHERE trade_id NOT IN (SELECT trade_id FROM gold_trades_1m_late) \
             AND event_time < {below} GROUP BY symbol, window_start ORDER BY window_start, symbol"
        ),
    )
    .await;
    let gold = sql(
        config,
        &format!(
            "SELECT symbol, window_start, open, high, low, close, volume, round(vwap, 6) AS vwap, trades \
             FROM gold_trades_1m WHERE window_start < {below} ORDER BY window_start, symbol"
        ),
    )
    .await;
    (silver.into_iter().map(Value::Object).collect(), gold.into_iter().map(Value::Object).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_close_on_the_watermark_and_late_trades_go_to_the_late_table() {
    let topic = unique("gold");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 3).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let config = gold_config(dir.path(), &topic);
    let producer = create_producer(&brokers, &Default::default()).unwrap();
    // A minute boundary in 2027; lateness is 10 s.
    let t0: i64 = 1_800_000_000_000 / 60_000 * 60_000;
    let mut n = 0;
    for minute in 0..3 {
        for symbol in ["AAPL", "MSFT"] {
            for k in 0..5 {
                n += 1;
                let price = 100.0 + (n % 7) as f64 + if symbol == "MSFT" { 300.0 } else { 0.0 };
                send(&producer, &topic, &format!("G{n}"), symbol, price, 10 + n, t0 + minute * 60_000 + k * 7_000)
                    .await;
            }
        }
    }
    // Highest event time t0+150 s: the watermark t0+140 s closes the first two minutes only.
    send(&producer, &topic, "G-w1", "AAPL", 101.0, 1, t0 + 150_000).await;
    let service = Service::start(config.clone(), brokers.clone()).await.unwrap();
    wait_until(Duration::from_secs(60), "4 gold windows", || async {
        count(&config, "SELECT count(*) FROM gold_trades_1m").await == 4
    })
    .await;

    // Out of order: a trade for minute 1 (already written) is late; one for minute 2 is not.
    send(&producer, &topic, "G-late", "AAPL", 999.0, 7, t0 + 65_000).await;
    send(&producer, &topic, "G-straggler", "MSFT", 777.0, 3, t0 + 160_000).await;
    wait_until(Duration::from_secs(60), "the late trade in silver", || async {
        count(&config, "SELECT count(*) FROM silver_trades WHERE trade_id IN ('G-late', 'G-straggler')").await == 2
    })
    .await;
    // Now move the watermark past minute 2 (t0+255 s - 10 s).
    send(&producer, &topic, "G-w2", "AAPL", 102.0, 1, t0 + 255_000).await;
    wait_until(Duration::from_secs(60), "6 gold windows and 1 late row", || async {
        count(&config, "SELECT count(*) FROM gold_trades_1m").await == 6
            && count(&config, "SELECT count(*) FROM gold_trades_1m_late").await == 1
    })
    .await;
    let late = sql(&config, "SELECT trade_id, window_start, watermark FROM gold_trades_1m_late").await;
    assert_eq!(late[0]["trade_id"], "G-late");
    let minute = |m: i64| rfc3339(t0 + m * 60_000);
    assert_eq!(late[0]["window_start"], minute(1).as_str());
    // The late trade changed nothing in minute 1; the straggler is in minute 2.
    let aapl1 = sql(
        &config,
        &format!("SELECT high, trades FROM gold_trades_1m WHERE symbol = 'AAPL' AND window_start = '{}'", minute(1)),
    )
    .await;
    assert_eq!(aapl1[0]["trades"], 5);
    assert!(aapl1[0]["high"].as_f64().unwrap() < 999.0);
    let msft2 = sql(
        &config,
        &format!("SELECT trades, high FROM gold_trades_1m WHERE symbol = 'MSFT' AND window_start = '{}'", minute(2)),
    )
    .await;
    assert_eq!(msft2[0]["trades"], 6);
    assert_eq!(msft2[0]["high"], 777.0);
    let (recomputed, gold) = recomputed_and_gold(&config, t0 + 180_000).await;
    assert_eq!(gold.len(), 6);
    assert_eq!(recomputed, gold, "gold OHLCV must equal the recomputation from silver");
    let by_class = sql(
        &config,
        "SELECT sum(volume) AS v, sum(trades) AS t FROM gold_volume_by_asset_class_1m WHERE asset_class = 'equity'",
    )
    .await;
    let totals = sql(&config, "SELECT sum(volume) AS v, sum(trades) AS t FROM gold_trades_1m").await;
    assert_eq!(by_class, totals);

    // A restart writes no window again; a new watermark closes minute 4.
    service.shutdown().await;
    let service = Service::start(config.clone(), brokers).await.unwrap();
    send(&producer, &topic, "G-w3", "AAPL", 103.0, 1, t0 + 375_000).await;
    wait_until(Duration::from_secs(60), "7 gold windows", || async {
        count(&config, "SELECT count(*) FROM gold_trades_1m").await == 7
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    service.shutdown().await;
    assert_eq!(count(&config, "SELECT count(*) FROM gold_trades_1m").await, 7);
    assert_eq!(
        count(&config, "SELECT count(*) FROM (SELECT DISTINCT symbol, window_start FROM gold_trades_1m)").await,
        7
    );
    assert_eq!(count(&config, "SELECT count(*) FROM gold_trades_1m_late").await, 1);
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gold_stays_exact_through_crashes_under_load() {
    let topic = unique("gold-crash");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 3).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let config = gold_config(dir.path(), &topic);
    // Two simulated minutes per second: windows close (and rows arrive late across partitions)
    // all the time while the service is killed twice.
    let total = 4000u64;
    let options = ProduceOptions {
        kind: Kind::Trades,
        topic: topic.clone(),
        rate: 400.0,
        count: Some(total),
        malformed_ratio: 0.0,
        seed: 11,
        clock_speed: 120.0,
    };
    let producing = produce_in_background(&brokers, options);
    for pause in [3500, 2500] {
        let service = Service::start(config.clone(), brokers.clone()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(pause)).await;
        service.abort().await; // no flush: as in a crash
    }
    assert_eq!(producing.await.unwrap().unwrap(), total);
    let service = Service::start(config.clone(), brokers).await.unwrap();
    wait_until(Duration::from_secs(90), "every trade in silver", || async {
        count(&config, "SELECT count(*) FROM silver_trades").await == total as i64
    })
    .await;
    // Complete: every silver row of a closed window is in gold or in the late table.
    let max_ms = count(&config, "SELECT CAST(max(event_time) AS BIGINT) / 1000 FROM silver_trades").await;
    let closed_below = (max_ms - 10_000) / 60_000 * 60_000;
    let below = format!("'{}'", rfc3339(closed_below));
    let in_closed = count(&config, &format!("SELECT count(*) FROM silver_trades WHERE event_time < {below}")).await;
    wait_until(Duration::from_secs(60), "gold + late to cover every closed window", || async {
        let gold = count(&config, "SELECT CAST(sum(trades) AS BIGINT) FROM gold_trades_1m").await;
        let late =
            count(&config, &format!("SELECT count(*) FROM gold_trades_1m_late WHERE event_time < {below}")).await;
        gold + late == in_closed
    })
    .await;
    service.shutdown().await;
    let windows = count(&config, "SELECT count(*) FROM gold_trades_1m").await;
    let distinct =
        count(&config, "SELECT count(*) FROM (SELECT DISTINCT symbol, window_start FROM gold_trades_1m)").await;
    assert_eq!(windows, distinct, "a window was written twice");
    assert!(windows >= 5, "expected several closed windows, got {windows}");
    let late_dups = count(&config, "SELECT count(*) - count(DISTINCT trade_id) FROM gold_trades_1m_late").await;
    assert_eq!(late_dups, 0, "a late row was stored twice");
    let (recomputed, gold) = recomputed_and_gold(&config, closed_below).await;
    assert_eq!(recomputed.len(), gold.len());
    assert_eq!(recomputed, gold, "gold OHLCV must equal the recomputation from silver");
    drop(broker);
}
