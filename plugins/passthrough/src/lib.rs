//! Bronze: every record as it arrived, key and value as text. The host adds Kafka coordinates.
use finlake_plugin_sdk::{Config, Emitter, Plugin, Record, export_plugin};

struct Passthrough;

impl Plugin for Passthrough {
    const NAME: &'static str = "passthrough";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn new(_config: Config) -> Result<Self, String> {
        Ok(Passthrough)
    }

    fn process(&mut self, record: &Record<'_>, out: &mut Emitter) -> Result<(), String> {
        // Non-UTF-8 payloads cannot be a text column; they are rejected, which puts the raw
        // bytes in the dead-letter table rather than losing them.
        let value = record.value_str()?;
        // Written field by field: the value is JSON text inside a JSON string, so nearly every
        // record needs escaping, and JsonRow finds the bytes to escape a word at a time where
        // serde tests every byte (docs/PERFORMANCE.md).
        out.emit_row("raw", |row| {
            row.opt_str("key", record.key_str()).str("value", value);
        });
        Ok(())
    }
}

export_plugin!(Passthrough);
