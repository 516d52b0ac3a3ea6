//! SQL over the lake: every shipped query in queries/, time travel, errors, the API and the CLI,
//! over a lake the shipped pipelines fill from the simulator.

use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use finlake::config::Config;
use finlake::kafka::EmbeddedBroker;
use finlake::query::{self, QueryError, QueryOptions, format::json_rows};
use finlake::service::Service;

use crate::common::*;

/// The whole shipped config (three pipelines, gold tables, simulator) with a fast simulated
/// clock, its lake in `dir`.
fn full_config(dir: &Path) -> Config {
    let shipped = include_str!("../../pipelines.toml");
    let mut config = Config::parse_and_validate(shipped, "pipelines.toml").unwrap();
    config.api.enabled = false;
    config.plugins.dir = plugin_dir();
    config.plugins.cache_dir = shared_cache_dir();
    config.lake.root = dir.join("lake");
    for p in &mut config.pipelines {
        p.flush.max_latency_ms = 500;
        // Files the shipped stages load (the fraud model) are confined to the config's
        // directory: copied beside it.
        for file in p.stages.iter().flat_map(|s| s.config_files.values()) {
            let copy = dir.join(file);
            std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
            std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file), &copy).unwrap();
        }
    }
    for g in &mut config.gold {
        g.poll_ms = 200;
        // The simulated clocks below run far ahead of the wall clock (the bank's a day per
        // second).
        g.future_skew = "36500d".into();
    }
    let sim = config.simulator.as_mut().expect("the shipped config simulates");
    sim.seed = Some(5);
    for s in &mut sim.streams {
        // Two simulated minutes per second; a simulated day per second for the bank stream.
        s.clock_speed = if s.topic == "bank-transactions" { 86_400.0 } else { 120.0 };
    }
    let path = dir.join("pipelines.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    Config::load(&path).unwrap()
}

async fn run(config: &Config, sql: &str, options: &QueryOptions) -> Result<query::QueryOutput, QueryError> {
    query::run(&finlake::lake::catalog(config), &config.lake.root, sql, options).await
}

async fn count(config: &Config, sql: &str, options: &QueryOptions) -> i64 {
    match run(config, sql, options).await {
        Ok(out) => json_rows(&out.batches).first().and_then(|r| r.values().next()?.as_i64()).unwrap_or(0),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_queries_time_travel_and_errors_over_a_simulated_lake() {
    let dir = tempfile::tempdir().unwrap();
    let config = full_config(dir.path());
    let broker = EmbeddedBroker::start(&config.kafka.topics, config.kafka.partitions).unwrap();
    let service = Service::start(config.clone(), broker.bootstrap_servers()).await.unwrap();
    let latest = QueryOptions::default();
    wait_until(Duration::from_secs(150), "rows in every gold table", || async {
        // Version 4 of silver exists: several commits to travel between.
        let mut all = count(&config, "SELECT count(*) FROM \"silver_trades@v4\"", &latest).await > 0;
        for table in [
            "gold_trades_1m",
            "gold_volume_by_asset_class_1m",
            "gold_crypto_1m",
            "gold_account_daily",
            // Fraud scoring runs in the stream: alerts and the hourly rate appear while it runs.
            "fraud_alerts",
            "gold_fraud_rate_1h",
        ] {
            all &= count(&config, &format!("SELECT count(*) FROM {table}"), &latest).await > 0;
        }
        all
    })
    .await;
    service.shutdown().await;
    drop(broker);

    // Every shipped query runs and answers something.
    let mut shipped = 0;
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../queries")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "sql") {
            continue;
        }
        let sql = std::fs::read_to_string(&path).unwrap();
        let out = run(&config, &sql, &latest).await.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(out.rows > 0, "{} returned no rows", path.display());
        shipped += 1;
    }
    assert!(shipped >= 6, "queries/ holds the example queries");

    // Time travel: version 0 creates the table, version 1 places it in the pipeline (P6), version
    // 2 is the first data commit; the latest holds more.
    let empty = QueryOptions { version: Some(1), ..QueryOptions::default() };
    assert_eq!(count(&config, "SELECT count(*) FROM silver_trades", &empty).await, 0);
    let first = QueryOptions { version: Some(2), ..QueryOptions::default() };
    let old = count(&config, "SELECT count(*) FROM silver_trades", &first).await;
    let now = count(&config, "SELECT count(*) FROM silver_trades", &latest).await;
    assert!(old > 0 && now > old, "version 2 has {old} trades, the latest {now}");
    assert_eq!(count(&config, "SELECT count(*) FROM \"silver_trades@v2\"", &latest).await, old);
    let history = finlake::lake::history(
        &config.lake.root,
        finlake::lake::catalog(&config).iter().find(|e| e.name == "silver_trades").unwrap(),
        1000,
    )
    .await
    .unwrap();
    // Between the commits of versions 2 and 3 (flushes are >= 500 ms apart), the table was at
    // version 2.
    let at = |v: u64| history.iter().find(|h| h.version == v).and_then(|h| h.timestamp_ms).unwrap();
    let between = (at(2) + at(3)) / 2;
    let as_of = QueryOptions { as_of: chrono::DateTime::from_timestamp_millis(between), ..QueryOptions::default() };
    assert_eq!(count(&config, "SELECT count(*) FROM silver_trades", &as_of).await, old, "as of between v2 and v3");

    // Errors a person can act on.
    let invalid = |r: Result<query::QueryOutput, QueryError>| match r {
        Err(QueryError::Invalid(m)) => m,
        other => panic!("expected an invalid-query error, got {other:?}"),
    };
    let m = invalid(run(&config, "SELEC * FROM silver_trades", &latest).await);
    assert!(m.contains("SQL") || m.contains("Expected"), "{m}");
    let m = invalid(run(&config, "SELECT * FROM no_such_table", &latest).await);
    assert!(m.contains("unknown table \"no_such_table\"") && m.contains("silver_trades"), "{m}");
    let far = QueryOptions { version: Some(999_999), ..QueryOptions::default() };
    let m = invalid(run(&config, "SELECT count(*) FROM silver_trades", &far).await);
    assert!(m.contains("no version 999999"), "{m}");
    let m = invalid(run(&config, "DROP TABLE silver_trades", &latest).await);
    assert!(!m.is_empty());
    let m = invalid(run(&config, "SELECT nope FROM silver_trades", &latest).await);
    assert!(m.contains("nope"), "{m}");

    // Paging: a page of 7 says there is more; the next page starts where it ended.
    let page = QueryOptions { limit: 7, ..QueryOptions::default() };
    let first = run(&config, "SELECT trade_id FROM silver_trades ORDER BY trade_id", &page).await.unwrap();
    assert_eq!((first.rows, first.has_more), (7, true));
    let second =
        run(&config, "SELECT trade_id FROM silver_trades ORDER BY trade_id", &QueryOptions { offset: 7, ..page })
            .await
            .unwrap();
    assert!(json_rows(&first.batches)[6]["trade_id"].as_str() < json_rows(&second.batches)[0]["trade_id"].as_str());

    // The API: JSON in, JSON rows out; bad requests are 400 with the message.
    let runtime = std::sync::Arc::new(finlake::plugin::PluginRuntime::new(&config.plugins.cache_dir).unwrap());
    let control = finlake::control::ControlPlane::new(config.clone(), String::new(), "unused:9092".into(), runtime);
    let state = finlake::api::AppState::new(control, None, None);
    let post = |body: String| {
        let app = finlake::api::app(state.clone());
        async move {
            let request = Request::post("/api/query").header("content-type", "application/json").body(Body::from(body));
            let response = app.oneshot(request.unwrap()).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
            (status, serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default())
        }
    };
    let (status, body) = post(
        r#"{"sql": "SELECT symbol, sum(volume) AS v FROM gold_trades_1m GROUP BY symbol ORDER BY v DESC", "limit": 2}"#
            .into(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"].as_array().unwrap().len(), 2);
    assert_eq!((body["has_more"].as_bool(), body["next_offset"].as_u64()), (Some(true), Some(2)));
    assert!(body["versions"]["gold_trades_1m"].as_u64().is_some());
    let (status, body) = post(r#"{"sql": "SELECT count(*) AS n FROM silver_trades", "version": 2}"#.into()).await;
    assert_eq!((status, body["rows"][0]["n"].as_i64()), (StatusCode::OK, Some(old)));
    for bad in [
        r#"{"sql": "SELECT FROM WHERE"}"#,
        r#"{"sql": "SELECT * FROM nope"}"#,
        r#"{"sql": 1}"#,
        "not json",
        r#"{"sql": "SELECT count(*) FROM silver_trades", "version": 99999}"#,
        r#"{"sql": "SELECT 1", "as_of": "last tuesday"}"#,
    ] {
        let (status, body) = post(bad.into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} -> {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{bad} -> {body}");
    }

    // The CLI prints the same answer as CSV.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_finlake"))
        .args(["query", "--config"])
        .arg(dir.path().join("pipelines.toml"))
        .args(["--version", "2", "--format", "csv", "SELECT count(*) AS n FROM silver_trades"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("n\n{old}\n"));
}
