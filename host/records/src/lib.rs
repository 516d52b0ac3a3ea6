//! What crosses FinLake's boundaries and must survive anything sent across them: the flat
//! layout of a plugin's batch result ([`layout`]: decoding it and bounding what it may cost),
//! and JSON rows decoded into Arrow columns by a table's schema ([`rows`], [`schema`]).
//!
//! A crate of its own (no Wasm runtime, Kafka or Delta), so both decoders are fuzzed without
//! building the host (`host/fuzz`).

pub mod dedup;
pub mod json;
pub mod layout;
pub mod rows;
pub mod schema;
