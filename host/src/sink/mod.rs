//! Delta Lake sinks: table schemas, row buffering, exactly-once commits, dead letters.

pub mod dead_letter;
/// JSON rows → Arrow columns (the `finlake-records` crate).
pub use finlake_records::rows;
pub mod schema;
pub mod state;
pub mod table;

pub use dead_letter::{DeadLetter, dead_letter_schema};
pub use rows::{Coordinates, RowBuffer};
pub use schema::TableSchema;
pub use table::{TableSink, app_id, replay_app_id};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Lake(#[from] crate::delta::DeltaError),
    #[error("Delta table {table}: cannot build Arrow batch: {message}")]
    Arrow { table: String, message: String },
    #[error("Delta table {table}: {message}")]
    SchemaChanged { table: String, message: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}
