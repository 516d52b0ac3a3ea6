//! Comparing what two versions wrote to one table: rows matched by the table's unique key, or by
//! the Kafka record they came from and their place among that record's rows.

use std::collections::BTreeMap;

use finlake_api::{ShadowDiff, ShadowOutput};
use serde_json::Value;

/// Examples kept per kind of difference.
pub const EXAMPLES: usize = 5;

/// One row a version wrote: the record it came from and the row.
#[derive(Debug, Clone)]
pub struct Row {
    pub partition: i32,
    pub offset: i64,
    pub json: Value,
}

fn keyed(rows: &[Row], unique_key: Option<&str>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut ordinal: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    for r in rows {
        let key = match unique_key.and_then(|k| r.json.get(k)) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => {
                let n = ordinal.entry((r.partition, r.offset)).or_default();
                *n += 1;
                format!("partition {} offset {} row {}", r.partition, r.offset, *n)
            }
        };
        out.insert(key, r.json.clone());
    }
    out
}

/// The top-level fields whose values differ (a row that is not an object differs as a whole).
fn changed_fields(a: &Value, b: &Value) -> Vec<String> {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
            names.sort();
            names.dedup();
            names.into_iter().filter(|k| a.get(*k) != b.get(*k)).cloned().collect()
        }
        _ => vec!["(row)".into()],
    }
}

/// Compares the rows of `table` from the live and the candidate version.
pub fn compare(table: &str, unique_key: Option<&str>, live: &[Row], candidate: &[Row]) -> ShadowOutput {
    let (a, b) = (keyed(live, unique_key), keyed(candidate, unique_key));
    let mut out = ShadowOutput {
        table: table.to_string(),
        matched_by: unique_key.map_or_else(|| "kafka coordinates".to_string(), |k| format!("unique_key {k}")),
        live_rows: live.len() as u64,
        candidate_rows: candidate.len() as u64,
        same: 0,
        only_live: 0,
        only_candidate: 0,
        changed: 0,
        examples: Vec::new(),
    };
    let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
    let mut example = |out: &mut ShadowOutput, kind: &'static str, key: &str, l: Option<&Value>, c: Option<&Value>| {
        let n = shown.entry(kind).or_default();
        if *n < EXAMPLES {
            *n += 1;
            let fields = match (l, c) {
                (Some(l), Some(c)) => changed_fields(l, c),
                _ => Vec::new(),
            };
            out.examples.push(ShadowDiff {
                kind: kind.to_string(),
                key: key.to_string(),
                live: l.cloned(),
                candidate: c.cloned(),
                fields,
            });
        }
    };
    for (key, l) in &a {
        match b.get(key) {
            Some(c) if c == l => out.same += 1,
            Some(c) => {
                out.changed += 1;
                example(&mut out, "changed", key, Some(l), Some(c));
            }
            None => {
                out.only_live += 1;
                example(&mut out, "only_live", key, Some(l), None);
            }
        }
    }
    for (key, c) in &b {
        if !a.contains_key(key) {
            out.only_candidate += 1;
            example(&mut out, "only_candidate", key, None, Some(c));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(offset: i64, json: Value) -> Row {
        Row { partition: 0, offset, json }
    }

    #[test]
    fn rows_match_by_unique_key_and_report_the_changed_fields() {
        let live = [row(1, json!({"id": "a", "x": 1})), row(2, json!({"id": "b", "x": 2})), row(3, json!({"id": "c"}))];
        let cand = [row(1, json!({"id": "a", "x": 1})), row(2, json!({"id": "b", "x": 3})), row(4, json!({"id": "d"}))];
        let out = compare("t", Some("id"), &live, &cand);
        assert_eq!((out.same, out.changed, out.only_live, out.only_candidate), (1, 1, 1, 1));
        let changed = out.examples.iter().find(|e| e.kind == "changed").unwrap();
        assert_eq!((changed.key.as_str(), changed.fields.clone()), ("b", vec!["x".to_string()]));
    }

    #[test]
    fn without_a_key_rows_match_by_record_and_place() {
        let live = [row(1, json!({"x": 1})), row(1, json!({"x": 2}))];
        let cand = [row(1, json!({"x": 1}))];
        let out = compare("t", None, &live, &cand);
        assert_eq!((out.same, out.only_live, out.matched_by.as_str()), (1, 1, "kafka coordinates"));
        assert_eq!(out.examples[0].key, "partition 0 offset 1 row 2");
    }
}
