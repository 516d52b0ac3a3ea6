//! Buffers rows for one table as Arrow columns, decoding each plugin row (a JSON object) by the
//! table's schema. A row that does not fit is refused whole, with a reason naming the column.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use serde_json::Value;

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

#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Str(String),
    I64(i64),
    I32(i32),
    F64(f64),
    Bool(bool),
    Bytes(Vec<u8>),
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

    fn append(&mut self, cell: Cell) {
        match (self, cell) {
            (Builder::Str(b), Cell::Str(s)) => b.append_value(s),
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
            (Builder::Bin(b), Cell::Bytes(v)) => b.append_value(v),
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
        let value: Value = serde_json::from_slice(json).map_err(|e| format!("row is not valid JSON: {e}"))?;
        let Value::Object(mut object) = value else {
            return Err("row is not a JSON object".into());
        };
        let mut cells = Vec::with_capacity(self.schema.columns.len());
        for column in &self.schema.columns[..self.schema.user_columns] {
            let v = object.remove(&column.name).unwrap_or(Value::Null);
            let cell = to_cell(column.kind, v).map_err(|e| format!("column {:?}: {e}", column.name))?;
            if cell == Cell::Null && !column.nullable {
                return Err(format!("column {:?} is required but missing or null", column.name));
            }
            cells.push(cell);
        }
        if let Some(extra) = object.keys().next() {
            return Err(format!("field {extra:?} is not a column of this table"));
        }
        if self.schema.columns.len() > self.schema.user_columns {
            cells.push(Cell::Str(at.topic.to_string()));
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
            let key = match &cells[index] {
                Cell::Str(s) => s.clone(),
                Cell::I64(v) => v.to_string(),
                Cell::I32(v) => v.to_string(),
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
pub struct CellValue(Cell);

impl CellValue {
    pub fn str(s: impl Into<String>) -> Self {
        CellValue(Cell::Str(s.into()))
    }
    pub fn opt_str(s: Option<String>) -> Self {
        CellValue(s.map_or(Cell::Null, Cell::Str))
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
        CellValue(v.map_or(Cell::Null, Cell::Bytes))
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

fn to_cell(kind: ColumnType, v: Value) -> Result<Cell, String> {
    if v.is_null() {
        return Ok(Cell::Null);
    }
    let wrong = |v: &Value| format!("expected {}, got {}", kind_name(kind), short(v));
    Ok(match kind {
        ColumnType::String => match v {
            Value::String(s) => Cell::Str(s),
            Value::Number(n) => Cell::Str(n.to_string()),
            Value::Bool(b) => Cell::Str(b.to_string()),
            other => Cell::Str(other.to_string()),
        },
        ColumnType::Long => match &v {
            Value::Number(n) => Cell::I64(n.as_i64().ok_or_else(|| wrong(&v))?),
            _ => return Err(wrong(&v)),
        },
        ColumnType::Int => match &v {
            Value::Number(n) => Cell::I32(n.as_i64().and_then(|x| i32::try_from(x).ok()).ok_or_else(|| wrong(&v))?),
            _ => return Err(wrong(&v)),
        },
        ColumnType::Double => match &v {
            Value::Number(n) => Cell::F64(n.as_f64().ok_or_else(|| wrong(&v))?),
            _ => return Err(wrong(&v)),
        },
        ColumnType::Boolean => match v {
            Value::Bool(b) => Cell::Bool(b),
            other => return Err(wrong(&other)),
        },
        ColumnType::Timestamp => match &v {
            Value::Number(n) => {
                Cell::I64(n.as_i64().ok_or_else(|| wrong(&v))?.checked_mul(1000).ok_or_else(|| wrong(&v))?)
            }
            Value::String(s) => Cell::I64(
                chrono::DateTime::parse_from_rfc3339(s)
                    .map_err(|e| format!("timestamp {s:?} is not RFC 3339: {e}"))?
                    .timestamp_micros(),
            ),
            _ => return Err(wrong(&v)),
        },
        ColumnType::Date => match &v {
            Value::String(s) => {
                let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|e| format!("date {s:?} is not YYYY-MM-DD: {e}"))?;
                let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
                Cell::I32((d - epoch).num_days() as i32)
            }
            _ => return Err(wrong(&v)),
        },
        ColumnType::Binary => match v {
            Value::String(s) => Cell::Bytes(s.into_bytes()),
            other => Cell::Bytes(other.to_string().into_bytes()),
        },
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

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 { format!("{}…", &s[..s.floor_char_boundary(40)]) } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use finlake_config::ColumnConfig;

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
}
