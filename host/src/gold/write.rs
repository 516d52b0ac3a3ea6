//! Creating gold tables from the schema of their query, and committing rows together with the
//! progress markers (`txn` actions) that make a tick happen once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use deltalake::DeltaTable;
use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType as Arrow, Field, Schema, SchemaRef, TimeUnit};
use deltalake::kernel::{DataType, PrimitiveType, StructField, Transaction};

use super::GoldError;
use crate::delta::{self, NewTable};

/// The Delta type for a query column, and the Arrow type its values are cast to on write.
fn delta_type(name: &str, t: &Arrow) -> Result<(DataType, Arrow), GoldError> {
    let p = |p: PrimitiveType, a: Arrow| Ok((DataType::Primitive(p), a));
    match t {
        // Partition columns of a Delta source are read dictionary-encoded.
        Arrow::Dictionary(_, values) => delta_type(name, values),
        Arrow::Utf8 | Arrow::LargeUtf8 | Arrow::Utf8View => p(PrimitiveType::String, Arrow::Utf8),
        Arrow::Int64 | Arrow::UInt32 | Arrow::UInt64 => p(PrimitiveType::Long, Arrow::Int64),
        Arrow::Int32 | Arrow::UInt16 => p(PrimitiveType::Integer, Arrow::Int32),
        Arrow::Int16 | Arrow::UInt8 => p(PrimitiveType::Short, Arrow::Int16),
        Arrow::Int8 => p(PrimitiveType::Byte, Arrow::Int8),
        Arrow::Float64 | Arrow::Float16 => p(PrimitiveType::Double, Arrow::Float64),
        Arrow::Float32 => p(PrimitiveType::Float, Arrow::Float32),
        Arrow::Boolean => p(PrimitiveType::Boolean, Arrow::Boolean),
        Arrow::Date32 | Arrow::Date64 => p(PrimitiveType::Date, Arrow::Date32),
        Arrow::Timestamp(_, Some(_)) => {
            p(PrimitiveType::Timestamp, Arrow::Timestamp(TimeUnit::Microsecond, Some("UTC".into())))
        }
        Arrow::Timestamp(_, None) => p(PrimitiveType::TimestampNtz, Arrow::Timestamp(TimeUnit::Microsecond, None)),
        Arrow::Binary | Arrow::LargeBinary | Arrow::BinaryView => p(PrimitiveType::Binary, Arrow::Binary),
        Arrow::Decimal128(precision, scale) if *precision <= 38 && *scale >= 0 => Ok((
            DataType::Primitive(
                PrimitiveType::decimal(*precision, *scale as u8)
                    .map_err(|e| GoldError::Schema { message: format!("column {name:?}: {e}") })?,
            ),
            t.clone(),
        )),
        other => Err(GoldError::Schema {
            message: format!("column {name:?} has type {other} that a Delta table cannot hold; CAST it in the select"),
        }),
    }
}

/// The stored form of a query schema: Delta-compatible types, every column nullable.
pub fn stored_schema(schema: &Schema) -> Result<(Vec<StructField>, SchemaRef), GoldError> {
    let mut fields = Vec::new();
    let mut arrow = Vec::new();
    for f in schema.fields() {
        let (delta, a) = delta_type(f.name(), f.data_type())?;
        fields.push(StructField::new(f.name().clone(), delta, true));
        arrow.push(Field::new(f.name(), a, true));
    }
    Ok((fields, Arc::new(Schema::new(arrow))))
}

/// Opens the table at `root/relative`, creating it with `schema` if it does not exist yet.
pub async fn ensure_table(root: &Path, relative: &str, name: &str, schema: &Schema) -> Result<DeltaTable, GoldError> {
    let (fields, _) = stored_schema(schema)?;
    let wanted: Vec<String> = fields.iter().map(|f| f.name().to_string()).collect();
    let new = NewTable {
        name: name.to_string(),
        columns: fields,
        partition_by: vec![],
        comment: "written by FinLake (gold windows)".into(),
    };
    let (table, created) = delta::open_or_create(root, relative, new).await?;
    if !created {
        let actual: Vec<String> = delta::columns(&table, name)?.into_iter().map(|(n, _)| n).collect();
        if actual != wanted {
            return Err(GoldError::Schema {
                message: format!(
                    "table {name} exists with columns [{}] but its [[gold]] block now gives [{}]; write to a new path (or delete the table to rebuild it)",
                    actual.join(", "),
                    wanted.join(", ")
                ),
            });
        }
    }
    Ok(table)
}

/// Reads a progress marker.
pub async fn marker(table: &DeltaTable, name: &str, app_id: &str) -> Result<Option<i64>, GoldError> {
    Ok(delta::progress::stored(table, name, app_id).await?)
}

/// Appends `batches` (cast to the table's stored schema) and sets `markers`, in one commit.
pub async fn commit(
    table: &mut DeltaTable,
    name: &str,
    batches: Vec<RecordBatch>,
    markers: &[(String, i64)],
    metadata: HashMap<String, serde_json::Value>,
) -> Result<u64, GoldError> {
    let err = |e: String| GoldError::Delta { table: name.to_string(), message: e };
    let batches: Vec<RecordBatch> = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
    let mut stored_batches = Vec::new();
    if !batches.is_empty() {
        // Columns are matched by name, in the table's order, and cast to the stored types.
        let order: Vec<String> = delta::columns(table, name)?.into_iter().map(|(n, _)| n).collect();
        let (_, stored) = stored_schema(&batches[0].schema())?;
        let fields: Vec<Field> = order
            .iter()
            .map(|n| stored.field_with_name(n).cloned().map_err(|_| err(format!("the query gives no column {n:?}"))))
            .collect::<Result<_, _>>()?;
        let stored = Arc::new(Schema::new(fields));
        for batch in batches {
            let columns = stored
                .fields()
                .iter()
                .map(|f| {
                    let c = batch.column_by_name(f.name()).ok_or_else(|| err(format!("no column {:?}", f.name())))?;
                    cast(c, f.data_type()).map_err(|e| err(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            stored_batches.push(RecordBatch::try_new(stored.clone(), columns).map_err(|e| err(e.to_string()))?);
        }
    }
    let adds = delta::write_files(table, name, stored_batches).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let txns = markers.iter().map(|(id, v)| Transaction::new_with_last_update(id.clone(), *v, Some(now))).collect();
    Ok(delta::commit(table, name, adds, txns, metadata).await?)
}
