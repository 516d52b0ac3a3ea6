//! FinLake's benchmarks: every headline figure is a ratio measured side by side in one run,
//! because absolute numbers on shared machines move by ±40 % between runs.
//!
//! 1. End to end against raw consume: the shipped trades pipeline (bronze + silver + dead
//!    letters, commits included) at steady state, a producer running alongside, next to a plain
//!    consumer reading the same kind of records from the same broker.
//! 2. Wasm against native: the same pipeline, and the same plugin calls, with the Rust plugins
//!    compiled natively behind the same batch layout (the SDK's native harness).
//! 3. Latency: produce → committed in Delta, p50/p99/max, at half the top rate, with the default
//!    flush and with a low-latency one.
//! 4. Memory: peak RSS at full speed.
//! 5. The example plugin of each language, and fraud scoring per transaction.
//! 6. The shipped queries over a lake of millions of silver rows, before and after compaction.
//!
//! Run with `./xtask/bench.sh [-- OPTIONS]`; `--help` lists the options. Tables are printed;
//! JSON and a Markdown table go to `target/bench/`.

mod latency;
mod load;
mod pipeline;
mod plugins;
mod query;
mod report;
mod swap;

use std::path::{Path, PathBuf};

const HELP: &str = "FinLake benchmarks (./xtask/bench.sh [OPTIONS])

Every target is a ratio of two things measured side by side in this run.

OPTIONS
  --brokers HOST:PORT   run against this Kafka cluster instead of the embedded broker
                        (topics finlake-bench-* are created; nothing else is touched)
  --property KEY=VALUE  a librdkafka property for every client of the run (repeatable):
                        SASL/TLS for your cluster, or consumer settings to compare
  --smoke               seconds-long run of every benchmark (CI): checks they work, not speed
  --only LIST           comma-separated sections: pipeline,latency,plugins,query,swap
  --records N           records measured per pipeline run (default 2000000)
  --query-rows N        records written for the query lake (default 5200000)
  --out DIR             where JSON and Markdown go (default target/bench)
  --help                this text

SECTIONS
  pipeline  1 end to end / raw consume, 2 Wasm / native pipeline, 4 peak RSS
  latency   3 produce -> committed p50/p99/max, default and low-latency flush
  plugins   2 Wasm / native per plugin call, 5 per-language ns/record, fraud ns/transaction
  query     6 shipped queries/*.sql before and after compaction
  swap      pause of a hot swap under load";

#[derive(Debug, Clone)]
pub struct Options {
    pub brokers: Option<String>,
    /// librdkafka properties for every client (pipelines, producer, raw consumer).
    pub properties: std::collections::BTreeMap<String, String>,
    pub smoke: bool,
    pub only: Vec<String>,
    pub warmup: u64,
    pub records: u64,
    pub latency_seconds: f64,
    pub query_rows: u64,
    pub query_runs: usize,
    pub runs: usize,
    pub calls: usize,
    pub out: PathBuf,
}

impl Options {
    fn parse() -> Result<Options, String> {
        let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
        let mut o = Options {
            brokers: None,
            properties: Default::default(),
            smoke: false,
            only: Vec::new(),
            warmup: 200_000,
            records: 2_000_000,
            latency_seconds: 20.0,
            query_rows: 5_200_000,
            query_runs: 3,
            runs: 7,
            calls: 200,
            out: Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench"),
        };
        let (mut records, mut query_rows) = (None, None);
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            let number = |name: &str, v: String| v.parse::<u64>().map_err(|_| format!("{name}: {v:?} is not a number"));
            match a.as_str() {
                "--help" | "-h" => {
                    println!("{HELP}");
                    std::process::exit(0);
                }
                "--brokers" => o.brokers = Some(value("--brokers")?),
                "--smoke" => o.smoke = true,
                "--property" => {
                    let kv = value("--property")?;
                    let (k, v) = kv.split_once('=').ok_or_else(|| format!("--property {kv:?}: use KEY=VALUE"))?;
                    o.properties.insert(k.trim().to_string(), v.trim().to_string());
                }
                "--only" => o.only = value("--only")?.split(',').map(|s| s.trim().to_string()).collect(),
                "--records" => records = Some(number("--records", value("--records")?)?),
                "--query-rows" => query_rows = Some(number("--query-rows", value("--query-rows")?)?),
                "--out" => o.out = PathBuf::from(value("--out")?),
                // cargo bench passes its own filter arguments through; ignore them.
                other if !other.starts_with('-') => {}
                other => return Err(format!("unknown option {other} (see --help)")),
            }
        }
        if o.smoke {
            (o.warmup, o.records, o.latency_seconds, o.query_rows, o.query_runs, o.runs, o.calls) =
                (5_000, 20_000, 3.0, 30_000, 1, 3, 10);
        }
        o.records = records.unwrap_or(o.records);
        o.query_rows = query_rows.unwrap_or(o.query_rows);
        for s in &o.only {
            if !["pipeline", "latency", "plugins", "query", "swap"].contains(&s.as_str()) {
                return Err(format!("--only: unknown section {s:?} (pipeline, latency, plugins, query, swap)"));
            }
        }
        Ok(o)
    }

    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

pub fn plugin_dir() -> PathBuf {
    std::env::var_os("FINLAKE_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist"))
}

/// The `q` quantile of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("finlake: bench");
        return;
    }
    let options = match Options::parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    // The host's logs on stderr when asked (FINLAKE_LOG=finlake=info shows every commit's
    // duration): for finding out where a figure comes from.
    if let Ok(filter) = std::env::var("FINLAKE_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_target(false)
            .with_writer(std::io::stderr)
            .init();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let broker = rt.block_on(async { load::Broker::new(options.brokers.as_deref(), options.properties.clone()) });
    let mut report = report::Report {
        started: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        brokers: if broker.external { broker.servers.clone() } else { "embedded".into() },
        scale: if options.smoke { "smoke".into() } else { "full".into() },
        ..Default::default()
    };
    println!(
        "FinLake benchmarks, {} run against the {} broker ({})",
        report.scale,
        if broker.external { "external" } else { "embedded" },
        broker.servers
    );
    if options.wants("plugins") {
        plugins::run(&options, &mut report);
    }
    let mut top_rate = None;
    if options.wants("pipeline") {
        top_rate = Some(rt.block_on(pipeline::run(&broker, &options, &mut report)));
    }
    if options.wants("latency") {
        // Half the top rate: measured above, or quickly now.
        let top = top_rate.unwrap_or_else(|| {
            rt.block_on(async {
                let quick = Options {
                    warmup: options.warmup.min(50_000),
                    records: options.records.min(300_000),
                    ..options.clone()
                };
                pipeline::pipeline_rate(&broker, &quick, false).await.0.per_second
            })
        });
        rt.block_on(latency::run(&broker, &options, top, &mut report));
    }
    if options.wants("query") {
        rt.block_on(query::run(&broker, &options, &mut report));
    }
    if options.wants("swap") {
        rt.block_on(swap::swap_pause(&broker, &mut report));
    }
    println!("\n== ratios ({} run, {} broker)\n{}", report.scale, report.brokers, report.table());
    match report.write(&options.out) {
        Ok(file) => println!("written: {} (and latest.json, latest.md)", file.display()),
        Err(e) => eprintln!("could not write the report to {}: {e}", options.out.display()),
    }
}
