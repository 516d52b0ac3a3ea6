//! Reading query results (`QueryResponse.rows`: column name → JSON value) and writing them
//! back out as CSV.

use finlake_api::QueryResponse;
use serde_json::{Map, Value};

use crate::time;

pub type Row = Map<String, Value>;

/// A numeric cell: JSON numbers, and numbers the host printed as text (decimals).
pub fn num(row: &Row, column: &str) -> Option<f64> {
    match row.get(column)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// A count cell.
pub fn count(row: &Row, column: &str) -> Option<u64> {
    match row.get(column)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A text cell (numbers and booleans as they print).
pub fn text(row: &Row, column: &str) -> Option<String> {
    match row.get(column)? {
        Value::Null => None,
        v => Some(cell_text(v)),
    }
}

/// A timestamp cell (RFC 3339 text, as the host renders Arrow timestamps) in ms since the
/// epoch; a bare number is taken as microseconds, which is how a timestamp the host could not
/// format comes back.
pub fn time_ms(row: &Row, column: &str) -> Option<i64> {
    match row.get(column)? {
        Value::String(s) => time::parse_ms(s),
        Value::Number(n) => n.as_i64().map(|us| us.div_euclid(1000)),
        _ => None,
    }
}

/// How a cell shows in the grid and in CSV: text as itself, null as empty, the rest as JSON.
pub fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

/// RFC 4180 CSV of one result page, header first, columns in the result's order (the same
/// rules as the host's `--format csv`).
pub fn csv(result: &QueryResponse) -> String {
    let mut out = result.columns.iter().map(|c| csv_field(&c.name)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    for row in &result.rows {
        let line: Vec<String> =
            result.columns.iter().map(|c| csv_field(&row.get(&c.name).map(cell_text).unwrap_or_default())).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A SQL string literal: `O'Brien` → `'O''Brien'`.
pub fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use finlake_api::QueryColumn;
    use serde_json::json;

    fn row(v: Value) -> Row {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn cells_by_type() {
        let r = row(json!({"p": 1.5, "q": "2.25", "n": 7, "s": "AAPL", "b": true, "z": null,
                           "t": "2024-05-01T12:34:56Z", "us": 1_714_566_896_000_000i64}));
        assert_eq!(num(&r, "p"), Some(1.5));
        assert_eq!(num(&r, "q"), Some(2.25));
        assert_eq!(num(&r, "s"), None);
        assert_eq!(num(&r, "missing"), None);
        assert_eq!(count(&r, "n"), Some(7));
        assert_eq!(text(&r, "s").as_deref(), Some("AAPL"));
        assert_eq!(text(&r, "b").as_deref(), Some("true"));
        assert_eq!(text(&r, "z"), None);
        assert_eq!(time_ms(&r, "t"), Some(1_714_566_896_000));
        assert_eq!(time_ms(&r, "us"), Some(1_714_566_896_000));
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let result = QueryResponse {
            columns: vec![
                QueryColumn { name: "symbol".into(), kind: "Utf8".into() },
                QueryColumn { name: "note, text".into(), kind: "Utf8".into() },
                QueryColumn { name: "n".into(), kind: "Int64".into() },
            ],
            rows: vec![
                row(json!({"symbol": "AAPL", "note, text": "say \"hi\"", "n": 3})),
                row(json!({"symbol": "TSLA", "note, text": null, "n": 4.5})),
            ],
            row_count: 2,
            has_more: false,
            next_offset: None,
            versions: Default::default(),
            elapsed_ms: 1,
        };
        assert_eq!(csv(&result), "symbol,\"note, text\",n\r\nAAPL,\"say \"\"hi\"\"\",3\r\nTSLA,,4.5\r\n");
    }

    #[test]
    fn literals_escape_quotes() {
        assert_eq!(sql_literal("AAPL"), "'AAPL'");
        assert_eq!(sql_literal("O'Brien"), "'O''Brien'");
    }
}
