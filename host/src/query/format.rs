//! Query results as JSON rows, CSV or a text table.

use deltalake::arrow::array::{Array, ArrayRef, AsArray};
use deltalake::arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Map, Value};

/// One cell as JSON: numbers and booleans as themselves, timestamps as RFC 3339 text in UTC,
/// everything else as its display text.
fn cell(array: &ArrayRef, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    macro_rules! num {
        ($t:ty) => {
            Value::from(array.as_primitive::<$t>().value(row))
        };
    }
    match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8 => num!(Int8Type),
        DataType::Int16 => num!(Int16Type),
        DataType::Int32 => num!(Int32Type),
        DataType::Int64 => num!(Int64Type),
        DataType::UInt8 => num!(UInt8Type),
        DataType::UInt16 => num!(UInt16Type),
        DataType::UInt32 => num!(UInt32Type),
        DataType::UInt64 => num!(UInt64Type),
        DataType::Float32 => serde_json::Number::from_f64(array.as_primitive::<Float32Type>().value(row) as f64)
            .map_or(Value::Null, Value::Number),
        DataType::Float64 => serde_json::Number::from_f64(array.as_primitive::<Float64Type>().value(row))
            .map_or(Value::Null, Value::Number),
        DataType::Utf8 => Value::from(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Value::from(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Value::from(array.as_string_view().value(row)),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let us = array.as_primitive::<deltalake::arrow::datatypes::TimestampMicrosecondType>().value(row);
            chrono::DateTime::from_timestamp_micros(us)
                .map_or(Value::from(us), |t| Value::from(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
        }
        _ => Value::from(display(array, row)),
    }
}

fn display(array: &ArrayRef, row: usize) -> String {
    let options = FormatOptions::default();
    ArrayFormatter::try_new(array.as_ref(), &options).map(|f| f.value(row).to_string()).unwrap_or_default()
}

/// Rows as JSON objects keyed by column name.
pub fn json_rows(batches: &[RecordBatch]) -> Vec<Map<String, Value>> {
    let mut rows = Vec::new();
    for batch in batches {
        let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        for r in 0..batch.num_rows() {
            let mut row = Map::new();
            for (c, name) in names.iter().enumerate() {
                row.insert(name.clone(), cell(batch.column(c), r));
            }
            rows.push(row);
        }
    }
    rows
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

/// RFC 4180 CSV with a header line.
pub fn csv(schema: &deltalake::arrow::datatypes::Schema, batches: &[RecordBatch]) -> String {
    let mut out = schema.fields().iter().map(|f| csv_field(f.name())).collect::<Vec<_>>().join(",");
    out.push('\n');
    for batch in batches {
        for r in 0..batch.num_rows() {
            let line: Vec<String> = batch
                .columns()
                .iter()
                .map(|a| match cell(a, r) {
                    Value::Null => String::new(),
                    Value::String(s) => csv_field(&s),
                    other => other.to_string(),
                })
                .collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
    }
    out
}

/// A boxed text table, as a terminal shows it.
pub fn table(batches: &[RecordBatch]) -> String {
    deltalake::arrow::util::pretty::pretty_format_batches(batches).map(|t| t.to_string()).unwrap_or_default()
}
