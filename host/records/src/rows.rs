//! Buffers rows for one table as Arrow columns, decoding each plugin row (a JSON object) by the
//! table's schema. A row that does not fit is refused whole, with a reason naming the column.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use std::borrow::Cow;

use crate::json::{Json, decode_object};

use crate::schema::TableSchema;
use finlake_config::ColumnType;

/// Where a row came from in Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coordinates<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
}

/// One decoded value; text borrowed from the row where the JSON did not escape it.
#[derive(Debug, Clone, PartialEq)]
enum Cell<'a> {
    Null,
    Str(Cow<'a, str>),
    I64(i64),
    I32(i32),
    F64(f64),
    Bool(bool),
    Bytes(Cow<'a, [u8]>),
}

enum Builder {
    Str(StringBuilder),
    I64(Int64Builder),
    I32(Int32Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Ts(TimestampMicrosecondBuilder),
    Date(Date32Builder),
    Bin(BinaryBuilder),
}

impl Builder {
    fn new(kind: ColumnType) -> Self {
        match kind {
            ColumnType::String => Builder::Str(StringBuilder::new()),
            ColumnType::Long => Builder::I64(Int64Builder::new()),
            ColumnType::Int => Builder::I32(Int32Builder::new()),
            ColumnType::Double => Builder::F64(Float64Builder::new()),
            ColumnType::Boolean => Builder::Bool(BooleanBuilder::new()),
            ColumnType::Timestamp => Builder::Ts(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
            ColumnType::Date => Builder::Date(Date32Builder::new()),
            ColumnType::Binary => Builder::Bin(BinaryBuilder::new()),
        }
    }

    fn append(&mut self, cell: Cell<'_>) {
        match (self, cell) {
            (Builder::Str(b), Cell::Str(s)) => b.append_value(&*s),
            (Builder::Str(b), _) => b.append_null(),
            (Builder::I64(b), Cell::I64(v)) => b.append_value(v),
            (Builder::I64(b), _) => b.append_null(),
            (Builder::I32(b), Cell::I32(v)) => b.append_value(v),
            (Builder::I32(b), _) => b.append_null(),
            (Builder::F64(b), Cell::F64(v)) => b.append_value(v),
            (Builder::F64(b), _) => b.append_null(),
            (Builder::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (Builder::Bool(b), _) => b.append_null(),
            (Builder::Ts(b), Cell::I64(v)) => b.append_value(v),
            (Builder::Ts(b), _) => b.append_null(),
            (Builder::Date(b), Cell::I32(v)) => b.append_value(v),
            (Builder::Date(b), _) => b.append_null(),
            (Builder::Bin(b), Cell::Bytes(v)) => b.append_value(&*v),
            (Builder::Bin(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::I32(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Ts(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Bin(b) => Arc::new(b.finish()),
        }
    }
}

/// Rows waiting for the next commit of one table.
pub struct RowBuffer {
    schema: TableSchema,
    builders: Vec<Builder>,
    rows: usize,
    bytes: usize,
}

impl RowBuffer {
    pub fn new(schema: TableSchema) -> Self {
        let builders = schema.columns.iter().map(|c| Builder::new(c.kind)).collect();
        RowBuffer { schema, builders, rows: 0, bytes: 0 }
    }

    pub fn schema(&self) -> &TableSchema {
        &self.schema
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Decodes a JSON object row and appends it, or explains why it does not fit.
    pub fn push_json(&mut self, json: &[u8], at: Coordinates<'_>) -> Result<(), String> {
        self.push_json_unique(json, at, None).map(|_| ())
    }

    /// Like [`RowBuffer::push_json`]; with `unique = (column index, keys held)`, a row whose
    /// value is already held is not appended (returns `Ok(false)`), otherwise the value is
    /// added, as written now.
    pub fn push_json_unique(
        &mut self,
        json: &[u8],
        at: Coordinates<'_>,
        unique: Option<(usize, &mut crate::dedup::RecentKeys)>,
    ) -> Result<bool, String> {
        let user = &self.schema.columns[..self.schema.user_columns];
        let fields = decode_object(json, user)?;
        let mut cells = Vec::with_capacity(self.schema.columns.len());
        for (column, v) in user.iter().zip(fields.values) {
            let cell = to_cell(column.kind, v).map_err(|e| format!("column {:?}: {e}", column.name))?;
            if cell == Cell::Null && !column.nullable {
                return Err(format!("column {:?} is required but missing or null", column.name));
            }
            cells.push(cell);
        }
        if let Some(extra) = fields.extra {
            return Err(format!("field {extra:?} is not a column of this table"));
        }
        if self.schema.columns.len() > self.schema.user_columns {
            cells.push(Cell::Str(Cow::Borrowed(at.topic)));
            cells.push(Cell::I32(at.partition));
            cells.push(Cell::I64(at.offset));
            cells.push(ms_to_us(at.timestamp_ms).map_or(Cell::Null, Cell::I64));
        }
        for &(index, skew_us) in &self.schema.future_limits {
            if let Some(Cell::I64(us)) = cells.get(index) {
                let now = chrono::Utc::now().timestamp_micros();
                if *us > now.saturating_add(skew_us) {
                    let column = &self.schema.columns[index].name;
                    return Err(format!(
                        "column {column:?}: event time {} is {} ahead of the clock, more than the gold future_skew ({}) allows; it would move the watermark past every later row. Fix the producer's clock, then replay",
                        render_us(*us),
                        render_span(us.saturating_sub(now)),
                        render_span(skew_us)
                    ));
                }
            }
        }
        if let Some((index, seen)) = unique {
            let mut number = itoa_buffer();
            let key: &str = match &cells[index] {
                Cell::Str(s) => s,
                Cell::I64(v) => number.format(*v),
                Cell::I32(v) => number.format(*v),
                _ => return Err(format!("column {:?} (the unique key) is missing", self.schema.columns[index].name)),
            };
            if !seen.insert(key, chrono::Utc::now().timestamp_millis()) {
                return Ok(false);
            }
        }
        for (builder, cell) in self.builders.iter_mut().zip(cells) {
            builder.append(cell);
        }
        self.rows += 1;
        self.bytes += json.len() + 32;
        Ok(true)
    }

    /// Appends an already-typed row (used for dead letters, whose schema is fixed).
    pub fn push_cells(&mut self, cells: Vec<CellValue>) {
        for (builder, cell) in self.builders.iter_mut().zip(cells) {
            self.bytes += cell.size();
            builder.append(cell.0);
        }
        self.rows += 1;
    }

    /// Takes the buffered rows as one record batch, leaving the buffer empty.
    pub fn take_batch(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(self.schema.arrow.clone(), columns)
    }
}

/// A typed value for [`RowBuffer::push_cells`].
pub struct CellValue(Cell<'static>);

impl CellValue {
    pub fn str(s: impl Into<String>) -> Self {
        CellValue(Cell::Str(Cow::Owned(s.into())))
    }
    pub fn opt_str(s: Option<String>) -> Self {
        CellValue(s.map_or(Cell::Null, |s| Cell::Str(Cow::Owned(s))))
    }
    pub fn i32(v: i32) -> Self {
        CellValue(Cell::I32(v))
    }
    pub fn i64(v: i64) -> Self {
        CellValue(Cell::I64(v))
    }
    /// Milliseconds since the epoch; unknown (negative) or out of range becomes null.
    pub fn ts_ms(v: i64) -> Self {
        CellValue(ms_to_us(v).map_or(Cell::Null, Cell::I64))
    }
    pub fn bytes(v: Option<Vec<u8>>) -> Self {
        CellValue(v.map_or(Cell::Null, |v| Cell::Bytes(Cow::Owned(v))))
    }
    fn size(&self) -> usize {
        match &self.0 {
            Cell::Str(s) => s.len(),
            Cell::Bytes(b) => b.len(),
            _ => 8,
        }
    }
}

/// A record's millisecond time as microseconds: `None` when unknown (negative, as Kafka says
/// -1) or too large to convert (a hostile timestamp near `i64::MAX`).
pub fn ms_to_us(ms: i64) -> Option<i64> {
    if ms < 0 { None } else { ms.checked_mul(1000) }
}

fn render_us(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us).map(|t| t.to_rfc3339()).unwrap_or_else(|| format!("{us} µs"))
}

fn render_span(us: i64) -> String {
    let s = us / 1_000_000;
    match s {
        s if s >= 86_400 * 365 => format!("{} years", s / (86_400 * 365)),
        s if s >= 86_400 => format!("{} days", s / 86_400),
        s if s >= 3600 => format!("{} h", s / 3600),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn to_cell(kind: ColumnType, v: Json<'_>) -> Result<Cell<'_>, String> {
    let wrong = |v: &Json<'_>| format!("expected {}, got {}", kind_name(kind), short(v));
    Ok(match (kind, v) {
        (_, Json::Null) => Cell::Null,
        (ColumnType::String, Json::Str(s)) => Cell::Str(s),
        (ColumnType::String, other) => Cell::Str(Cow::Owned(other.to_json())),
        (ColumnType::Long, Json::I64(n)) => Cell::I64(n),
        (ColumnType::Int, Json::I64(n)) => Cell::I32(i32::try_from(n).map_err(|_| wrong(&Json::I64(n)))?),
        (ColumnType::Double, Json::I64(n)) => Cell::F64(n as f64),
        (ColumnType::Double, Json::U64(n)) => Cell::F64(n as f64),
        (ColumnType::Double, Json::F64(n)) => Cell::F64(n),
        (ColumnType::Boolean, Json::Bool(b)) => Cell::Bool(b),
        (ColumnType::Timestamp, Json::I64(n)) => Cell::I64(n.checked_mul(1000).ok_or_else(|| wrong(&Json::I64(n)))?),
        (ColumnType::Timestamp, Json::Str(s)) => Cell::I64(
            chrono::DateTime::parse_from_rfc3339(&s)
                .map_err(|e| format!("timestamp {s:?} is not RFC 3339: {e}"))?
                .timestamp_micros(),
        ),
        (ColumnType::Date, Json::Str(s)) => {
            let d = chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map_err(|e| format!("date {s:?} is not YYYY-MM-DD: {e}"))?;
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            Cell::I32((d - epoch).num_days() as i32)
        }
        (ColumnType::Binary, Json::Str(s)) => Cell::Bytes(match s {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        }),
        (ColumnType::Binary, other) => Cell::Bytes(Cow::Owned(other.to_json().into_bytes())),
        (_, other) => return Err(wrong(&other)),
    })
}

fn kind_name(kind: ColumnType) -> &'static str {
    match kind {
        ColumnType::String => "a string",
        ColumnType::Long => "an integer",
        ColumnType::Int => "a 32-bit integer",
        ColumnType::Double => "a number",
        ColumnType::Boolean => "true or false",
        ColumnType::Timestamp => "epoch milliseconds or RFC 3339 text",
        ColumnType::Date => "YYYY-MM-DD text",
        ColumnType::Binary => "text",
    }
}

fn short(v: &Json<'_>) -> String {
    let s = v.to_json();
    if s.len() > 40 { format!("{}…", &s[..s.floor_char_boundary(40)]) } else { s }
}

fn itoa_buffer() -> NumberText {
    NumberText(String::new())
}

/// Text of an integer key, in a buffer that lives as long as the borrow of it.
struct NumberText(String);

impl NumberText {
    fn format(&mut self, v: impl std::fmt::Display) -> &str {
        use std::fmt::Write;
        self.0.clear();
        let _ = write!(self.0, "{v}");
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use finlake_config::ColumnConfig;
    use serde_json::Value;

    fn buffer() -> RowBuffer {
        let cols = vec![
            ColumnConfig { name: "s".into(), kind: ColumnType::String, nullable: false },
            ColumnConfig { name: "n".into(), kind: ColumnType::Long, nullable: true },
            ColumnConfig { name: "t".into(), kind: ColumnType::Timestamp, nullable: true },
        ];
        let mut all = cols.clone();
        all.extend(crate::schema::kafka_columns());
        RowBuffer::new(TableSchema::new(all, cols.len(), vec![]))
    }

    const AT: Coordinates<'static> = Coordinates { topic: "t", partition: 1, offset: 7, timestamp_ms: 1000 };

    #[test]
    fn decodes_rows_and_refuses_misfits_whole() {
        let mut b = buffer();
        b.push_json(br#"{"s":"a","n":5,"t":"2026-01-01T00:00:00Z"}"#, AT).unwrap();
        b.push_json(br#"{"s":"b","t":1700000000000}"#, AT).unwrap();
        assert_eq!(b.push_json(br#"{"n":1}"#, AT).unwrap_err(), "column \"s\" is required but missing or null");
        assert!(b.push_json(br#"{"s":"c","n":"x"}"#, AT).unwrap_err().starts_with("column \"n\": expected an integer"));
        assert!(b.push_json(br#"{"s":"c","zzz":1}"#, AT).unwrap_err().contains("\"zzz\" is not a column"));
        assert!(b.push_json(b"[1]", AT).is_err());
        let batch = b.take_batch().unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.num_columns(), 7);
        assert!(b.is_empty());
    }

    /// Every column type against what a `serde_json::Value` read of the same row gives: the
    /// direct decoder must take and refuse exactly what the tree did, with the same values.
    #[test]
    fn direct_decoding_agrees_with_a_value_tree() {
        use arrow_array::Array;
        let kinds = [
            ColumnType::String,
            ColumnType::Long,
            ColumnType::Int,
            ColumnType::Double,
            ColumnType::Boolean,
            ColumnType::Timestamp,
            ColumnType::Date,
            ColumnType::Binary,
        ];
        let values = [
            "null",
            "\"text\"",
            "\"esc\\\"aped\\u00e9\"",
            "0",
            "-7",
            "2147483648",
            "9223372036854775807",
            "18446744073709551615",
            "1.5",
            "1e300",
            "-0.0",
            "true",
            "[1,{\"a\":null}]",
            "{\"k\":[]}",
            "\"2026-01-01T00:00:00+02:00\"",
            "\"2026-02-30\"",
            "\"2026-02-03\"",
            "1700000000000",
        ];
        for kind in kinds {
            let cols = vec![ColumnConfig { name: "v".into(), kind, nullable: true }];
            for v in values {
                let row = format!("{{\"v\":{v}}}");
                let mut b = RowBuffer::new(TableSchema::new(cols.clone(), 1, vec![]));
                let got = b.push_json(row.as_bytes(), AT).map(|()| b.take_batch().unwrap());
                let value: Value = serde_json::from_str(v).unwrap();
                let expected = reference::to_text(kind, &value);
                match (got, expected) {
                    (Ok(batch), Ok(text)) => {
                        let col = batch.column(0);
                        let shown = if col.is_null(0) { None } else { Some(arrow_cast_text(col.as_ref())) };
                        assert_eq!(shown, text, "{kind:?} {v}");
                    }
                    (Err(_), Err(())) => {}
                    (got, expected) => panic!("{kind:?} {v}: got {got:?}, a Value read gives {expected:?}"),
                }
            }
        }
        // Duplicate fields: the last wins, as in a map. Escaped names are names.
        let mut b = buffer();
        b.push_json(br#"{"s":"a","s":"b","\u006e":3}"#, AT).unwrap();
        let batch = b.take_batch().unwrap();
        assert_eq!(arrow_cast_text(batch.column(0).as_ref()), "b");
        assert_eq!(arrow_cast_text(batch.column(1).as_ref()), "3");
        assert_eq!(buffer().push_json(b" [1] ", AT).unwrap_err(), "row is not a JSON object");
        assert!(buffer().push_json(br#"{"s":"a"} x"#, AT).unwrap_err().starts_with("row is not valid JSON"));
    }

    fn arrow_cast_text(col: &dyn arrow_array::Array) -> String {
        use arrow_array::cast::AsArray;
        use arrow_array::types::*;
        use arrow_schema::DataType;
        match col.data_type() {
            DataType::Utf8 => col.as_string::<i32>().value(0).to_string(),
            DataType::Int64 => col.as_primitive::<Int64Type>().value(0).to_string(),
            DataType::Int32 => col.as_primitive::<Int32Type>().value(0).to_string(),
            DataType::Float64 => col.as_primitive::<Float64Type>().value(0).to_string(),
            DataType::Boolean => col.as_boolean().value(0).to_string(),
            DataType::Timestamp(..) => col.as_primitive::<TimestampMicrosecondType>().value(0).to_string(),
            DataType::Date32 => col.as_primitive::<Date32Type>().value(0).to_string(),
            DataType::Binary => String::from_utf8_lossy(col.as_binary::<i32>().value(0)).into_owned(),
            other => panic!("{other}"),
        }
    }

    /// The decoding of a `Value` tree this crate used before decoding rows directly: the
    /// reference the direct decoder is checked against.
    mod reference {
        use super::*;

        /// The cell as text (`None` = null), or `Err` when the value does not fit.
        pub fn to_text(kind: ColumnType, v: &Value) -> Result<Option<String>, ()> {
            if v.is_null() {
                return Ok(None);
            }
            let text = match kind {
                ColumnType::String | ColumnType::Binary => match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
                ColumnType::Long => v.as_i64().ok_or(())?.to_string(),
                ColumnType::Int => i32::try_from(v.as_i64().ok_or(())?).map_err(|_| ())?.to_string(),
                ColumnType::Double => match v {
                    Value::Number(n) => n.as_f64().ok_or(())?.to_string(),
                    _ => return Err(()),
                },
                ColumnType::Boolean => v.as_bool().ok_or(())?.to_string(),
                ColumnType::Timestamp => match v {
                    Value::Number(n) => n.as_i64().and_then(|n| n.checked_mul(1000)).ok_or(())?.to_string(),
                    Value::String(s) => {
                        chrono::DateTime::parse_from_rfc3339(s).map_err(|_| ())?.timestamp_micros().to_string()
                    }
                    _ => return Err(()),
                },
                ColumnType::Date => {
                    let d = chrono::NaiveDate::parse_from_str(v.as_str().ok_or(())?, "%Y-%m-%d").map_err(|_| ())?;
                    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
                    ((d - epoch).num_days() as i32).to_string()
                }
            };
            Ok(Some(text))
        }
    }
}
