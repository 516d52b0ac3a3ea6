//! Benchmark 6: the shipped `queries/*.sql` over a lake the shipped pipelines wrote (all
//! three, gold on, maintenance off), with its streaming-sized files, then after compaction.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use finlake::config::Config;
use finlake::delta::maintenance::Steps;
use finlake::query::QueryOptions;
use finlake::simulate::Kind;

use crate::Options;
use crate::load::{self, Broker, Pace};
use crate::report::{Report, section};

/// The shipped config with its topics renamed for this run, the lake in `dir`.
async fn shipped(broker: &Broker, dir: &Path) -> Config {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut config = Config::load(&repo.join("pipelines.toml")).expect("pipelines.toml");
    let mut topics = Vec::new();
    for p in &mut config.pipelines {
        p.topic = broker.topic(&p.topic, 3).await;
        topics.push(p.topic.clone());
    }
    config.kafka.topics = topics;
    config.kafka.brokers = "bench:9092".into();
    config.kafka.properties.extend(broker.properties.clone());
    config.kafka.group_id = format!("finlake-bench-query-{}", std::process::id());
    config.simulator = None;
    config.maintenance.enabled = false;
    // config_files (the fraud model; absolute once loaded) must be relative to the config:
    // copied next to it.
    for stage in config.pipelines.iter_mut().flat_map(|p| &mut p.stages) {
        for path in stage.config_files.values_mut() {
            let relative = Path::new("models").join(path.file_name().expect("a file"));
            std::fs::create_dir_all(dir.join("models")).expect("models dir");
            std::fs::copy(&*path, dir.join(&relative)).expect("config file");
            *path = relative;
        }
    }
    for gold in &mut config.gold {
        gold.poll_ms = gold.poll_ms.min(1000);
    }
    crate::pipeline::placed_in(config, dir)
}

/// Runs every shipped query `runs` times: per query the median time in ms and its row count,
/// or why it could not run (a table with no commit yet: gold windows close in event time).
async fn time_queries(config: &Config, runs: usize) -> Vec<(String, Result<(f64, usize), String>)> {
    let catalog = finlake::lake::catalog(config);
    let options = QueryOptions { timeout: Duration::from_secs(600), memory_mb: 1024, ..QueryOptions::default() };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../queries");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("queries/").flatten().map(|e| e.path()).collect();
    files.sort();
    let mut out = Vec::new();
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "sql")) {
        let sql = std::fs::read_to_string(file).expect("query");
        let name = file.file_stem().unwrap_or_default().to_string_lossy().to_string();
        let mut times = Vec::new();
        let mut result = Ok(0);
        for _ in 0..runs {
            let started = Instant::now();
            match finlake::query::run(&catalog, &config.lake.root, &sql, &options).await {
                Ok(r) => result = Ok(r.batches.iter().map(|b| b.num_rows()).sum()),
                Err(e) => {
                    result = Err(e.to_string());
                    break;
                }
            }
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        out.push((name, result.map(|rows| (times[times.len() / 2], rows))));
    }
    out
}

/// Data files of every table of `config`.
async fn data_files(config: &Config) -> usize {
    let mut n = 0;
    for t in finlake::maintenance::targets(config) {
        if let Ok(Some(table)) = finlake::delta::open(&config.lake.root, &t.path).await {
            n += table.get_file_uris().map(|f| f.count()).unwrap_or(0);
        }
    }
    n
}

async fn silver_rows(config: &Config) -> u64 {
    let catalog = finlake::lake::catalog(config);
    let mut n = 0;
    for table in ["silver_trades", "silver_transactions", "silver_crypto"] {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        // A table without a commit yet counts 0.
        if let Ok(out) = finlake::query::run(&catalog, &config.lake.root, &sql, &QueryOptions::default()).await {
            n += finlake::query::format::json_rows(&out.batches).first().and_then(|r| r["n"].as_u64()).unwrap_or(0);
        }
    }
    n
}

pub async fn run(broker: &Broker, options: &Options, report: &mut Report) {
    section(&format!(
        "6: the shipped queries over >= {} silver rows written by the shipped pipelines, before and after compaction",
        options.query_rows
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = shipped(broker, dir.path()).await;
    let started = Instant::now();
    let service = finlake::service::Service::start(config.clone(), broker.servers.clone()).await.expect("service");
    let kinds = [Kind::Trades, Kind::Crypto, Kind::Bank];
    let mut loads = Vec::new();
    let mut counters = Vec::new();
    for (pipeline, kind) in config.pipelines.iter().zip(kinds) {
        let consumed = Arc::new(AtomicU64::new(0));
        counters.push((pipeline.name.clone(), consumed.clone()));
        loads.push(load::Load::start(broker, &pipeline.topic, kind, Pace::AheadOf { consumed, window: 30_000 }, None));
    }
    let mut last = Instant::now();
    loop {
        let snapshots = service.registry.snapshots();
        let mut total = 0;
        for (name, counter) in &counters {
            let n = snapshots.iter().find(|s| &s.name == name).map_or(0, |s| s.records_in);
            counter.store(n, Ordering::Relaxed);
            total += n;
        }
        if total >= options.query_rows {
            break;
        }
        if last.elapsed() > Duration::from_secs(10) {
            println!("  writing the lake: {total} records in {:.0} s", started.elapsed().as_secs_f64());
            last = Instant::now();
        }
        assert!(started.elapsed() < Duration::from_secs(1800), "the lake build stalled at {total} records");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for l in loads {
        l.stop();
    }
    service.shutdown().await;
    let rows = silver_rows(&config).await;
    let written = started.elapsed().as_secs_f64();
    let files_before = data_files(&config).await;
    report.figure(
        "query",
        "silver rows in the lake",
        rows as f64,
        "rows",
        format!("{files_before} data files, written in {written:.0} s"),
    );

    let before = time_queries(&config, options.query_runs).await;
    let maintenance = finlake::maintenance::Maintenance::default();
    let steps = Steps { optimize: true, retention: false, vacuum: false, checkpoint: true };
    let started = Instant::now();
    for r in maintenance.run_all(&config, steps).await {
        r.expect("optimize");
    }
    let optimized = started.elapsed().as_secs_f64();
    let files_after = data_files(&config).await;
    let after = time_queries(&config, options.query_runs).await;
    report.figure("query", "compaction", optimized, "s", format!("{files_before} -> {files_after} data files"));
    let (mut sum_before, mut sum_after) = (0.0, 0.0);
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        match (b, a) {
            (Ok((b, rows)), Ok((a, rows_after))) => {
                assert_eq!(rows, rows_after, "{name}: compaction changed the answer");
                report.figure("query", name, *b, "ms", format!("{a:.0} ms compacted; {rows} rows"));
                sum_before += b;
                sum_after += a;
            }
            (Err(e), _) | (_, Err(e)) => println!("  {name:<44} not run: {e}"),
        }
    }
    report.figure("query", "all shipped queries", sum_before, "ms", format!("{sum_after:.0} ms compacted"));
    report.ratio(
        "shipped queries: time compacted / as streamed",
        100.0 * sum_after / sum_before,
        " %",
        None,
        format!("{sum_after:.0} / {sum_before:.0} ms over {rows} silver rows, {files_before} -> {files_after} files"),
    );
}
