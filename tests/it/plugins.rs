//! The plugin runtime with real components built from plugins/ by the test command.

use std::path::Path;
use std::time::{Duration, Instant};

use finlake::config::Config;
use finlake::pipeline::graph::Graph;
use finlake::plugin::{BatchBuilder, Limits, PluginError, PluginInstance, PluginRuntime, rows_of};

use crate::common::plugin_dir;

fn runtime() -> (tempfile::TempDir, PluginRuntime) {
    let dir = tempfile::tempdir().unwrap();
    let rt = PluginRuntime::new(&dir.path().join("cache")).unwrap();
    (dir, rt)
}

fn batch(values: &[&str]) -> finlake::plugin::Batch {
    let mut b = BatchBuilder::new("t", values.len());
    for (i, v) in values.iter().enumerate() {
        b.push(Some(b"k"), v.as_bytes(), [("h", &b"1"[..])], 0, i as i64, 1_700_000_000_000);
    }
    b.finish()
}

fn chaos(rt: &PluginRuntime, limits: Limits) -> PluginInstance {
    let loaded = rt.load_file(&plugin_dir().join("chaos.wasm"), Some("chaos")).unwrap();
    PluginInstance::new(loaded, r#"{"tag":"v1"}"#.into(), limits).unwrap()
}

#[test]
fn normalize_trade_emits_typed_rows_and_rejects_malformed() {
    let (_d, rt) = runtime();
    let loaded = rt.load_file(&plugin_dir().join("normalize-trade.wasm"), Some("normalize-trade")).unwrap();
    assert_eq!(loaded.name, "normalize-trade");
    let mut inst = PluginInstance::new(loaded, r#"{"allowed_symbols":["AAPL"]}"#.into(), Limits::default()).unwrap();
    let input = batch(&[
        r#"{"trade_id":"T1","symbol":"aapl","price":"190.5","quantity":10,"side":"BUY","ts":1700000000000}"#,
        r#"{"trade_id":"T2","symbol":"AAPL","price":-1,"quantity":10,"side":"buy"}"#,
        r#"{"trade_id":"T3","symbol":"TSLA","price":1,"quantity":10,"side":"buy"}"#,
        "not json",
    ]);
    let result = inst.process(&input).unwrap();
    let rows = rows_of(&result, 4).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].output, "trades");
    let row: serde_json::Value = serde_json::from_slice(rows[0].json).unwrap();
    assert_eq!(row["symbol"], "AAPL");
    assert_eq!(row["price"], 190.5);
    assert_eq!(row["notional"], 1905.0);
    assert_eq!(row["side"], "buy");
    let reasons: Vec<(u32, &str)> = result.rejections.iter().map(|r| (r.input, r.reason.as_str())).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].1.contains("price -1 is outside"), "{reasons:?}");
    assert!(reasons[1].1.contains("not in allowed_symbols"), "{reasons:?}");
    assert!(reasons[2].1.contains("not a JSON trade object"), "{reasons:?}");
}

#[test]
fn infinite_loop_is_cut_off_by_the_time_limit_and_the_instance_recovers() {
    let (_d, rt) = runtime();
    let mut inst =
        chaos(&rt, Limits { timeout: Duration::from_millis(200), memory_bytes: 64 << 20, ..Limits::default() });
    let started = Instant::now();
    let err = inst.process(&batch(&["ok", "LOOP"])).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, PluginError::Timeout { limit_ms: 200, .. }), "{err}");
    assert!(took < Duration::from_secs(2), "cut off after {took:?}");
    // The next call runs on a fresh instance.
    let result = inst.process(&batch(&["fine"])).unwrap();
    assert_eq!(rows_of(&result, 1).unwrap().len(), 1);
    assert_eq!(inst.instantiations, 2);
}

#[test]
fn memory_hog_is_cut_off_by_the_memory_limit() {
    let (_d, rt) = runtime();
    let mut inst = chaos(&rt, Limits { timeout: Duration::from_secs(10), memory_bytes: 32 << 20, ..Limits::default() });
    let err = inst.process(&batch(&["HOG"])).unwrap_err();
    assert!(matches!(err, PluginError::Memory { limit_mb: 32, .. }), "{err}");
    assert_eq!(err.kind(), "memory");
    assert!(inst.process(&batch(&["fine"])).is_ok());
}

#[test]
fn a_trap_is_a_typed_error() {
    let (_d, rt) = runtime();
    let mut inst = chaos(&rt, Limits::default());
    let err = inst.process(&batch(&["TRAP"])).unwrap_err();
    assert!(matches!(err, PluginError::Trap { .. }), "{err}");
    assert!(inst.process(&batch(&["fine"])).is_ok());
}

#[test]
fn wrong_name_bad_bytes_and_failing_init_are_refused() {
    let (_d, rt) = runtime();
    let err = rt.load_file(&plugin_dir().join("chaos.wasm"), Some("normalize-trade")).unwrap_err();
    assert!(matches!(err, PluginError::WrongName { .. }), "{err}");
    let err = rt.load_bytes(b"\0asm garbage", "garbage.wasm", None).unwrap_err();
    assert!(matches!(err, PluginError::Compile { .. }), "{err}");
    let loaded = rt.load_file(&plugin_dir().join("chaos.wasm"), None).unwrap();
    let err = PluginInstance::new(loaded, r#"{"fail_init":true}"#.into(), Limits::default()).err().unwrap();
    assert!(err.to_string().contains("refused its config: fail_init is set"), "{err}");
}

#[test]
fn compiled_artefacts_are_cached() {
    let (_d, rt) = runtime();
    let first = rt.load_file(&plugin_dir().join("normalize-trade.wasm"), None).unwrap();
    let second = rt.load_file(&plugin_dir().join("normalize-trade.wasm"), None).unwrap();
    assert!(!first.cache_hit);
    assert!(second.cache_hit);
    assert_eq!(first.sha256, second.sha256);
}

#[test]
fn poison_records_are_isolated_and_a_chain_feeds_the_next_stage() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[kafka]
brokers = "x:1"
[plugins]
dir = "{plugins}"
cache_dir = "{cache}"
timeout_ms = 150
[[tables]]
name = "out"
columns = [{{ name = "value", type = "string" }}, {{ name = "tag", type = "string" }}]
[[pipelines]]
name = "p"
topic = "t"
dead_letter_table = "dlq"
[[pipelines.stages]]
id = "first"
plugin = "chaos"
config = {{ tag = "a" }}
outputs = {{ out = "second" }}
[[pipelines.stages]]
id = "second"
plugin = "chaos"
config = {{ tag = "b" }}
outputs = {{ out = "out" }}
"#,
        plugins = plugin_dir().display(),
        cache = dir.path().join("cache").display()
    );
    let config = Config::parse_and_validate(&text, "test.toml").unwrap();
    let (_d, rt) = runtime();
    let mut graph: Graph = finlake::pipeline::start_stages(&config, &config.pipelines[0], &rt).unwrap();
    let values: Vec<String> = (0..40)
        .map(|i| match i {
            7 => "LOOP".to_string(),
            20 => "TRAP".to_string(),
            31 => "REJECT".to_string(),
            _ => format!("v{i}"),
        })
        .collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    let out = graph.run(&batch(&refs)).unwrap();
    // The second stage sees the first stage's rows (JSON with tag "a") as its values.
    assert_eq!(out.rows.len(), 37);
    let row: serde_json::Value = serde_json::from_slice(&out.rows[0].json).unwrap();
    assert_eq!(row["tag"], "b");
    assert!(row["value"].as_str().unwrap().contains(r#""tag":"a""#));
    let mut failed: Vec<(usize, &str)> = out.failures.iter().map(|f| (f.input, f.kind.as_str())).collect();
    failed.sort();
    assert_eq!(failed, vec![(7, "timeout"), (20, "trap"), (31, "rejected")]);
    let inputs: Vec<usize> = out.rows.iter().map(|r| r.input).collect();
    assert!(inputs.windows(2).all(|w| w[0] < w[1]), "rows keep input order");
}

#[test]
fn an_instance_whose_memory_grew_is_replaced_between_batches() {
    let (_d, rt) = runtime();
    let limits = Limits { recycle_growth_bytes: 8 << 20, ..Limits::default() };
    let mut inst = chaos(&rt, limits);
    let small = inst.process(&batch(&["a"])).map(|_| inst.memory_bytes()).unwrap();
    // Four 4 MiB records: the batch and the rows lowered into the guest grow its memory.
    let big = "x".repeat(4 << 20);
    let result = inst.process(&batch(&[&big, &big, &big, &big])).unwrap();
    assert_eq!(rows_of(&result, 4).unwrap().len(), 4);
    let grown = inst.memory_bytes();
    assert!(grown > small + (8 << 20), "memory {small} → {grown} bytes");
    assert_eq!(inst.instantiations, 1, "replaced only between batches");
    let result = inst.process(&batch(&["after"])).unwrap();
    assert_eq!(rows_of(&result, 1).unwrap().len(), 1, "the fresh instance serves the next batch");
    assert_eq!(inst.instantiations, 2);
    assert!(inst.memory_bytes() < small + (8 << 20), "fresh memory {} bytes", inst.memory_bytes());
    // 0 turns it off.
    let mut kept = chaos(&rt, Limits { recycle_growth_bytes: 0, ..Limits::default() });
    kept.process(&batch(&[&big, &big, &big, &big])).unwrap();
    kept.process(&batch(&["after"])).unwrap();
    assert_eq!(kept.instantiations, 1);
}

#[test]
fn a_stateful_plugin_keeps_its_state_across_a_replacement() {
    let (_d, rt) = runtime();
    let model = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fraud-lr.json")).unwrap();
    let loaded = rt.load_file(&plugin_dir().join("fraud-score.wasm"), Some("fraud-score")).unwrap();
    let config = format!(r#"{{"model": {model}}}"#);
    let limits = Limits { recycle_growth_bytes: 1 << 20, ..Limits::default() };
    let mut scorer = PluginInstance::new(loaded.clone(), config.clone(), limits).unwrap();
    let mut twin =
        PluginInstance::new(loaded, config, Limits { recycle_growth_bytes: 0, ..Limits::default() }).unwrap();
    let mut generator = finlake::simulate::generator(finlake::simulate::Kind::Bank, 7, 0.0);
    let txns: Vec<String> = (0..6000).map(|i| generator.next_record(1_700_000_000_000 + i * 1000).1).collect();
    let txns: Vec<&str> = txns.iter().map(String::as_str).collect();
    // The first half grows the scorer's memory by more than 1 MiB; the second half is scored by a
    // fresh instance restored from the first's state, and must score as the twin does.
    for inst in [&mut scorer, &mut twin] {
        inst.process(&batch(&txns[..3000])).unwrap();
    }
    assert_eq!(scorer.instantiations, 1);
    let (a, b) = (scorer.process(&batch(&txns[3000..])).unwrap(), twin.process(&batch(&txns[3000..])).unwrap());
    assert_eq!(scorer.instantiations, 2, "replaced before the second half");
    let rows = |r| {
        rows_of(r, 3000).unwrap().iter().map(|r| (r.input, r.output.to_string(), r.json.to_vec())).collect::<Vec<_>>()
    };
    assert_eq!(rows(&a), rows(&b), "the replaced scorer scores as one that kept its memory");
    // The same accounts and counts (floats went through the snapshot's JSON, so compare them
    // within rounding).
    let state = |i: &mut PluginInstance| -> serde_json::Value {
        serde_json::from_slice(&i.snapshot().unwrap().unwrap()).unwrap()
    };
    let (s, t) = (state(&mut scorer), state(&mut twin));
    assert_eq!(s["observed"], t["observed"]);
    let (sa, ta) = (s["accounts"].as_object().unwrap(), t["accounts"].as_object().unwrap());
    assert_eq!(sa.keys().collect::<Vec<_>>(), ta.keys().collect::<Vec<_>>(), "the same accounts");
    for (k, v) in sa {
        assert_eq!(v["count"], ta[k]["count"], "{k}");
        assert!(
            (v["log_amount_mean"].as_f64().unwrap() - ta[k]["log_amount_mean"].as_f64().unwrap()).abs() < 1e-9,
            "{k}"
        );
    }
}
