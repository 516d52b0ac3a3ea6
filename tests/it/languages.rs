//! Plugins written in other languages, built from source by the test command, loaded through
//! the real host runtime.

use std::time::{Duration, Instant};

use finlake::plugin::{BatchBuilder, Limits, PluginInstance, PluginRuntime, rows_of};

use crate::common::{plugin_dir, shared_cache_dir};

fn batch(values: &[String]) -> finlake::plugin::Batch {
    let mut b = BatchBuilder::new("t", values.len());
    for (i, v) in values.iter().enumerate() {
        b.push(None, v.as_bytes(), [], 0, i as i64, 1_764_218_700_000 + i as i64);
    }
    b.finish()
}

fn load(rt: &PluginRuntime, name: &str, config: &str) -> PluginInstance {
    let loaded = rt.load_file(&plugin_dir().join(format!("{name}.wasm")), Some(name)).unwrap();
    PluginInstance::new(loaded, config.to_string(), Limits::default()).unwrap()
}

#[test]
fn python_crypto_enrich_keeps_rolling_state_and_flags_outliers() {
    let rt = PluginRuntime::new(&shared_cache_dir()).unwrap();
    let started = Instant::now();
    let mut p = load(&rt, "crypto-enrich", r#"{"window": 10, "outlier_z": 2.5}"#);
    let loaded_in = started.elapsed();
    let mut values: Vec<String> = (0..12)
        .map(|i| format!(r#"{{"symbol":"btc","price":{},"ts":{}}}"#, 100.0 + (i % 3) as f64, 1000 + i))
        .collect();
    values.push(r#"{"symbol":"BTC","price":180.0}"#.into());
    values.push(r#"{"symbol":"ETH","price":"cheap"}"#.into());
    values.push("not json".into());
    let result = p.process(&batch(&values)).unwrap();
    let rows = rows_of(&result, values.len()).unwrap();
    assert_eq!(rows.len(), 13);
    let row = |i: usize| -> serde_json::Value { serde_json::from_slice(rows[i].json).unwrap() };
    assert_eq!(row(0)["symbol"], "BTC");
    assert_eq!(row(0)["prev_price"], serde_json::Value::Null);
    assert_eq!(row(1)["prev_price"], 100.0);
    assert_eq!(row(1)["change_pct"], 1.0);
    assert_eq!(row(11)["is_outlier"], false);
    assert_eq!(row(12)["is_outlier"], true, "{}", row(12));
    let reasons: Vec<(u32, &str)> = result.rejections.iter().map(|r| (r.input, r.reason.as_str())).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, 13);
    assert!(reasons[0].1.contains("price 'cheap' is not a positive number"), "{reasons:?}");
    assert_eq!(reasons[1].0, 14);
    // State carries across calls on the same instance.
    let next = p.process(&batch(&[r#"{"symbol":"BTC","price":181.0}"#.to_string()])).unwrap();
    let next_row: serde_json::Value = serde_json::from_slice(rows_of(&next, 1).unwrap()[0].json).unwrap();
    assert_eq!(next_row["prev_price"], 180.0);
    // A second load of the 18 MB component comes from the compile cache.
    let again = rt.load_file(&plugin_dir().join("crypto-enrich.wasm"), None).unwrap();
    assert!(again.cache_hit);
    assert!(again.load_time < Duration::from_secs(1), "cached load took {:?} (first: {loaded_in:?})", again.load_time);
}

#[test]
fn javascript_txn_screen_normalizes_currency_and_scores_rules() {
    let rt = PluginRuntime::new(&shared_cache_dir()).unwrap();
    let mut p = load(&rt, "txn-screen", r#"{"large_amount_usd": 2000, "home_country": "US", "rates": {"EUR": 1.1}}"#);
    let values: Vec<String> = [
        r#"{"txn_id":"T1","account":"A1","amount":10.0,"currency":"usd","merchant_category":"grocery","country":"US","ts":5}"#,
        r#"{"txn_id":"T2","account":"A2","amount":2000.0,"currency":"EUR","merchant_category":"gambling","country":"FR"}"#,
        r#"{"txn_id":"T3","account":"A3","amount":5.0,"currency":"XYZ"}"#,
        r#"{"txn_id":"T4","amount":-1,"currency":"USD"}"#,
        "{broken",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let result = p.process(&batch(&values)).unwrap();
    let rows = rows_of(&result, values.len()).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.output == "screened"));
    let low: serde_json::Value = serde_json::from_slice(rows[0].json).unwrap();
    assert_eq!(low["currency"], "USD");
    assert_eq!(low["risk"], "low");
    assert_eq!(low["rules"], "");
    let high: serde_json::Value = serde_json::from_slice(rows[1].json).unwrap();
    assert_eq!(high["amount_usd"], 2200.0);
    assert_eq!(high["rules"], "large_amount,high_risk_category,round_amount,foreign_country");
    assert_eq!(high["risk"], "high");
    let reasons: Vec<(u32, &str)> = result.rejections.iter().map(|r| (r.input, r.reason.as_str())).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].1.contains("currency \"XYZ\" has no rate"), "{reasons:?}");
    assert!(reasons[1].1.contains("amount -1 is not a positive number"), "{reasons:?}");
    assert_eq!(reasons[2].0, 4);
}

#[test]
fn c_trade_filter_projects_and_filters_by_notional() {
    let rt = PluginRuntime::new(&shared_cache_dir()).unwrap();
    let loaded = rt.load_file(&plugin_dir().join("trade-filter.wasm"), Some("trade-filter")).unwrap();
    assert!(loaded.size < 1 << 20, "a C component stays small: {} bytes", loaded.size);
    let mut p = PluginInstance::new(loaded, r#"{"min_notional": 1000}"#.into(), Limits::default()).unwrap();
    let values: Vec<String> = [
        r#"{"trade_id":"T1","symbol":"AAPL","price":190.5,"quantity":10,"side":"buy"}"#,
        r#"{"trade_id":"T2","symbol":"MSFT","price":10.0,"quantity":5,"side":"buy"}"#,
        r#"{"trade_id":"T3","symbol":"TSLA","quantity":5}"#,
        r#"{"trade_id":"T4","price":5,"quantity":5}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let result = p.process(&batch(&values)).unwrap();
    let rows = rows_of(&result, values.len()).unwrap();
    assert_eq!(rows.len(), 1, "the 50-notional trade is filtered out");
    assert_eq!(rows[0].output, "trades");
    assert_eq!(rows[0].input, 0);
    let row: serde_json::Value = serde_json::from_slice(rows[0].json).unwrap();
    assert_eq!(row, serde_json::json!({"symbol": "AAPL", "price": 190.5, "quantity": 10, "notional": 1905}));
    let reasons: Vec<(u32, &str)> = result.rejections.iter().map(|r| (r.input, r.reason.as_str())).collect();
    assert_eq!(reasons, vec![(2, "price is missing or not positive"), (3, "symbol is missing")]);
    let err = PluginInstance::new(
        rt.load_file(&plugin_dir().join("trade-filter.wasm"), None).unwrap(),
        r#"{"min_notional": -1}"#.into(),
        Limits::default(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("min_notional must not be negative"), "{err}");
}
