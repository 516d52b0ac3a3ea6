//! 2 (per call) and 5: plugin cost per record at batch 1000 through the host's plugin instance:
//! the Rust plugins as Wasm and as native code (same batch, same driver), the four languages'
//! example plugins, and fraud scoring per transaction.

use std::path::Path;
use std::time::Instant;

use finlake::config::Config;
use finlake::plugin::{Batch, BatchBuilder, BatchExt, Limits, PluginInstance, PluginRuntime};
use finlake::simulate::{Generator, Kind};

use crate::pipeline::runtime;
use crate::report::{Report, Target, section};
use crate::{Options, plugin_dir};

const AT: i64 = 1_764_218_700_000;

fn batch(kind: Kind, topic: &str, n: usize, seed: u64) -> Batch {
    let mut generator = finlake::simulate::generator(kind, seed, 0.0);
    let mut b = BatchBuilder::new(topic, n);
    for i in 0..n {
        let (k, v) = generator.next_record(AT + i as i64);
        b.push(Some(k.as_bytes()), v.as_bytes(), [], 0, i as i64, AT);
    }
    b.finish()
}

/// Bank transactions as `txn-screen` forwards them for scoring (its `scoring` output): `count`
/// batches of `n` in a row from one generator (1000 accounts, each with its own home, usual
/// amount and categories), 14.4 simulated seconds apart: the demo stream.
fn scoring_batches(count: usize, n: usize) -> Vec<Batch> {
    let mut generator = finlake::simulate::BankGenerator::new(11, 0.0, 0.02);
    (0..count)
        .map(|k| {
            let offset = (k * n) as i64;
            let mut b = BatchBuilder::new("bank-transactions", n);
            for i in 0..n {
                let at = 1_764_201_600_000 + (offset + i as i64) * 14_400;
                let (key, v) = generator.next_record(at);
                let mut t: serde_json::Value = serde_json::from_str(&v).expect("json");
                let obj = t.as_object_mut().expect("object");
                for label in ["is_fraud", "fraud_pattern", "city", "currency"] {
                    obj.remove(label);
                }
                b.push(Some(key.as_bytes()), t.to_string().as_bytes(), [], 0, offset + i as i64, at);
            }
            b.finish()
        })
        .collect()
}

/// `calls` calls of `batch`, in ns per record.
fn timed(instance: &mut PluginInstance, batch: &Batch, calls: usize) -> f64 {
    let started = Instant::now();
    for _ in 0..calls {
        std::hint::black_box(instance.process(batch).expect("call"));
    }
    started.elapsed().as_nanos() as f64 / (calls * batch.len()) as f64
}

/// Median over `runs` runs of `calls` calls each, in ns per record.
fn per_record_ns(instance: &mut PluginInstance, batch: &Batch, options: &Options) -> f64 {
    timed(instance, batch, options.calls / 10 + 1);
    median((0..options.runs).map(|_| timed(instance, batch, options.calls)).collect())
}

/// Wasm and native measured side by side.
struct Pair {
    /// Median ns per record (or transaction) of each.
    wasm: f64,
    native: f64,
    /// Median over runs made one right after the other of native ns / Wasm ns: the speed of
    /// Wasm against native. The machine's speed drifts within a run by more than the
    /// difference measured; a ratio of neighbours cancels that drift, where a ratio of two
    /// separate medians keeps part of it.
    speed: f64,
}

impl Pair {
    fn of(wasm: Vec<f64>, native: Vec<f64>) -> Pair {
        let speed = median(native.iter().zip(&wasm).map(|(n, w)| n / w).collect());
        Pair { wasm: median(wasm), native: median(native), speed }
    }
}

/// [`per_record_ns`] of a Wasm and a native instance, their runs alternating (W N, N W, …) so
/// neither always goes first.
fn per_record_ns_pair(
    wasm: &mut PluginInstance,
    native: &mut PluginInstance,
    batch: &Batch,
    options: &Options,
) -> Pair {
    timed(wasm, batch, options.calls / 10 + 1);
    timed(native, batch, options.calls / 10 + 1);
    let (mut runs_w, mut runs_n) = (Vec::new(), Vec::new());
    for run in 0..options.runs {
        if run % 2 == 0 {
            runs_w.push(timed(wasm, batch, options.calls));
            runs_n.push(timed(native, batch, options.calls));
        } else {
            runs_n.push(timed(native, batch, options.calls));
            runs_w.push(timed(wasm, batch, options.calls));
        }
    }
    Pair::of(runs_w, runs_n)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// An instance of a shipped stage (its config from `pipelines.toml`), or of `plugin` with `config`.
fn instance(rt: &PluginRuntime, plugin: &str, config: Option<&str>) -> PluginInstance {
    let loaded = rt
        .load_file(&plugin_dir().join(format!("{plugin}.wasm")), Some(plugin))
        .unwrap_or_else(|e| panic!("{e} (build the plugins: ./xtask/setup.sh)"));
    if let Some(config) = config {
        return PluginInstance::new(loaded, config.to_string(), Limits::default()).expect("instance");
    }
    let shipped =
        Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines.toml")).expect("pipelines.toml");
    let stage = shipped
        .pipelines
        .iter()
        .flat_map(|p| &p.stages)
        .find(|s| s.plugin == plugin)
        .unwrap_or_else(|| panic!("{plugin} is not in pipelines.toml"));
    finlake::pipeline::runner::stage_instance(&shipped, stage, loaded).expect("instance")
}

pub fn run(options: &Options, report: &mut Report) {
    let cache = tempfile::tempdir().expect("tempdir");
    let wasm = runtime(&cache.path().join("wasm"), false);
    let native = runtime(&cache.path().join("native"), true);
    let trades = batch(Kind::Trades, "stock-trades", 1000, 1);

    section("2: plugin calls, Wasm against the same plugin compiled natively (batch 1000)");
    let s = "plugins";
    // The boundary alone: a plugin that reads every record and emits nothing.
    let noop = per_record_ns(&mut instance(&wasm, "chaos", Some(r#"{"mode":"noop"}"#)), &trades, options);
    report.figure(s, "boundary (chaos noop), Wasm", noop, "ns/record", "copy in, per-record loop, empty result");
    let mut worst = f64::INFINITY;
    for plugin in ["passthrough", "normalize-trade"] {
        let (mut w, mut n) = (instance(&wasm, plugin, None), instance(&native, plugin, None));
        let pair = per_record_ns_pair(&mut w, &mut n, &trades, options);
        let detail = format!("native {:.0} ns/record, speed {:.1} %", pair.native, 100.0 * pair.speed);
        report.figure(s, &format!("{plugin}, Wasm"), pair.wasm, "ns/record", detail);
        worst = worst.min(pair.speed);
    }
    // 30 fresh batches per run (210 in a full run): one batch is ~2–3 ms, so a median over
    // few of them moved by a quarter between runs on these machines.
    let fresh = options.runs * 30;
    let scoring = scoring_batches(20 + fresh, 1000);
    let pair = fraud(&wasm, &native, &scoring);
    let fraud_wasm = pair.wasm;
    let detail = format!("native {:.0} ns/txn, speed {:.1} %", pair.native, 100.0 * pair.speed);
    report.figure(s, "fraud-score, Wasm", fraud_wasm, "ns/txn", detail);
    worst = worst.min(pair.speed);
    report.ratio(
        "plugin calls: Wasm speed / native (worst plugin)",
        100.0 * worst,
        " %",
        Some(Target::AtLeast(85.0)),
        "passthrough, normalize-trade, fraud-score at batch 1000",
    );

    section("5: the example plugin of each language, batch 1000 (shipped configs)");
    let crypto = batch(Kind::Crypto, "crypto-prices", 1000, 2);
    let bank = batch(Kind::Bank, "bank-transactions", 1000, 3);
    let languages: [(&str, &str, Option<&str>, &Batch); 4] = [
        ("Rust", "normalize-trade", None, &trades),
        ("C", "trade-filter", Some(r#"{"min_notional": 10000}"#), &trades),
        ("JavaScript", "txn-screen", None, &bank),
        ("Python", "crypto-enrich", None, &crypto),
    ];
    for (language, plugin, config, input) in languages {
        let ns = per_record_ns(&mut instance(&wasm, plugin, config), input, options);
        report.figure("languages", &format!("{language}: {plugin}"), ns, "ns/record", "");
    }
    report.ratio(
        "fraud-score per transaction (Wasm)",
        fraud_wasm,
        " ns",
        Some(Target::AtMost(2000.0)),
        "per-account features + logistic regression, state of 1000 accounts",
    );
}

/// fraud-score's cost per transaction in Wasm and natively: state warmed on 20 batches (every
/// account has history), then the median over fresh batches (time moves on, as in the stream),
/// each batch scored by both, one right after the other (which one first alternates).
fn fraud(wasm: &PluginRuntime, native: &PluginRuntime, batches: &[Batch]) -> Pair {
    let mut scorers = [instance(wasm, "fraud-score", None), instance(native, "fraud-score", None)];
    for b in &batches[..20] {
        for scorer in &mut scorers {
            scorer.process(b).expect("warm-up");
        }
    }
    let mut costs = [Vec::new(), Vec::new()];
    for (i, b) in batches[20..].iter().enumerate() {
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            costs[side].push(timed(&mut scorers[side], b, 1));
        }
    }
    let [wasm_costs, native_costs] = costs;
    Pair::of(wasm_costs, native_costs)
}
