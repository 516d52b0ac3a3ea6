//! A plugin's JSON row → Arrow columns by a table's schema (every column type, the Kafka
//! columns, a future-time limit): no panic, a refused row leaves the buffer as it was, and the
//! buffer always makes a valid Arrow batch of exactly the accepted rows.
#![no_main]

use finlake_config::{ColumnConfig, ColumnType, TableConfig};
use finlake_records::rows::{Coordinates, RowBuffer};
use finlake_records::schema::TableSchema;
use libfuzzer_sys::fuzz_target;

fn schema() -> TableSchema {
    let c = |name: &str, kind, nullable| ColumnConfig { name: name.into(), kind, nullable };
    let table = TableConfig {
        dedup_horizon: "1h".into(),
        name: "t".into(),
        path: None,
        layer: None,
        partition_by: vec![],
        columns: vec![
            c("s", ColumnType::String, false),
            c("l", ColumnType::Long, true),
            c("i", ColumnType::Int, true),
            c("d", ColumnType::Double, true),
            c("b", ColumnType::Boolean, true),
            c("t", ColumnType::Timestamp, true),
            c("day", ColumnType::Date, true),
            c("bin", ColumnType::Binary, true),
        ],
        kafka_columns: true,
        unique_key: None,
        from: Default::default(),
    };
    TableSchema::from_config(&table).with_future_limits(&[("t".into(), 300_000_000)])
}

fuzz_target!(|data: &[u8]| {
    let mut buffer = RowBuffer::new(schema());
    let mut accepted = 0;
    // Each line is one row; the record's Kafka timestamp comes from the row's length, the
    // extremes included.
    for (n, line) in data.split(|b| *b == b'\n').enumerate() {
        let timestamp_ms = match n % 3 {
            0 => i64::MAX - line.len() as i64,
            1 => -1,
            _ => line.len() as i64 * 1_000_000_007,
        };
        let at = Coordinates { topic: "topic", partition: 0, offset: n as i64, timestamp_ms };
        let before = buffer.len();
        match buffer.push_json(line, at) {
            Ok(()) => accepted += 1,
            Err(_) => assert_eq!(buffer.len(), before, "a refused row changed the buffer"),
        }
    }
    let batch = buffer.take_batch().expect("the buffered rows make a valid Arrow batch");
    assert_eq!(batch.num_rows(), accepted);
    assert!(buffer.is_empty());
});
