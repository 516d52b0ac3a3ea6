//! Bronze: every record as it arrived, key and value as text. The host adds Kafka coordinates.
use finlake_plugin_sdk::{Config, Emitter, Plugin, Record, export_plugin};

struct Passthrough;

#[derive(serde::Serialize)]
struct RawRow<'a> {
    key: Option<&'a str>,
    value: &'a str,
}

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
        out.emit("raw", &RawRow { key: record.key_str(), value });
        Ok(())
    }
}

export_plugin!(Passthrough);
