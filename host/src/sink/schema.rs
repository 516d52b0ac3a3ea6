//! Delta types of table schemas (the Arrow side is `finlake_records::schema`).

use deltalake::kernel::{DataType, PrimitiveType, StructField};

use crate::config::ColumnType;

pub use finlake_records::schema::{TableSchema, arrow_type, kafka_columns};

/// The Delta fields of a table schema, in order.
pub fn delta_fields(schema: &TableSchema) -> Vec<StructField> {
    schema.columns.iter().map(|c| StructField::new(c.name.clone(), delta_type(c.kind), c.nullable)).collect()
}

pub fn delta_type(kind: ColumnType) -> DataType {
    DataType::Primitive(match kind {
        ColumnType::String => PrimitiveType::String,
        ColumnType::Long => PrimitiveType::Long,
        ColumnType::Int => PrimitiveType::Integer,
        ColumnType::Double => PrimitiveType::Double,
        ColumnType::Boolean => PrimitiveType::Boolean,
        ColumnType::Timestamp => PrimitiveType::Timestamp,
        ColumnType::Date => PrimitiveType::Date,
        ColumnType::Binary => PrimitiveType::Binary,
    })
}
