//! Shadow runs on the shipped stock-trades pipeline: candidates of normalize-trade run beside the
//! live version over the trades bronze kept, and the report names exactly what they change.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use finlake::config::Config;
use finlake::kafka::embedded::EmbeddedBroker;
use finlake::kafka::producer::ProduceOptions;
use finlake::service::Service;
use finlake::simulate::Kind;
use finlake_api::{ShadowReport, StagePlugin};

use crate::common::*;

fn build(name: &str) -> PathBuf {
    let path = plugin_dir().join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: ./xtask/build-plugins.sh builds it", path.display());
    path
}

async fn shadow(api: &str, candidate: &Path, query: &str) -> (reqwest::StatusCode, String) {
    let res = reqwest::Client::new()
        .post(format!("{api}/api/plugins/normalize-trade/shadow?{query}"))
        .body(std::fs::read(candidate).unwrap())
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

/// Trade ids per symbol of the bronze rows (the input every shadow run reads).
async fn trades_by_symbol(lake: &Path, symbol: &str) -> BTreeSet<String> {
    let table = finlake::delta::open(lake, "bronze/trades").await.unwrap().unwrap();
    let batches = finlake::delta::scan(&table, &["value"]).await.unwrap();
    let mut ids = BTreeSet::new();
    for b in batches {
        let col = deltalake::arrow::compute::cast(b.column(0), &deltalake::arrow::datatypes::DataType::Utf8).unwrap();
        let values = deltalake::arrow::array::AsArray::as_string::<i32>(&col);
        for v in values.iter().flatten() {
            let t: serde_json::Value = serde_json::from_str(v).unwrap();
            if t["symbol"] == symbol {
                ids.insert(t["trade_id"].as_str().unwrap().to_string());
            }
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_runs_report_exactly_what_a_candidate_changes_and_gate_a_deploy() {
    let topic = unique("shadow");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 3).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    // A plugins folder of its own: a deploy that went through would change it.
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for name in ["passthrough", "normalize-trade"] {
        std::fs::copy(build(name), plugins.join(format!("{name}.wasm"))).unwrap();
    }
    trades_config(dir.path(), &topic);
    let mut config = Config::load(&dir.path().join("pipelines.toml")).unwrap();
    config.plugins.dir = plugins.clone();
    let service = Service::start(config, brokers.clone()).await.unwrap();
    let api = format!("http://{}", service.api_addr.unwrap());
    const N: u64 = 600;
    let options = ProduceOptions {
        kind: Kind::Trades,
        topic: topic.clone(),
        rate: 2000.0,
        count: Some(N),
        malformed_ratio: 0.0,
        seed: 11,
        clock_speed: 1.0,
    };
    assert_eq!(produce_in_background(&brokers, options).await.unwrap().unwrap(), N);
    let lake = dir.path().join("lake");
    wait_until(Duration::from_secs(60), "every trade in silver", || async {
        kafka_coordinates(&lake.join("silver/trades")).await.len() as u64 == N
    })
    .await;
    let tsla = trades_by_symbol(&lake, "TSLA").await;
    let msft = trades_by_symbol(&lake, "MSFT").await;
    assert!(!tsla.is_empty() && !msft.is_empty(), "the simulator trades every symbol");

    // 1. A version that reports another exchange for TSLA: exactly the TSLA rows of silver
    //    change, in that one field; bronze (written by an upstream stage) is untouched.
    let (status, body) = shadow(&api, &build("normalize-trade-exchange"), "limit=5000").await;
    assert_eq!(status, 200, "{body}");
    let report: ShadowReport = serde_json::from_str(&body).unwrap();
    let p = &report.pipelines[0];
    assert_eq!((p.pipeline.as_str(), p.records, p.source_table.as_str()), ("stock-trades", N, "bronze_trades"));
    assert_eq!((report.candidate.version.as_str(), report.live.version.as_str()), ("0.1.1-exchange", "0.1.0"));
    let silver = p.outputs.iter().find(|o| o.table == "silver_trades").expect("silver compared");
    assert_eq!(silver.matched_by, "unique_key trade_id");
    assert_eq!((silver.live_rows, silver.candidate_rows), (N, N));
    assert_eq!((silver.changed, silver.only_live, silver.only_candidate), (tsla.len() as u64, 0, 0), "{body}");
    assert_eq!(silver.same, N - tsla.len() as u64);
    for e in &silver.examples {
        assert!(tsla.contains(&e.key), "{} is not a TSLA trade", e.key);
        assert_eq!(e.fields, vec!["exchange".to_string()]);
        assert_eq!(e.candidate.as_ref().unwrap()["exchange"], "SHADOW");
    }
    let bronze = p.outputs.iter().find(|o| o.table == "bronze_trades").expect("bronze compared");
    assert_eq!((bronze.same, bronze.changed, bronze.only_live, bronze.only_candidate), (N, 0, 0, 0));
    assert_eq!((report.differences, report.new_traps, report.new_rejections), (tsla.len() as u64, 0, 0));
    assert!(p.live_ns_per_record > 0.0 && p.candidate_ns_per_record > 0.0);
    println!(
        "shadow: {} TSLA rows of {N} changed; live {:.0} ns/record, candidate {:.0} ns/record",
        silver.changed, p.live_ns_per_record, p.candidate_ns_per_record
    );

    // 2. An identical build reports no difference.
    let (status, body) = shadow(&api, &build("normalize-trade"), "limit=5000").await;
    assert_eq!(status, 200, "{body}");
    let same: ShadowReport = serde_json::from_str(&body).unwrap();
    assert_eq!((same.differences, same.new_traps, same.new_rejections), (0, 0, 0), "{body}");
    assert!(same.pipelines[0].outputs.iter().all(|o| o.same == N));

    // 3. A range: nothing after the table's latest version; the newest K otherwise.
    let (status, body) = shadow(&api, &build("normalize-trade"), &format!("from_version={}", p.source_version)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<ShadowReport>(&body).unwrap().pipelines[0].records, 0);
    let (status, body) = shadow(&api, &build("normalize-trade-exchange"), "limit=100").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<ShadowReport>(&body).unwrap().pipelines[0].records, 100);
    let (status, body) = shadow(&api, &build("normalize-trade"), "since=yesterday").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("since"), "{body}");

    // 4. deploy --shadow of a version that traps on MSFT: refused with the records that trapped;
    //    the live version and its file stay.
    let before = std::fs::read(plugins.join("normalize-trade.wasm")).unwrap();
    let res = reqwest::Client::new()
        .put(format!("{api}/api/plugins/normalize-trade?shadow=true&limit=5000"))
        .body(std::fs::read(build("normalize-trade-trap")).unwrap())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(&format!("failed on {} record(s)", msft.len())), "{body}");
    assert!(body.contains("partition") && body.contains("offset") && body.contains("trap"), "{body}");
    assert_eq!(std::fs::read(plugins.join("normalize-trade.wasm")).unwrap(), before, "the live file changed");
    let listed = reqwest::get(format!("{api}/api/plugins")).await.unwrap().bytes().await.unwrap();
    let listed: Vec<StagePlugin> = serde_json::from_slice(&listed).unwrap();
    let stage = listed.iter().find(|s| s.stage.plugin == "normalize-trade").unwrap();
    assert_eq!(stage.stage.version, "0.1.0");
    assert!(stage.last_refusal.as_ref().is_some_and(|r| r.error.contains("shadow run")));
    let last = stage.last_shadow.as_ref().expect("the last shadow report is listed");
    assert_eq!((last.candidate.version.as_str(), last.new_traps), ("0.1.1-trap", msft.len() as u64));
    // A version within --max-diff goes live.
    let res = reqwest::Client::new()
        .put(format!("{api}/api/plugins/normalize-trade?shadow=true&limit=5000&max_diff={}", tsla.len()))
        .body(std::fs::read(build("normalize-trade-exchange")).unwrap())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("0.1.1-exchange"), "{body}");
    service.shutdown().await;
}

/// Bank transactions of one account, a minute apart and ending now, as the simulator sends them.
fn account_txns(range: std::ops::Range<usize>, now_ms: i64) -> Vec<String> {
    range
        .map(|i| {
            let ts = now_ms - (100 - i as i64) * 60_000;
            format!(
                r#"{{"txn_id":"S{i:04}","account":"ACC7","amount":{},"currency":"USD","merchant_category":"grocery","city":"New York","country":"US","lat":40.71,"lon":-74.01,"ts":{ts},"is_fraud":false,"fraud_pattern":null}}"#,
                20 + i % 7
            )
        })
        .collect()
}

/// txn_id → history_len of the scored table, as the lake holds it.
async fn stored_history(config: &Config) -> std::collections::BTreeMap<String, i64> {
    use deltalake::arrow::array::AsArray;
    use deltalake::arrow::datatypes::{DataType, Int64Type};
    let table = config.table("transactions_scored").unwrap().relative_path();
    let Some(table) = finlake::delta::open(&config.lake.root, &table).await.unwrap() else {
        return Default::default();
    };
    let mut out = std::collections::BTreeMap::new();
    for b in finlake::delta::scan(&table, &["txn_id", "history_len"]).await.unwrap() {
        let ids = deltalake::arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
        let hist = deltalake::arrow::compute::cast(b.column(1), &DataType::Int64).unwrap();
        for i in 0..b.num_rows() {
            out.insert(ids.as_string::<i32>().value(i).to_string(), hist.as_primitive::<Int64Type>().value(i));
        }
    }
    out
}

/// A stateful stage is shadowed from the snapshot taken before the range: both versions score
/// the range with the history the live pipeline had, so the live rerun reproduces the lake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateful_stage_is_shadowed_from_the_snapshot_before_the_range() {
    let topic = unique("shadow-bank");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 1).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for name in ["passthrough", "txn-screen", "fraud-score"] {
        std::fs::copy(build(name), plugins.join(format!("{name}.wasm"))).unwrap();
    }
    shipped_config(dir.path(), "bank-transactions", &topic);
    let mut config = Config::load(&dir.path().join("pipelines.toml")).unwrap();
    config.plugins.dir = plugins.clone();
    config.pipelines[0].flush.max_latency_ms = 300;
    let service = Service::start(config.clone(), brokers.clone()).await.unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis();

    // 30 transactions of one account; then a swap, which snapshots the account's history
    // (30 transactions) with the commit.
    produce_values(&brokers, &topic, &account_txns(0..30, now_ms)).await;
    wait_until(Duration::from_secs(90), "30 scored", || async { stored_history(&config).await.len() == 30 }).await;
    let bytes = std::fs::read(build("fraud-score-0.2.0")).unwrap();
    let report = service.control.deploy("fraud-score", bytes, finlake::control::Source::Upload).await.unwrap();
    assert_eq!(report.swaps[0].version, "0.2.0");
    produce_values(&brokers, &topic, &account_txns(30..40, now_ms)).await;
    wait_until(Duration::from_secs(90), "40 scored", || async { stored_history(&config).await.len() == 40 }).await;
    let stored = stored_history(&config).await;
    assert_eq!(stored["S0035"], 35, "the live pipeline scored with the whole history");

    // The newest 10 records: a candidate that adds a reason changes every scored row, and each
    // example shows both versions scoring with the history the snapshot held.
    let res = reqwest::Client::new()
        .post(format!("http://{}/api/plugins/fraud-score/shadow?limit=10", service.api_addr.unwrap()))
        .body(std::fs::read(build("fraud-score-tagged")).unwrap())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let report: ShadowReport = serde_json::from_str(&body).unwrap();
    let p = &report.pipelines[0];
    assert_eq!(p.records, 10);
    // Every stateful stage on the way says where its state came from; the scorer's must be the
    // snapshot the swap to 0.2.0 took, not an empty start.
    let scorer: Vec<_> = p.state.iter().filter(|n| n.starts_with("fraud-score:")).collect();
    assert_eq!(scorer.len(), 1, "{:?}", p.state);
    assert!(scorer[0].starts_with("fraud-score: snapshot of 0.1.0 taken at"), "{:?}", p.state);
    let scored = p.outputs.iter().find(|o| o.table == "transactions_scored").expect("scored compared");
    assert_eq!((scored.changed, scored.same, scored.only_live, scored.only_candidate), (10, 0, 0, 0), "{body}");
    assert!(!scored.examples.is_empty());
    for e in &scored.examples {
        let (live, cand) = (e.live.as_ref().unwrap(), e.candidate.as_ref().unwrap());
        assert_eq!(e.fields, vec!["reasons".to_string()], "{e:?}");
        assert_eq!(live["history_len"].as_i64(), Some(stored[&e.key]), "live rerun of {} differs from the lake", e.key);
        assert_eq!(cand["history_len"], live["history_len"]);
        assert!(stored[&e.key] >= 30, "{} scored without the snapshot's history", e.key);
    }
    println!("shadow of a stateful stage: {:?}; {} rows changed in reasons only", p.state, scored.changed);
    service.shutdown().await;
}
