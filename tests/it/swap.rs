//! Changing a running FinLake: plugin hot swaps under load, refused versions, rollback, pausing
//! on a broken plugin and resuming, live config edits. Every check ends with exact counts in
//! Delta: nothing lost, nothing doubled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::datatypes::DataType;
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use finlake::config::Config;
use finlake::kafka::embedded::EmbeddedBroker;
use finlake::kafka::producer::ProduceOptions;
use finlake::service::Service;
use finlake::simulate::Kind;

use crate::common::*;

/// A plugins directory of its own (the tests change files in it), holding `chaos.wasm` built as
/// `variant` ("" for the default build).
fn plugins_dir(dir: &Path, variant: &str) -> PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(chaos_build(variant), plugins.join("chaos.wasm")).unwrap();
    plugins
}

fn chaos_build(variant: &str) -> PathBuf {
    let name = if variant.is_empty() { "chaos.wasm".to_string() } else { format!("chaos-{variant}.wasm") };
    let path = plugin_dir().join(name);
    assert!(path.exists(), "{} is missing: ./xtask/build-plugins.sh builds it", path.display());
    path
}

async fn api(service: &Service) -> String {
    format!("http://{}", service.api_addr.unwrap())
}

async fn json(res: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&res.bytes().await.unwrap()).unwrap_or_default()
}

async fn put_plugin(api: &str, variant: &str) -> (reqwest::StatusCode, serde_json::Value) {
    let bytes = std::fs::read(chaos_build(variant)).unwrap();
    let res = reqwest::Client::new().put(format!("{api}/api/plugins/chaos")).body(bytes).send().await.unwrap();
    (res.status(), json(res).await)
}

async fn live_version(api: &str) -> String {
    let plugins: Vec<finlake_api::StagePlugin> =
        serde_json::from_value(json(reqwest::get(format!("{api}/api/plugins")).await.unwrap()).await)
            .unwrap_or_default();
    plugins.first().map(|p| p.stage.version.clone()).unwrap_or_default()
}

/// Per commit of a table (in order): the plugin version its commit info names, and the
/// `version` column of every row it added. Read from the Delta log and Parquet files directly.
fn commits_with_versions(table: &Path) -> Vec<(u64, String, Vec<Option<String>>)> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(table.join("_delta_log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    logs.sort();
    let mut out = Vec::new();
    for log in logs {
        let version: u64 = log.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let (mut plugin_version, mut rows) = (String::new(), Vec::new());
        for line in std::fs::read_to_string(&log).unwrap().lines() {
            let action: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(info) = action.get("commitInfo") {
                plugin_version = info["finlake.plugins"][0]["version"].as_str().unwrap_or_default().to_string();
            }
            if let Some(add) = action.get("add") {
                let path = table.join(add["path"].as_str().unwrap());
                let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
                for batch in reader.build().unwrap() {
                    let batch = batch.unwrap();
                    let column =
                        deltalake::arrow::compute::cast(batch.column_by_name("version").unwrap(), &DataType::Utf8)
                            .unwrap();
                    let column = column.as_string::<i32>();
                    rows.extend((0..column.len()).map(|i| (!column.is_null(i)).then(|| column.value(i).to_string())));
                }
            }
        }
        out.push((version, plugin_version, rows));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_swaps_under_load_lose_nothing_and_each_row_carries_the_version_live_at_its_batch() {
    let topic = unique("swap");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 3).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugins_dir(dir.path(), "");
    chaos_config(dir.path(), &plugins, &topic, "{ tag = \"t\", with_version = true }");
    let config = Config::load(&dir.path().join("pipelines.toml")).unwrap();
    let service = Service::start(config, brokers.clone()).await.unwrap();
    let api = api(&service).await;
    let table = dir.path().join("lake/tagged");

    // Continuous load: 3000 trades over ~6 s, while the plugin changes four times.
    const N: u64 = 3000;
    let options = ProduceOptions {
        kind: Kind::Trades,
        topic: topic.clone(),
        rate: 300.0,
        count: Some(2400),
        malformed_ratio: 0.0,
        seed: 7,
        clock_speed: 1.0,
    };
    let producing = produce_in_background(&brokers, options.clone());
    let rows_of = |version: &'static str| {
        let table = dir.path().join("lake/tagged");
        move || {
            let table = table.clone();
            async move { commits_with_versions(&table).iter().any(|(_, v, rows)| v == version && !rows.is_empty()) }
        }
    };
    wait_until(Duration::from_secs(60), "rows from version 0.1.0", || async {
        !kafka_coordinates(&table).await.is_empty()
    })
    .await;

    // 1. Upload v2: swapped at a batch boundary, after a commit.
    let (status, report) = put_plugin(&api, "2.0.0").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["version"].as_str(), report["changed"].as_bool()), (Some("2.0.0"), Some(true)), "{report}");
    let swap = &report["swaps"][0];
    assert_eq!((swap["previous_version"].as_str(), swap["version"].as_str()), (Some("0.1.0"), Some("2.0.0")));
    assert!(report["sample_records"].as_u64().unwrap() > 0, "tried on live input first: {report}");
    let pause_ms = swap["pause_ms"].as_f64().unwrap();
    println!(
        "swap 0.1.0 -> 2.0.0 paused the pipeline {pause_ms:.2} ms (commit of {} rows included): {report}",
        swap["flushed_rows"]
    );
    wait_until(Duration::from_secs(30), "rows from 2.0.0", rows_of("2.0.0")).await;

    // 2. A release that traps on every record is refused on the sample; v2 keeps running.
    let (status, refused) = put_plugin(&api, "broken").await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("trapped"), "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("sample"), "{refused}");
    let listed: Vec<finlake_api::StagePlugin> =
        serde_json::from_value(json(reqwest::get(format!("{api}/api/plugins")).await.unwrap()).await).unwrap();
    assert_eq!(listed[0].stage.version, "2.0.0");
    assert!(listed[0].last_refusal.as_ref().unwrap().error.contains("trapped"), "{listed:?}");
    // Uploading the live version again changes nothing.
    let (status, same) = put_plugin(&api, "2.0.0").await;
    assert_eq!((status.as_u16(), same["changed"].as_bool()), (200, Some(false)), "{same}");

    // 3. A new file in the watched plugins directory: v3 goes live without any call.
    std::fs::copy(chaos_build("3.0.0"), plugins.join("chaos.wasm")).unwrap();
    wait_until(Duration::from_secs(30), "v3 live from the watched file", || async {
        live_version(&api).await == "3.0.0"
    })
    .await;
    wait_until(Duration::from_secs(30), "rows from 3.0.0", rows_of("3.0.0")).await;

    // 4. Roll back: the previous version (v2) is live again, and the file follows.
    let res = reqwest::Client::new().post(format!("{api}/api/plugins/chaos/rollback")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let back: serde_json::Value = json(res).await;
    assert_eq!((back["version"].as_str(), back["source"].as_str()), (Some("2.0.0"), Some("rollback")), "{back}");
    assert_eq!(std::fs::read(plugins.join("chaos.wasm")).unwrap(), std::fs::read(chaos_build("2.0.0")).unwrap());

    assert_eq!(producing.await.unwrap().unwrap(), 2400);
    let more = ProduceOptions { count: Some(N - 2400), rate: 1000.0, seed: 8, ..options };
    assert_eq!(produce_in_background(&brokers, more).await.unwrap().unwrap(), N - 2400);
    wait_until(Duration::from_secs(90), "every record in the table", || async {
        kafka_coordinates(&table).await.len() as u64 == N
    })
    .await;
    service.shutdown().await;

    // Exactly once, and no dead letters: every record went through some version.
    let rows = kafka_coordinates(&table).await;
    assert_exactly_once("tagged", &rows);
    assert_eq!(rows.len() as u64, N);
    assert!(dead_letter_coordinates(&dir.path().join("lake/dead_letters")).await.is_empty());
    // Every row carries the version its commit info names: no commit mixes versions, so the
    // log shows exactly when the logic changed. The versions went live in the order above.
    let mut order: Vec<String> = Vec::new();
    let mut per_version: BTreeMap<String, usize> = BTreeMap::new();
    for (version, named, rows) in commits_with_versions(&table) {
        for row in &rows {
            assert_eq!(row.as_deref(), Some(named.as_str()), "commit {version} names {named} but has a row of {row:?}");
        }
        if !rows.is_empty() {
            *per_version.entry(named.clone()).or_default() += rows.len();
            if order.last() != Some(&named) {
                order.push(named);
            }
        }
    }
    println!("rows per version: {per_version:?}; order: {order:?}");
    assert_eq!(order, ["0.1.0", "2.0.0", "3.0.0", "2.0.0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_plugin_pauses_the_pipeline_and_a_fix_plus_resume_loses_nothing() {
    let topic = unique("pause");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 1).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    // The broken release is what the file holds at start (nothing to try it on beforehand).
    let plugins = plugins_dir(dir.path(), "broken");
    chaos_config(dir.path(), &plugins, &topic, "{ tag = \"t\", with_version = true }");
    let good: Vec<String> = (0..30).map(|i| format!("ok-{i}")).collect();
    produce_values(&brokers, &topic, &good).await;
    let config = Config::load(&dir.path().join("pipelines.toml")).unwrap();
    let service = Service::start(config, brokers.clone()).await.unwrap();
    let api = api(&service).await;

    // Every record of the first batch traps: retried, then paused with the batch held — not
    // 30 dead letters.
    wait_until(Duration::from_secs(60), "the pipeline paused", || async {
        service.registry.snapshots()[0].state == finlake_api::PipelineState::Paused
    })
    .await;
    let pipelines: serde_json::Value = json(reqwest::get(format!("{api}/api/pipelines")).await.unwrap()).await;
    assert_eq!(pipelines[0]["state"], "paused");
    assert!(pipelines[0]["detail"].as_str().unwrap().contains("resume"), "{pipelines}");
    assert_eq!(pipelines[0]["dead_letters"], 0);
    assert!(
        !dir.path().join("lake/tagged/_delta_log").exists()
            || kafka_coordinates(&dir.path().join("lake/tagged")).await.is_empty()
    );

    // Ship the fix while paused (swapped at once), then resume: the held batch goes through.
    let (status, report) = put_plugin(&api, "2.0.0").await;
    assert_eq!(status, 200, "{report}");
    let res = reqwest::Client::new().post(format!("{api}/api/pipelines/p/resume")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // A poison record among good ones afterwards is isolated: one dead letter, the rest pass.
    let mut more: Vec<String> = (30..50).map(|i| format!("ok-{i}")).collect();
    more[7] = "TRAP-poison".into();
    produce_values(&brokers, &topic, &more).await;
    let table = dir.path().join("lake/tagged");
    let dead = dir.path().join("lake/dead_letters");
    wait_until(Duration::from_secs(60), "49 rows and 1 dead letter", || async {
        kafka_coordinates(&table).await.len() == 49 && dead_letter_coordinates(&dead).await.len() == 1
    })
    .await;
    // Resuming a running pipeline is refused with the reason.
    let res = reqwest::Client::new().post(format!("{api}/api/pipelines/p/resume")).send().await.unwrap();
    assert_eq!(res.status(), 409);
    service.shutdown().await;
    let rows = kafka_coordinates(&table).await;
    assert_exactly_once("tagged", &rows);
    assert_eq!(rows.len(), 49);
    assert_eq!(dead_letter_coordinates(&dead).await.keys().next(), Some(&(0, 37)));
    for (_, _, versions) in commits_with_versions(&table) {
        assert!(versions.iter().all(|v| v.as_deref() == Some("2.0.0")), "{versions:?}");
    }
}
