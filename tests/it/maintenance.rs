//! Running for weeks: maintenance (compaction, vacuum, checkpoints) while pipelines and gold
//! write, and the bounded unique-key index.

use std::time::Duration;

use rdkafka::producer::FutureRecord;

use finlake::config::Config;
use finlake::delta::maintenance::{self, file_stats};
use finlake::kafka::EmbeddedBroker;
use finlake::kafka::producer::{ProduceOptions, create_producer};
use finlake::service::Service;
use finlake::simulate::Kind;

use crate::common::*;
use crate::gold::count;

/// The trades pipeline and its gold tables with maintenance every second: compaction as soon
/// as a partition has two small files, a checkpoint every 5 commits.
fn maintained_config(dir: &std::path::Path, topic: &str) -> Config {
    let mut config = crate::gold::gold_config(dir, topic);
    config.maintenance.interval = "1s".into();
    config.maintenance.min_small_files = 2;
    config.maintenance.checkpoint_every = 5;
    config.maintenance.time_travel = "1m".into();
    let path = dir.join("pipelines.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    Config::load(&path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gold_and_silver_stay_exact_while_maintenance_compacts_the_tables() {
    let topic = unique("maint");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 3).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let config = maintained_config(dir.path(), &topic);
    let total = 3000u64;
    let options = ProduceOptions {
        kind: Kind::Trades,
        topic: topic.clone(),
        rate: 300.0,
        count: Some(total),
        malformed_ratio: 0.0,
        seed: 23,
        clock_speed: 120.0,
    };
    let producing = produce_in_background(&brokers, options);
    let service = Service::start(config.clone(), brokers.clone()).await.unwrap();
    assert_eq!(producing.await.unwrap().unwrap(), total);
    wait_until(Duration::from_secs(90), "every trade in silver", || async {
        count(&config, "SELECT count(*) FROM silver_trades").await == total as i64
    })
    .await;
    // Compaction ran on silver while the pipeline appended and gold read it incrementally.
    let silver = finlake::delta::open(&config.lake.root, "silver/trades").await.unwrap().unwrap();
    let optimized: Vec<_> = futures::TryStreamExt::try_collect(silver.history(None)).await.unwrap();
    let optimize_commits = optimized.iter().filter(|c| c.operation.as_deref() == Some("OPTIMIZE")).count();
    assert!(
        optimize_commits >= 2,
        "expected silver to be compacted while written, got {optimize_commits} OPTIMIZE commits"
    );
    let max_ms = count(&config, "SELECT CAST(max(event_time) AS BIGINT) / 1000 FROM silver_trades").await;
    let closed_below = (max_ms - 10_000) / 60_000 * 60_000;
    let below = format!("'{}'", chrono::DateTime::from_timestamp_millis(closed_below).unwrap().to_rfc3339());
    let in_closed = count(&config, &format!("SELECT count(*) FROM silver_trades WHERE event_time < {below}")).await;
    wait_until(Duration::from_secs(60), "gold + late to cover every closed window", || async {
        let gold = count(&config, "SELECT CAST(sum(trades) AS BIGINT) FROM gold_trades_1m").await;
        let late =
            count(&config, &format!("SELECT count(*) FROM gold_trades_1m_late WHERE event_time < {below}")).await;
        gold + late == in_closed
    })
    .await;
    let reports = service.control.maintenance.reports();
    service.shutdown().await;
    let windows = count(&config, "SELECT count(*) FROM gold_trades_1m").await;
    let distinct =
        count(&config, "SELECT count(*) FROM (SELECT DISTINCT symbol, window_start FROM gold_trades_1m)").await;
    assert_eq!(windows, distinct, "a window was written twice");
    let (recomputed, gold) = crate::gold::recomputed_and_gold(&config, closed_below).await;
    assert_eq!(recomputed, gold, "gold OHLCV must equal the recomputation from silver across compactions");
    // Exactly once in bronze and silver, from the Kafka coordinates.
    let lake = &config.lake.root;
    let bronze = kafka_coordinates(&lake.join("bronze/trades")).await;
    assert_exactly_once("bronze", &bronze);
    assert_eq!(bronze.len() as u64, total);
    // Files stay bounded: at most a few per partition, and the log has a recent checkpoint.
    let silver = finlake::delta::open(lake, "silver/trades").await.unwrap().unwrap();
    let stats = file_stats(&silver, 16 << 20);
    println!("silver after the run: {stats:?}; reports: {}", reports.len());
    assert!(stats.files <= 5 * 4, "silver holds {} files for 5 symbols", stats.files);
    let checkpoint = maintenance::last_checkpoint(&silver).await.expect("a checkpoint");
    assert!(
        silver.version().unwrap() < checkpoint + 5 + 20,
        "checkpoint v{checkpoint} is far behind v{:?}",
        silver.version()
    );
    assert!(reports.iter().any(|r| r.table == "silver_trades"), "the schedule reported on silver_trades");
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_within_the_dedup_horizon_is_dropped_and_one_beyond_it_is_written() {
    let topic = unique("horizon");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 1).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    trades_config(dir.path(), &topic);
    let path = dir.path().join("pipelines.toml");
    let mut config = Config::load(&path).unwrap();
    config.tables.iter_mut().find(|t| t.name == "silver_trades").unwrap().dedup_horizon = "15s".into();
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let config = Config::load(&path).unwrap();
    let producer = create_producer(&brokers, &Default::default()).unwrap();
    let send = |id: &'static str| {
        let (producer, topic) = (producer.clone(), topic.clone());
        async move {
            let value = format!(
                r#"{{"trade_id":"{id}","symbol":"AAPL","price":190.5,"quantity":3,"side":"buy","exchange":"XNAS","ts":1790000000000}}"#
            );
            producer.send(FutureRecord::to(&topic).key("AAPL").payload(&value), Duration::from_secs(5)).await.unwrap();
        }
    };
    let service = Service::start(config.clone(), brokers.clone()).await.unwrap();
    let first = std::time::Instant::now();
    send("t-1").await;
    send("t-1").await;
    wait_until(Duration::from_secs(30), "two records in bronze", || async {
        count(&config, "SELECT count(*) FROM bronze_trades").await == 2
    })
    .await;
    service.shutdown().await;
    // Within the horizon, across a restart: the key index is reloaded from recent files.
    let service = Service::start(config.clone(), brokers.clone()).await.unwrap();
    send("t-1").await;
    wait_until(Duration::from_secs(30), "three records in bronze", || async {
        count(&config, "SELECT count(*) FROM bronze_trades").await == 3
    })
    .await;
    let within = first.elapsed();
    assert!(within < Duration::from_secs(14), "the restart took {within:?}: not within the horizon any more");
    assert_eq!(
        count(&config, "SELECT count(*) FROM silver_trades").await,
        1,
        "duplicates within the horizon are dropped"
    );
    // Beyond the horizon (the documented limit): the same trade id is new again.
    tokio::time::sleep(Duration::from_secs(18)).await;
    send("t-1").await;
    wait_until(Duration::from_secs(30), "the late duplicate in silver", || async {
        count(&config, "SELECT count(*) FROM silver_trades").await == 2
    })
    .await;
    service.shutdown().await;
    drop(broker);
}
