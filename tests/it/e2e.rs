//! End to end: real Kafka protocol (embedded broker), real plugins, real Delta tables.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rdkafka::producer::FutureRecord;

use finlake::config::Config;
use finlake::kafka::EmbeddedBroker;
use finlake::kafka::producer::{ProduceOptions, create_producer};
use finlake::service::Service;
use finlake::simulate::Kind;

use crate::common::*;

trait JsonValue {
    async fn json_value(self) -> serde_json::Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes().await.unwrap()).unwrap()
    }
}

const TRADE: &str = r#"{"trade_id":"T{i}","symbol":"{s}","price":{p},"quantity":{q},"side":"buy","exchange":"NASDAQ","ts":1764218700000}"#;

fn trade(i: usize) -> (String, String) {
    let symbols = ["AAPL", "TSLA", "GOOGL", "MSFT", "AMZN"];
    let s = symbols[i % 5];
    let v = TRADE
        .replace("{i}", &i.to_string())
        .replace("{s}", s)
        .replace("{p}", &format!("{}.25", 100 + i % 50))
        .replace("{q}", &(1 + i % 300).to_string());
    (s.to_string(), v)
}

/// Counts (bronze, silver, dead letters) and checks the exactly-once invariants between them.
async fn check_lake(lake: &Path) -> (usize, usize, usize) {
    let bronze = kafka_coordinates(&lake.join("bronze/trades")).await;
    let silver = kafka_coordinates(&lake.join("silver/trades")).await;
    let dead = dead_letter_coordinates(&lake.join("dead_letters")).await;
    assert_exactly_once("bronze", &bronze);
    assert_exactly_once("silver", &silver);
    assert_exactly_once("dead_letters", &dead);
    (bronze.len(), silver.len(), dead.len())
}

async fn final_check(lake: &Path, produced: usize) -> (usize, usize) {
    let bronze: BTreeSet<_> = kafka_coordinates(&lake.join("bronze/trades")).await.into_keys().collect();
    let silver: BTreeSet<_> = kafka_coordinates(&lake.join("silver/trades")).await.into_keys().collect();
    let dead: BTreeSet<_> = dead_letter_coordinates(&lake.join("dead_letters")).await.into_keys().collect();
    assert_eq!(bronze.len(), produced, "every produced record is in bronze");
    assert!(silver.is_disjoint(&dead), "a record is either in silver or a dead letter");
    let union: BTreeSet<_> = silver.union(&dead).copied().collect();
    assert_eq!(union, bronze, "silver + dead letters cover exactly the records in bronze");
    (silver.len(), dead.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_records_reach_silver_malformed_ones_the_dead_letters_exactly_once() {
    let topic = unique("trades");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 3).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    trades_config(dir.path(), &topic);
    let config = Config::load(&dir.path().join("pipelines.toml")).unwrap();

    let producer = create_producer(&brokers, &Default::default()).unwrap();
    let malformed =
        ["{\"trade_id\":\"X\"", "hello", r#"{"trade_id":"M","symbol":"AAPL","price":-5,"quantity":1,"side":"buy"}"#];
    let (mut valid, mut bad) = (0, 0);
    for i in 0..330 {
        let (key, value) = if i % 11 == 10 {
            bad += 1;
            ("AAPL".to_string(), malformed[i % 3].to_string())
        } else {
            valid += 1;
            trade(i)
        };
        producer
            .send(FutureRecord::to(&topic).key(&key).payload(&value), Duration::from_secs(5))
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    assert_eq!((valid, bad), (300, 30));

    let service = Service::start(config, brokers.clone()).await.unwrap();
    let lake = dir.path().join("lake");
    wait_until(Duration::from_secs(60), "all 330 records in the lake", || async {
        check_lake(&lake).await == (330, 300, 30)
    })
    .await;
    let snapshot = service.registry.snapshots();
    // The API describes the tables from their Delta logs, and shows which plugins wrote them.
    let api = format!("http://{}", service.api_addr.unwrap());
    let tables: serde_json::Value = reqwest::get(format!("{api}/api/tables")).await.unwrap().json_value().await;
    let by_name = |n: &str| tables.as_array().unwrap().iter().find(|t| t["name"] == n).cloned().unwrap();
    assert_eq!(by_name("bronze_trades")["rows"], 330);
    assert_eq!(by_name("silver_trades")["rows"], 300);
    assert_eq!(by_name("silver_trades")["partition_by"], serde_json::json!(["symbol"]));
    assert_eq!(by_name("dead_letters")["layer"], "dead-letter");
    let history: Vec<finlake_api::Commit> = serde_json::from_value(
        reqwest::get(format!("{api}/api/tables/silver_trades/history")).await.unwrap().json_value().await,
    )
    .unwrap();
    let first = &history[0];
    assert_eq!(first.operation.as_deref(), Some("WRITE"));
    assert_eq!(first.pipeline.as_deref(), Some("stock-trades"));
    assert_eq!(first.plugins[1].plugin, "normalize-trade");
    let plugins: Vec<finlake_api::StagePlugin> =
        serde_json::from_value(reqwest::get(format!("{api}/api/plugins")).await.unwrap().json_value().await).unwrap();
    let normalize = &plugins.iter().find(|p| p.stage.plugin == "normalize-trade").unwrap().stage;
    assert!(normalize.calls > 0 && normalize.p99_ms.is_some(), "{normalize:?}");
    assert_eq!(normalize.errors, 0);
    service.shutdown().await;
    assert_eq!(final_check(&lake, 330).await, (300, 30));
    assert_eq!(snapshot[0].records_in, 330);
    assert_eq!(snapshot[0].dead_letters, 30);
    // Restarting over the same lake reads nothing twice.
    let config = Config::load(&dir.path().join("pipelines.toml")).unwrap();
    let service = Service::start(config, brokers).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = service.registry.snapshots();
    service.shutdown().await;
    assert_eq!(again[0].records_in, 0, "a restart must resume after the committed offsets");
    assert_eq!(check_lake(&lake).await, (330, 300, 30));
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_first_commits_of_two_tables_loses_nothing() {
    let topic = unique("cutoff");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 3).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    trades_config(dir.path(), &topic);
    let producer = create_producer(&brokers, &Default::default()).unwrap();
    for i in 0..120 {
        let (key, value) = if i % 12 == 11 { ("AAPL".to_string(), "not json".to_string()) } else { trade(i) };
        producer
            .send(FutureRecord::to(&topic).key(&key).payload(&value), Duration::from_secs(5))
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    // The pipeline's very first window stops after bronze committed: silver, the dead letters
    // and the plugin state hold nothing yet. The restart must not take them for tables added
    // to a running pipeline (which start where bronze is, and would skip the window).
    finlake::pipeline::fault::cut_off_commit_once(&topic);
    let config = Config::load(&dir.path().join("pipelines.toml")).unwrap();
    let service = Service::start(config, brokers).await.unwrap();
    let stats = service.registry.get("stock-trades").unwrap();
    let lake = dir.path().join("lake");
    wait_until(Duration::from_secs(60), "the cut-off reported and all 120 records in the lake", || async {
        stats.snapshot().last_error.is_some_and(|e| e.contains("cut off")) && check_lake(&lake).await == (120, 110, 10)
    })
    .await;
    service.shutdown().await;
    assert_eq!(final_check(&lake, 120).await, (110, 10));
    drop(broker);
}

fn finlake(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_finlake"));
    c.args(args).env("FINLAKE_LOG", "warn,finlake=info");
    c
}

fn read_file_when_ready(path: &Path) -> String {
    for _ in 0..200 {
        if let Ok(s) = std::fs::read_to_string(path)
            && !s.is_empty()
        {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{} never appeared", path.display());
}

/// Prints the logs of the processes a test started, if the test fails.
struct DumpLogsOnPanic(std::path::PathBuf);
impl Drop for DumpLogsOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for entry in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
                if entry.path().extension().is_some_and(|e| e == "log") {
                    let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(40).collect();
                    eprintln!("--- {} (last lines)", entry.path().display());
                    for l in tail.iter().rev() {
                        eprintln!("{l}");
                    }
                }
            }
        }
    }
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_run(dir: &Path, brokers: &str, n: usize) -> KillOnDrop {
    let log = std::fs::File::create(dir.join(format!("run{n}.log"))).unwrap();
    KillOnDrop(
        finlake(&["run", "--config", dir.join("pipelines.toml").to_str().unwrap(), "--brokers", brokers])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_and_restart_keeps_exactly_once() {
    let topic = unique("crash");
    let dir = tempfile::tempdir().unwrap();
    let _logs = DumpLogsOnPanic(dir.path().to_path_buf());
    let addr_file = dir.path().join("broker.addr");
    let _broker = KillOnDrop(
        finlake(&["broker", "--topics", &topic, "--partitions", "3", "--address-file", addr_file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("broker.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let brokers = read_file_when_ready(&addr_file);
    trades_config(dir.path(), &topic);
    let lake = dir.path().join("lake");

    // Produce continuously in the background while the pipeline is killed and restarted.
    let total = 6000u64;
    let options = ProduceOptions {
        kind: Kind::Trades,
        topic: topic.clone(),
        rate: 400.0,
        count: Some(total),
        malformed_ratio: 0.05,
        seed: 7,
        clock_speed: 1.0,
    };
    let producing = produce_in_background(&brokers, options);

    let mut run = start_run(dir.path(), &brokers, 0);
    for round in 1..=2 {
        // Kill hard only once some commits have landed, so the restart must skip them.
        let seen = kafka_coordinates(&lake.join("bronze/trades")).await.len();
        wait_until(Duration::from_secs(60), "more commits before the kill", || async {
            let (b, _, _) = check_lake(&lake).await;
            b > seen + 300
        })
        .await;
        run.0.kill().unwrap();
        run.0.wait().unwrap();
        run = start_run(dir.path(), &brokers, round);
    }
    let produced = producing.await.unwrap().unwrap();
    assert_eq!(produced, total);
    wait_until(Duration::from_secs(90), "every produced record in bronze", || async {
        check_lake(&lake).await.0 == total as usize
    })
    .await;
    // Graceful stop: SIGTERM flushes and commits, then exits 0.
    let status = Command::new("kill").args(["-TERM", &run.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = run.0.wait().unwrap();
    assert!(exit.success(), "finlake run exited with {exit}");
    let (silver, dead) = final_check(&lake, total as usize).await;
    assert!(silver > 5000 && dead > 100, "silver {silver}, dead {dead}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_produced_with_kcat_land_in_the_tables() {
    let topic = unique("kcat");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 3).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    trades_config(dir.path(), &topic);
    let config = Config::load(&dir.path().join("pipelines.toml")).unwrap();
    let service = Service::start(config, brokers.clone()).await.unwrap();

    let mut input = String::new();
    for i in 0..50 {
        let (k, v) = trade(i);
        input.push_str(&format!("{k}|{v}\n"));
    }
    let mut kcat = Command::new("kcat")
        .args(["-P", "-b", &brokers, "-t", &topic, "-K", "|"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("kcat must be installed (apt-get install kcat; the test command does)");
    use std::io::Write;
    kcat.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    assert!(kcat.wait().unwrap().success());

    let lake = dir.path().join("lake");
    wait_until(Duration::from_secs(60), "kcat's 50 records in silver", || async {
        check_lake(&lake).await == (50, 50, 0)
    })
    .await;
    service.shutdown().await;
    drop(broker);
}

#[test]
fn validate_prints_located_problems_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let bad =
        include_str!("../../pipelines.toml").replace("partition_by = [\"symbol\"]", "partition_by = [\"ticker\"]");
    let file = dir.path().join("pipelines.toml");
    std::fs::write(&file, &bad).unwrap();
    let out = finlake(&["validate", file.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = bad.lines().position(|l| l.contains("\"ticker\"")).unwrap() + 1;
    assert!(stderr.contains(&format!("pipelines.toml:{line}:")), "{stderr}");
    assert!(stderr.contains("partition column \"ticker\" is not a column"), "{stderr}");

    // A gold select that does not plan is located at its item.
    let bad = include_str!("../../pipelines.toml").replace("\"max(price) AS high\"", "\"max(prise) AS high\"");
    std::fs::write(&file, &bad).unwrap();
    let out = finlake(&["validate", file.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = bad.lines().position(|l| l.contains("max(prise)")).unwrap() + 1;
    assert!(stderr.contains(&format!("pipelines.toml:{line}:")), "{stderr}");
    assert!(stderr.contains("prise"), "{stderr}");

    let good = dir.path().join("good.toml");
    std::fs::write(&good, include_str!("../../pipelines.toml")).unwrap();
    let out = finlake(&["validate", good.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_creditcard_layout_csv_replays_into_kafka() {
    let topic = unique("cc");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 3).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("cc.csv");
    let out = finlake(&["sample-csv", "--rows", "500", "--out", csv.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = finlake(&["replay-csv", csv.to_str().unwrap(), "-b", &brokers, "-t", &topic]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("replayed 500 rows"));
    let consumed =
        Command::new("kcat").args(["-C", "-b", &brokers, "-t", &topic, "-e", "-q", "-f", "%s\n"]).output().unwrap();
    let rows: Vec<serde_json::Value> =
        String::from_utf8_lossy(&consumed.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 500);
    assert!(rows.iter().all(|r| r["v"].as_array().is_some_and(|v| v.len() == 28) && r["class"].is_u64()));
    // A file of another layout is refused with the line and the reason.
    std::fs::write(&csv, "Time,V1\n1,2\n").unwrap();
    let out = finlake(&["replay-csv", csv.to_str().unwrap(), "-b", &brokers, "-t", &topic]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 1: header"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coingecko_fetch_produces_crypto_records_from_a_replayed_api() {
    use std::sync::atomic::{AtomicI64, Ordering};
    // A local stand-in for api.coingecko.com: the real body shape, a new timestamp per call, and
    // a 503 on every third call (the fetcher must log it, back off and go on).
    static CALLS: AtomicI64 = AtomicI64::new(0);
    async fn price() -> (axum::http::StatusCode, String) {
        let n = CALLS.fetch_add(1, Ordering::SeqCst);
        if n % 3 == 2 {
            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "try later".into());
        }
        let coins = ["bitcoin", "ethereum", "binancecoin", "cardano", "solana"];
        let body: Vec<String> = coins
            .iter()
            .map(|c| {
                format!(
                    r#""{c}":{{"usd":{}.5,"usd_24h_vol":1000000.0,"last_updated_at":{}}}"#,
                    100 + n,
                    1_764_218_700 + n
                )
            })
            .collect();
        (axum::http::StatusCode::OK, format!("{{{}}}", body.join(",")))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().route("/api/v3/simple/price", axum::routing::get(price))).await
    });

    let topic = unique("gecko");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 3).unwrap();
    let brokers = broker.bootstrap_servers();
    let mut fetch = KillOnDrop(
        finlake(&["fetch", "coingecko", "-b", &brokers, "-t", &topic, "--interval", "1", "--base-url", &base])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let status = Command::new("kill").args(["-TERM", &fetch.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(fetch.0.wait().unwrap().success());
    let consumed =
        Command::new("kcat").args(["-C", "-b", &brokers, "-t", &topic, "-e", "-q", "-f", "%k %s\n"]).output().unwrap();
    let lines: Vec<String> = String::from_utf8_lossy(&consumed.stdout).lines().map(String::from).collect();
    assert!(lines.len() >= 10, "two good polls at least: {lines:?}");
    assert_eq!(lines.len() % 5, 0, "whole polls only: {lines:?}");
    for line in &lines {
        let (key, json) = line.split_once(' ').unwrap();
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["symbol"], key);
        assert!(v["price"].as_f64().unwrap() > 100.0);
        assert_eq!(v["source"], "coingecko");
    }
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silver_keeps_one_row_per_trade_id_across_replays_and_restarts() {
    let topic = unique("dups");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 3).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    trades_config(dir.path(), &topic);
    let producer = create_producer(&brokers, &Default::default()).unwrap();
    let send_all = |producer: rdkafka::producer::FutureProducer, topic: String| async move {
        for i in 0..20 {
            let (key, value) = trade(i);
            producer.send(FutureRecord::to(&topic).key(&key).payload(&value), Duration::from_secs(5)).await.unwrap();
        }
    };
    // The same 20 trades twice (an upstream retry), then once more after a restart (a replay).
    send_all(producer.clone(), topic.clone()).await;
    send_all(producer.clone(), topic.clone()).await;
    let lake = dir.path().join("lake");
    let service =
        Service::start(Config::load(&dir.path().join("pipelines.toml")).unwrap(), brokers.clone()).await.unwrap();
    wait_until(Duration::from_secs(60), "40 records in bronze", || async { check_lake(&lake).await.0 == 40 }).await;
    let stats = service.registry.snapshots().remove(0);
    service.shutdown().await;
    assert_eq!(check_lake(&lake).await, (40, 20, 0));
    assert_eq!(stats.duplicates, 20);
    send_all(producer, topic.clone()).await;
    let service = Service::start(Config::load(&dir.path().join("pipelines.toml")).unwrap(), brokers).await.unwrap();
    wait_until(Duration::from_secs(60), "60 records in bronze", || async { check_lake(&lake).await.0 == 60 }).await;
    let stats = service.registry.snapshots().remove(0);
    service.shutdown().await;
    assert_eq!(check_lake(&lake).await, (60, 20, 0), "the trade ids loaded from Delta at start catch the replay");
    assert_eq!(stats.duplicates, 20);
    drop(broker);
}
