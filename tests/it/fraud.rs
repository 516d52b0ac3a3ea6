//! Fraud scoring inside a Wasm plugin with per-account state: the state survives a graceful
//! restart, a hot swap to another plugin version and a crash, and every transaction is scored
//! exactly once with the history it should have had.

use std::path::{Path, PathBuf};
use std::time::Duration;

use deltalake::arrow::array::AsArray;
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::DataType;
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use finlake::config::Config;
use finlake::kafka::embedded::EmbeddedBroker;
use finlake::service::Service;

use crate::common::*;

fn model_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fraud-lr.json")
}

fn config(dir: &Path, plugins: &Path, topic: &str) -> String {
    let text = format!(
        r#"[kafka]
brokers = "set-by-test:9092"
[api]
listen = "127.0.0.1:0"
[plugins]
dir = "{plugins}"
cache_dir = "{cache}"
[lake]
root = "{lake}"
[[tables]]
name = "scored"
unique_key = "txn_id"
columns = [
  {{ name = "txn_id", type = "string", nullable = false }},
  {{ name = "account", type = "string", nullable = false }},
  {{ name = "amount", type = "double", nullable = false }},
  {{ name = "amount_usd", type = "double" }},
  {{ name = "merchant_category", type = "string" }},
  {{ name = "country", type = "string" }},
  {{ name = "score", type = "double", nullable = false }},
  {{ name = "alert", type = "boolean", nullable = false }},
  {{ name = "reasons", type = "string" }},
  {{ name = "model_version", type = "string", nullable = false }},
  {{ name = "history_len", type = "long" }},
  {{ name = "event_time", type = "timestamp", nullable = false }},
]
[[tables]]
name = "alerts"
unique_key = "txn_id"
columns = [
  {{ name = "txn_id", type = "string", nullable = false }},
  {{ name = "account", type = "string", nullable = false }},
  {{ name = "amount", type = "double", nullable = false }},
  {{ name = "amount_usd", type = "double" }},
  {{ name = "merchant_category", type = "string" }},
  {{ name = "country", type = "string" }},
  {{ name = "score", type = "double", nullable = false }},
  {{ name = "alert", type = "boolean", nullable = false }},
  {{ name = "reasons", type = "string" }},
  {{ name = "model_version", type = "string", nullable = false }},
  {{ name = "history_len", type = "long" }},
  {{ name = "event_time", type = "timestamp", nullable = false }},
]
[[pipelines]]
name = "bank"
topic = "{topic}"
dead_letter_table = "dead_letters"
flush = {{ max_latency_ms = 300 }}
[[pipelines.stages]]
plugin = "fraud-score"
config_files = {{ model = "models/fraud-lr.json" }}
outputs = {{ scored = "scored", alerts = "alerts" }}
"#,
        plugins = plugins.display(),
        cache = shared_cache_dir().display(),
        lake = dir.join("lake").display(),
    );
    // config_files are confined to the config's directory: the model goes beside it.
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::copy(model_file(), dir.join("models/fraud-lr.json")).unwrap();
    std::fs::write(dir.join("pipelines.toml"), &text).unwrap();
    text
}

/// Transactions of one account, an hour apart, as txn-screen forwards them for scoring.
fn txns(range: std::ops::Range<usize>) -> Vec<String> {
    range
        .map(|i| {
            format!(
                r#"{{"txn_id":"T{i:04}","account":"ACC1","amount":{},"amount_usd":{},"merchant_category":"grocery","country":"US","lat":40.71,"lon":-74.01,"ts":{}}}"#,
                20 + i % 7,
                20 + i % 7,
                1_764_201_600_000i64 + i as i64 * 3_600_000
            )
        })
        .collect()
}

/// (txn_id, history_len) of every row of the table.
fn rows(table: &Path) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    if !table.join("_delta_log").exists() {
        return out;
    }
    let mut logs: Vec<PathBuf> = std::fs::read_dir(table)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    logs.sort();
    // Only files the Delta log lists (a crash can leave an uncommitted file behind).
    let committed: std::collections::HashSet<String> = std::fs::read_dir(table.join("_delta_log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .flat_map(|p| std::fs::read_to_string(p).unwrap().lines().map(String::from).collect::<Vec<_>>())
        .filter_map(|l| {
            serde_json::from_str::<serde_json::Value>(&l).ok()?.get("add")?.get("path")?.as_str().map(String::from)
        })
        .collect();
    for f in logs.into_iter().filter(|p| committed.contains(p.file_name().unwrap().to_str().unwrap())) {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&f).unwrap()).unwrap().build().unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let id = cast(batch.column_by_name("txn_id").unwrap(), &DataType::Utf8).unwrap();
            let h = cast(batch.column_by_name("history_len").unwrap(), &DataType::Int64).unwrap();
            for i in 0..batch.num_rows() {
                out.push((
                    id.as_string::<i32>().value(i).to_string(),
                    h.as_primitive::<deltalake::arrow::datatypes::Int64Type>().value(i),
                ));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_account_state_survives_restart_swap_and_crash_and_scores_each_txn_once() {
    assert!(model_file().exists(), "models/fraud-lr.json is missing: finlake fraud train writes it");
    let topic = unique("fraud");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 1).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(plugin_dir().join("fraud-score.wasm"), plugins.join("fraud-score.wasm")).unwrap();
    config(dir.path(), &plugins, &topic);
    let file = dir.path().join("pipelines.toml");
    let table = dir.path().join("lake/scored");
    let count = |n: usize| {
        let table = table.clone();
        move || {
            let table = table.clone();
            async move { rows(&table).len() == n }
        }
    };

    // 1. Twenty transactions; then a graceful stop (state committed with the offsets).
    let service = Service::start(Config::load(&file).unwrap(), brokers.clone()).await.unwrap();
    produce_values(&brokers, &topic, &txns(0..20)).await;
    wait_until(Duration::from_secs(60), "20 scored", count(20)).await;
    service.shutdown().await;

    // 2. Restart: the account's history carries on (the 21st transaction has 20 before it).
    let service = Service::start(Config::load(&file).unwrap(), brokers.clone()).await.unwrap();
    produce_values(&brokers, &topic, &txns(20..30)).await;
    wait_until(Duration::from_secs(60), "30 scored", count(30)).await;
    let after_restart: Vec<(String, i64)> = rows(&table).into_iter().filter(|(id, _)| id == "T0020").collect();
    assert_eq!(after_restart, vec![("T0020".to_string(), 20)], "the feature state survived the restart");

    // 3. Swap to another version mid-stream: the new version gets the live state.
    let bytes = std::fs::read(plugin_dir().join("fraud-score-0.2.0.wasm")).unwrap();
    let report = service.control.deploy("fraud-score", bytes, finlake::control::Source::Upload).await.unwrap();
    assert_eq!(report.swaps[0].version, "0.2.0");
    produce_values(&brokers, &topic, &txns(30..40)).await;
    wait_until(Duration::from_secs(60), "40 scored", count(40)).await;

    // 4. A crash (no final commit, no state snapshot), more records, a restart.
    produce_values(&brokers, &topic, &txns(40..50)).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    service.abort().await;
    let service = Service::start(Config::load(&file).unwrap(), brokers.clone()).await.unwrap();
    wait_until(Duration::from_secs(60), "50 scored", count(50)).await;
    service.shutdown().await;

    // Every transaction scored once, each with exactly the history before it.
    let all = rows(&table);
    let expected: Vec<(String, i64)> = (0..50).map(|i| (format!("T{i:04}"), i as i64)).collect();
    assert_eq!(all, expected);
    assert_exactly_once("scored", &kafka_coordinates(&table).await);
}

#[test]
fn the_creditcard_layout_is_scored_by_its_own_model_inside_the_plugin() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/creditcard-lr.json");
    let model =
        std::fs::read_to_string(&model).expect("models/creditcard-lr.json (finlake fraud train --layout creditcard)");
    let cache = tempfile::tempdir().unwrap();
    let rt = finlake::plugin::PluginRuntime::new(cache.path()).unwrap();
    let loaded = rt.load_file(&plugin_dir().join("fraud-score.wasm"), Some("fraud-score")).unwrap();
    let config = format!(r#"{{"layout": "creditcard", "model": {model}}}"#);
    let mut scorer = finlake::plugin::PluginInstance::new(loaded.clone(), config, Default::default()).unwrap();
    // A bank model for this layout is refused with the reason.
    let bank_model = std::fs::read_to_string(model_file()).unwrap();
    let wrong = finlake::plugin::PluginInstance::new(
        loaded,
        format!(r#"{{"layout": "creditcard", "model": {bank_model}}}"#),
        Default::default(),
    );
    assert!(wrong.err().unwrap().to_string().contains("was trained on features"));

    // A fresh sample (another seed than the model's), as `finlake replay-csv` sends it.
    let mut csv = Vec::new();
    finlake::simulate::creditcard::write_sample(&mut csv, 4000, 77).unwrap();
    let mut batch = finlake::plugin::BatchBuilder::new("creditcard", 4000);
    let mut labels = Vec::new();
    for (i, row) in finlake::simulate::creditcard::read_rows(std::io::Cursor::new(csv)).enumerate() {
        let row = row.unwrap();
        labels.push(row.json.contains("\"class\":1"));
        batch.push(Some(row.key.as_bytes()), row.json.as_bytes(), [], 0, i as i64, 0);
    }
    let result = scorer.process(&batch.finish()).unwrap();
    let rows = finlake::plugin::rows_of(&result, labels.len()).unwrap();
    let scored: Vec<(usize, f64)> = rows
        .iter()
        .filter(|r| r.output == "scored")
        .map(|r| (r.input, serde_json::from_slice::<serde_json::Value>(r.json).unwrap()["score"].as_f64().unwrap()))
        .collect();
    assert_eq!(scored.len(), labels.len(), "every row scored once");
    let mean = |fraud: bool| {
        let s: Vec<f64> = scored.iter().filter(|(i, _)| labels[*i] == fraud).map(|(_, s)| *s).collect();
        s.iter().sum::<f64>() / s.len() as f64
    };
    assert!(mean(true) > 0.5 && mean(false) < 0.1, "frauds {:.3} vs the rest {:.3}", mean(true), mean(false));
}
