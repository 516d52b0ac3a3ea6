//! Benchmarks that print numbers (run: ./xtask/bench.sh).
//!
//! 1. Plugin boundary cost per record at batch 1000 (a plugin that touches each record and
//!    emits nothing), and the per-record cost of the real trades plugins.
//! 2. End-to-end records/s of the shipped stock-trades pipeline: embedded Kafka broker →
//!    passthrough + normalize-trade → bronze + silver Delta tables, all commits included.
//! 3. Gold: one tick of the shipped `gold_trades_1m` over that silver table from scratch
//!    (DataFusion over every file: max event time, then the closed windows).
//! 4. Fraud scoring inside Wasm: per-transaction cost of `fraud-score` (features from the
//!    account's history + the model), and the size and cost of its state snapshot.
//! 5. Hot swap: a pipeline under continuous load gets a new plugin version ten times; prints the
//!    pause each swap causes (commit of the buffered window + exchange) and the whole deploy time.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use finlake::config::Config;
use finlake::kafka::EmbeddedBroker;
use finlake::kafka::producer::{ProduceOptions, create_producer, produce};
use finlake::plugin::{BatchBuilder, BatchExt, Limits, PluginInstance, PluginRuntime};
use finlake::service::Service;
use finlake::simulate::{Generator, Kind, TradeGenerator};

fn plugin_dir() -> PathBuf {
    std::env::var_os("FINLAKE_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist"))
}

fn trades_batch(n: usize) -> finlake::plugin::Batch {
    let mut generator = TradeGenerator::new(1, 0.0);
    let mut b = BatchBuilder::new("stock-trades", n);
    for i in 0..n {
        let (k, v) = generator.next_record(1_764_218_700_000);
        b.push(Some(k.as_bytes()), v.as_bytes(), [], 0, i as i64, 1_764_218_700_000);
    }
    b.finish()
}

/// Median over 7 runs of 200 calls each (the build VM is noisy), in ns per record.
fn per_record_ns(instance: &mut PluginInstance, batch: &finlake::plugin::Batch) -> f64 {
    for _ in 0..20 {
        instance.process(batch).expect("warm-up call");
    }
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..200 {
                std::hint::black_box(instance.process(batch).expect("call"));
            }
            started.elapsed().as_nanos() as f64 / (200 * batch.len()) as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn boundary() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = PluginRuntime::new(cache.path()).expect("runtime");
    let load = |name: &str, config: &str| {
        let loaded = rt
            .load_file(&plugin_dir().join(format!("{name}.wasm")), Some(name))
            .expect("plugin (build with ./xtask/setup.sh)");
        PluginInstance::new(loaded, config.to_string(), Limits::default()).expect("instance")
    };
    let batch1000 = trades_batch(1000);
    let batch1 = trades_batch(1);
    let bytes = batch1000.data.len() / 1000 + 40;
    let mut noop = load("chaos", r#"{"mode":"noop"}"#);
    let call1 = per_record_ns(&mut noop, &batch1);
    let per = per_record_ns(&mut noop, &batch1000);
    println!(
        "plugin boundary, batch 1000 x {bytes} B: {per:.1} ns/record (whole call {:.1} us; a 1-record call {:.2} us)",
        per,
        call1 / 1000.0
    );
    let mut tiny = BatchBuilder::new("t", 1000);
    for i in 0..1000 {
        tiny.push(None, b"x", [], 0, i, 0);
    }
    let tiny = tiny.finish();
    println!("plugin boundary, batch 1000 x 41 B (1-byte values): {:.1} ns/record", per_record_ns(&mut noop, &tiny));
    for (name, config) in [("passthrough", "{}"), ("normalize-trade", "{}")] {
        let mut p = load(name, config);
        println!("plugin {name:<16} batch 1000: {:.0} ns/record", per_record_ns(&mut p, &batch1000));
    }
    fraud_scoring(&rt);
    let started = Instant::now();
    let reloaded = rt.load_file(&plugin_dir().join("normalize-trade.wasm"), None).expect("reload");
    println!(
        "plugin load from compile cache: {:.1} ms (cache hit: {})",
        started.elapsed().as_secs_f64() * 1e3,
        reloaded.cache_hit
    );
}

async fn end_to_end(records: u64) -> (tempfile::TempDir, Config) {
    let topic = "bench-trades".to_string();
    // Six partitions: the embedded broker keeps ~5 MB per partition, and the whole run is
    // produced before the pipeline starts.
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 6).expect("broker");
    let brokers = broker.bootstrap_servers();
    let producer = create_producer(&brokers, &Default::default()).expect("producer");
    let options = ProduceOptions {
        kind: Kind::Trades,
        topic: topic.clone(),
        rate: 1e6,
        count: Some(records),
        malformed_ratio: 0.01,
        seed: 3,
        // Event times spread over simulated minutes, so the gold bench has windows to close.
        clock_speed: 600.0,
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    produce(&producer, &options, rx, |_| {}).await.expect("produce");
    println!("produced {records} trades to the embedded broker in {:.2} s", started.elapsed().as_secs_f64());

    let dir = tempfile::tempdir().expect("tempdir");
    let shipped = Config::parse_and_validate(include_str!("../../pipelines.toml"), "pipelines.toml").expect("valid");
    let mut config = shipped.only_pipeline("stock-trades").expect("the trades pipeline");
    config.kafka.brokers = "bench:9092".into();
    config.kafka.topics = vec![topic.clone()];
    config.pipelines[0].topic = topic.clone();
    config.api.listen = "127.0.0.1:0".into();
    config.plugins.dir = plugin_dir();
    config.plugins.cache_dir = dir.path().join("cache");
    config.lake.root = dir.path().join("lake");
    // Kafka -> plugins -> Delta only; gold windows are measured by their own bench below.
    config.gold.clear();
    let file = dir.path().join("pipelines.toml");
    std::fs::write(&file, toml::to_string(&config).expect("serializes")).expect("config");
    let config = Config::load(&file).expect("valid config");
    let started = Instant::now();
    let service = Service::start(config.clone(), brokers).await.expect("service");
    // Startup (plugin compilation, consumer-group join: ~3 s on the embedded broker) is reported
    // apart from steady-state throughput, which runs from the first consumed record.
    let mut first: Option<Instant> = None;
    loop {
        let s = &service.registry.snapshots()[0];
        if s.records_in > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if s.records_in >= records {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "pipeline stalled at {} records", s.records_in);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let snapshot = service.registry.snapshots().remove(0);
    service.shutdown().await; // the final flush + commits are included in the time
    let total = started.elapsed().as_secs_f64();
    let first = first.unwrap_or(started);
    let steady = first.elapsed().as_secs_f64();
    println!(
        "end to end (Kafka -> passthrough + normalize-trade -> bronze + silver + dead letters in Delta, commits included): \
         {records} records in {steady:.2} s after the first record = {:.0} records/s; startup {:.2} s (rows out {}, dead letters {})",
        records as f64 / steady,
        total - steady,
        snapshot.rows_out,
        snapshot.dead_letters
    );
    drop(broker);
    (dir, config)
}

async fn gold_tick(config: Config) {
    let shipped = Config::parse_and_validate(include_str!("../../pipelines.toml"), "pipelines.toml").expect("valid");
    let mut g = shipped.gold.iter().find(|g| g.name == "gold_trades_1m").expect("gold_trades_1m").clone();
    g.poll_ms = 100;
    let job = finlake::gold::GoldJob::new(&config, &g).expect("job");
    let silver = finlake::delta::open(&config.lake.root, &job.source_path).await.expect("open").expect("silver");
    let (version, files) = (silver.version().unwrap_or(0), silver.get_file_uris().expect("files").count());
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let running =
        tokio::spawn(async move { finlake::gold::run(&job, stop, &finlake::pipeline::Registry::default()).await });
    let sql = "SELECT count(*) AS windows, CAST(sum(trades) AS BIGINT) AS trades FROM gold_trades_1m";
    let options = finlake::query::QueryOptions::default();
    let mut with_gold = config.clone();
    with_gold.gold.push(g.clone());
    let catalog = finlake::lake::catalog(&with_gold);
    let root = config.lake.root.clone();
    let history = || async {
        let gold = finlake::delta::open(&root, "gold/gold_trades_1m").await.ok().flatten()?;
        gold.version().filter(|v| *v >= 1)
    };
    while history().await.is_none() {
        assert!(started.elapsed() < Duration::from_secs(300), "gold did not tick");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let took = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    running.await.expect("join").expect("gold job");
    let out = finlake::query::run(&catalog, &root, sql, &options).await.expect("query");
    let row = finlake::query::format::json_rows(&out.batches).remove(0);
    let trades = row["trades"].as_i64().unwrap_or(0);
    println!(
        "gold tick from scratch (gold_trades_1m over silver v{version}, {files} files): {} windows of {trades} trades in {took:.2} s \
         (incl. table creation) = {:.0} silver rows/s",
        row["windows"],
        trades as f64 / took
    );
}

/// Bank transactions as `txn-screen` forwards them for scoring: 1000 accounts, 14.4 simulated
/// seconds apart (the demo stream).
fn scoring_batch(n: usize, offset: i64) -> finlake::plugin::Batch {
    let mut generator = finlake::simulate::BankGenerator::new(11 + offset as u64, 0.0, 0.02);
    let mut b = BatchBuilder::new("bank-transactions", n);
    for i in 0..n {
        let at = 1_764_201_600_000 + (offset + i as i64) * 14_400;
        let (k, v) = generator.next_record(at);
        let mut t: serde_json::Value = serde_json::from_str(&v).expect("json");
        let obj = t.as_object_mut().expect("object");
        for label in ["is_fraud", "fraud_pattern", "city", "currency"] {
            obj.remove(label);
        }
        b.push(Some(k.as_bytes()), t.to_string().as_bytes(), [], 0, offset + i as i64, at);
    }
    b.finish()
}

fn fraud_scoring(rt: &PluginRuntime) {
    let model = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fraud-lr.json"))
        .expect("models/fraud-lr.json (finlake fraud train)");
    let loaded = rt.load_file(&plugin_dir().join("fraud-score.wasm"), Some("fraud-score")).expect("fraud-score.wasm");
    let mut scorer =
        PluginInstance::new(loaded, format!(r#"{{"model": {model}}}"#), Limits::default()).expect("instance");
    // Warm the state: every account has history, as in a running stream. Then time fresh
    // batches (time moves on, as in the stream), median of the per-batch costs.
    for k in 0..20 {
        scorer.process(&scoring_batch(1000, k * 1000)).expect("warm-up");
    }
    let batches: Vec<_> = (20..80).map(|k| scoring_batch(1000, k * 1000)).collect();
    let mut costs: Vec<f64> = batches
        .iter()
        .map(|b| {
            let started = Instant::now();
            std::hint::black_box(scorer.process(b).expect("call"));
            started.elapsed().as_nanos() as f64 / b.len() as f64
        })
        .collect();
    costs.sort_by(f64::total_cmp);
    let per = costs[costs.len() / 2];
    let started = Instant::now();
    let snapshot = scorer.snapshot().expect("snapshot").unwrap_or_default();
    let took = started.elapsed();
    let started = Instant::now();
    scorer.restore(&snapshot).expect("restore");
    println!(
        "plugin fraud-score      batch 1000: {per:.0} ns/transaction (features from per-account history + logistic regression, \
         JSON in and out, inside Wasm); state of 1000 accounts: {} KiB, snapshot {:.1} ms, restore {:.1} ms",
        snapshot.len() / 1024,
        took.as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64() * 1e3
    );
}

async fn swap_pause() {
    let topic = "bench-swap".to_string();
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 3).expect("broker");
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    std::fs::copy(plugin_dir().join("chaos.wasm"), plugins.join("chaos.wasm")).expect("chaos.wasm");
    let text = format!(
        r#"[kafka]
brokers = "bench:9092"
[api]
enabled = false
[plugins]
dir = "{}"
cache_dir = "{}"
[lake]
root = "{}"
[[tables]]
name = "tagged"
columns = [{{ name = "value", type = "string" }}, {{ name = "tag", type = "string" }}, {{ name = "version", type = "string" }}]
[[pipelines]]
name = "swap"
topic = "{topic}"
dead_letter_table = "dead_letters"
flush = {{ max_latency_ms = 1000 }}
[[pipelines.stages]]
plugin = "chaos"
config = {{ with_version = true }}
outputs = {{ out = "tagged" }}
"#,
        plugins.display(),
        dir.path().join("cache").display(),
        dir.path().join("lake").display()
    );
    let config = Config::parse_and_validate(&text, "bench.toml").expect("valid");
    let service = Service::start(config, brokers.clone()).await.expect("service");
    let producer = create_producer(&brokers, &Default::default()).expect("producer");
    let options = ProduceOptions {
        kind: Kind::Trades,
        topic,
        rate: 2000.0,
        count: None,
        malformed_ratio: 0.0,
        seed: 5,
        clock_speed: 1.0,
    };
    let (stop, rx) = tokio::sync::watch::channel(false);
    let producing = tokio::spawn(async move { produce(&producer, &options, rx, |_| {}).await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let variants = [plugin_dir().join("chaos-2.0.0.wasm"), plugin_dir().join("chaos-3.0.0.wasm")];
    let (mut pauses, mut deploys, mut flushed) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..10 {
        // Uncorrelated with the 1 s flush: somewhere inside a window.
        tokio::time::sleep(Duration::from_millis(700 + 137 * i as u64)).await;
        let bytes = std::fs::read(&variants[i % 2]).expect("chaos variant (./xtask/build-plugins.sh)");
        let started = Instant::now();
        let report = service.control.deploy("chaos", bytes, finlake::control::Source::Upload).await.expect("deploy");
        deploys.push(started.elapsed().as_secs_f64() * 1000.0);
        let swap = &report.swaps[0];
        pauses.push(swap.pause_ms);
        flushed.push(swap.flushed_rows);
    }
    let _ = stop.send(true);
    let _ = producing.await;
    let records = service.registry.snapshots()[0].records_in;
    service.shutdown().await;
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2], v[v.len() - 1])
    };
    let (p_min, p_med, p_max) = stats(&mut pauses);
    let (d_min, d_med, d_max) = stats(&mut deploys);
    println!(
        "hot swap under load (~2000 records/s, 1 s flush window): pipeline pause per swap min {p_min:.1} / median {p_med:.1} / max {p_max:.1} ms \
         (commit of the buffered rows included; rows committed first: {flushed:?}); whole deploy (compile from cache, init, sample, swap) \
         min {d_min:.1} / median {d_med:.1} / max {d_max:.1} ms; {records} records processed during 10 swaps"
    );
    drop(broker);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("throughput: bench");
        return;
    }
    boundary();
    let records = std::env::var("FINLAKE_BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(60_000);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let (_lake, config) = rt.block_on(end_to_end(records));
    rt.block_on(gold_tick(config));
    rt.block_on(swap_pause());
}
