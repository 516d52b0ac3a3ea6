use std::collections::BTreeMap;

use super::*;

fn take(kind: Kind, seed: u64, n: usize) -> Vec<(String, serde_json::Value)> {
    let mut g = generator(kind, seed, 0.0);
    (0..n)
        .map(|i| {
            let (k, v) = g.next_record(1_764_218_700_000 + i as i64);
            (k, serde_json::from_str(&v).unwrap_or_else(|e| panic!("{v}: {e}")))
        })
        .collect()
}

#[test]
fn streams_are_reproducible_from_the_seed() {
    for kind in [Kind::Trades, Kind::Crypto, Kind::Bank] {
        assert_eq!(take(kind, 9, 200), take(kind, 9, 200), "{kind:?}");
        assert_ne!(take(kind, 9, 200), take(kind, 10, 200), "{kind:?}");
    }
}

#[test]
fn keys_are_the_symbol_or_account() {
    for (k, v) in take(Kind::Crypto, 1, 100) {
        assert_eq!(v["symbol"], k.as_str());
        assert!(v["price"].as_f64().unwrap() > 0.0);
    }
    for (k, v) in take(Kind::Bank, 1, 500) {
        assert_eq!(v["account"], k.as_str());
    }
}

#[test]
fn bank_stream_carries_every_labelled_fraud_pattern() {
    let rows = take(Kind::Bank, 3, 20_000);
    let mut patterns: BTreeMap<String, usize> = BTreeMap::new();
    for (_, v) in &rows {
        assert_eq!(v["is_fraud"].as_bool().unwrap(), !v["fraud_pattern"].is_null(), "{v}");
        if let Some(p) = v["fraud_pattern"].as_str() {
            *patterns.entry(p.to_string()).or_default() += 1;
        }
    }
    for (_, v) in &rows {
        let ts = v["ts"].as_i64().unwrap();
        assert!(ts <= 1_764_218_700_000 + 20_000 + 16 * 60_000, "event time in the future: {v}");
        if v["fraud_pattern"] == "odd_hours" {
            let hour = ts.rem_euclid(86_400_000) / 3_600_000;
            assert!((2..5).contains(&hour), "{v}");
        }
    }
    let names: Vec<&str> = patterns.keys().map(String::as_str).collect();
    assert_eq!(names, ["card_testing", "impossible_travel", "large_amount", "new_category", "odd_hours"]);
    let fraud: usize = patterns.values().sum();
    let ratio = fraud as f64 / rows.len() as f64;
    assert!((0.01..0.06).contains(&ratio), "fraud ratio {ratio}");
    // Card testing comes as a burst of small charges on one account.
    let burst: Vec<_> = rows.iter().filter(|(_, v)| v["fraud_pattern"] == "card_testing").take(3).collect();
    assert!(burst.windows(2).all(|w| w[0].0 == w[1].0));
    assert!(burst.iter().all(|(_, v)| v["amount"].as_f64().unwrap() < 3.0));
}

#[test]
fn creditcard_sample_round_trips_through_the_reader() {
    let mut buf = Vec::new();
    let frauds = creditcard::write_sample(&mut buf, 2000, 5).unwrap();
    assert!((2..40).contains(&frauds), "{frauds} frauds in 2000 rows");
    let rows: Vec<_> = creditcard::read_rows(std::io::Cursor::new(&buf)).collect::<Result<_, _>>().unwrap();
    assert_eq!(rows.len(), 2000);
    let labelled = rows.iter().filter(|r| r.json.ends_with(r#""class":1}"#)).count();
    assert_eq!(labelled, frauds);
    let v: serde_json::Value = serde_json::from_str(&rows[0].json).unwrap();
    assert_eq!(v["v"].as_array().unwrap().len(), 28);
    assert!(rows.windows(2).all(|w| w[0].time <= w[1].time));
}

#[test]
fn creditcard_reader_names_the_bad_line() {
    let bad_header = "Time,V1,Amount\n1,2,3\n";
    let errs: Vec<_> = creditcard::read_rows(std::io::Cursor::new(bad_header)).collect();
    assert_eq!(errs.len(), 1);
    assert!(errs[0].as_ref().err().unwrap().starts_with("line 1: header"), "{errs:?}");
    let mut buf = Vec::new();
    creditcard::write_sample(&mut buf, 3, 1).unwrap();
    let mut text = String::from_utf8(buf).unwrap();
    text.push_str("4,x\n");
    let results: Vec<_> = creditcard::read_rows(std::io::Cursor::new(text)).collect();
    assert_eq!(results.len(), 4);
    assert_eq!(results[3].as_ref().err().unwrap(), "line 5: 2 fields, expected 31 (Time, V1..V28, Amount, Class)");
}
