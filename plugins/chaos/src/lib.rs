//! Test fixture: a plugin that misbehaves on command, to prove the host's limits.
//!
//! Config `{"tag": "..."}` is copied into every row. A record whose value contains
//! `LOOP` spins forever, `HOG` allocates until memory runs out, `TRAP` panics (a Wasm trap),
//! `REJECT` is rejected. Config `{"fail_init": true}` makes `init` fail; `{"mode": "noop"}`
//! makes it emit nothing.
use finlake_plugin_sdk::{Config, Emitter, Plugin, Record, export_plugin};

struct Chaos {
    tag: String,
    /// `{"mode": "noop"}`: emit nothing (used to measure the bare boundary cost).
    noop: bool,
}

impl Plugin for Chaos {
    const NAME: &'static str = "chaos";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn new(config: Config) -> Result<Self, String> {
        if config.get("fail_init").and_then(|v| v.as_bool()) == Some(true) {
            return Err("fail_init is set".into());
        }
        let tag = config.get("tag").and_then(|v| v.as_str()).unwrap_or("").to_string();
        let noop = config.get("mode").and_then(|v| v.as_str()) == Some("noop");
        Ok(Chaos { tag, noop })
    }

    fn process(&mut self, record: &Record<'_>, out: &mut Emitter) -> Result<(), String> {
        if self.noop {
            std::hint::black_box(record.value);
            return Ok(());
        }
        let value = record.value_str()?;
        if value.contains("LOOP") {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        if value.contains("HOG") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        if value.contains("TRAP") {
            panic!("asked to trap");
        }
        if value.contains("REJECT") {
            return Err("asked to reject".into());
        }
        out.emit("out", &serde_json::json!({ "value": value, "tag": self.tag }));
        Ok(())
    }
}

export_plugin!(Chaos);
