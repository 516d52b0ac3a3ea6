//! Test fixture: a plugin that misbehaves on command, to prove the host's limits.
//!
//! Config `{"tag": "..."}` is copied into every row. A record whose value contains
//! `LOOP` spins forever, `HOG` allocates until memory runs out, `TRAP` panics (a Wasm trap),
//! `REJECT` is rejected. Config `{"fail_init": true}` makes `init` fail; `{"mode": "noop"}`
//! makes it emit nothing; `{"with_version": true}` adds the plugin's version to every row;
//! `{"trap_on": "WORD"}` traps on WORD instead of `TRAP` (a config fix for a poison record).
//! Hostile results: `FLOOD` emits 5000 rows for the one record, `BIGNAME` emits rows to an
//! output whose name is a megabyte long.
//!
//! Built more than once by `xtask/build-plugins.sh` to get distinct versions for hot-swap tests:
//! `CHAOS_VERSION` overrides the version, and `CHAOS_BROKEN=1` builds one that traps on every
//! record (a bad release that must be refused).
use finlake_plugin_sdk::{Config, Emitter, Plugin, Record, export_plugin};

/// The declared version: `CHAOS_VERSION` at build time, else the crate's.
const VERSION: &str = match option_env!("CHAOS_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};
const BROKEN: bool = option_env!("CHAOS_BROKEN").is_some();

struct Chaos {
    tag: String,
    with_version: bool,
    trap_on: String,
    /// `{"mode": "noop"}`: emit nothing (used to measure the bare boundary cost).
    noop: bool,
}

impl Plugin for Chaos {
    const NAME: &'static str = "chaos";
    const VERSION: &'static str = VERSION;

    fn new(config: Config) -> Result<Self, String> {
        if config.get("fail_init").and_then(|v| v.as_bool()) == Some(true) {
            return Err("fail_init is set".into());
        }
        let tag = config.get("tag").and_then(|v| v.as_str()).unwrap_or("").to_string();
        let noop = config.get("mode").and_then(|v| v.as_str()) == Some("noop");
        let with_version = config.get("with_version").and_then(|v| v.as_bool()) == Some(true);
        let trap_on = config.get("trap_on").and_then(|v| v.as_str()).unwrap_or("TRAP").to_string();
        Ok(Chaos { tag, with_version, trap_on, noop })
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
        if value.contains(self.trap_on.as_str()) || BROKEN {
            panic!("asked to trap");
        }
        if value.contains("FLOOD") {
            for i in 0..5000 {
                out.emit("out", &serde_json::json!({ "value": format!("{value}-{i}"), "tag": self.tag }));
            }
            return Ok(());
        }
        if value.contains("BIGNAME") {
            let name = "o".repeat(1 << 20);
            for _ in 0..10 {
                out.emit(&name, &serde_json::json!({ "value": value }));
            }
            return Ok(());
        }
        if value.contains("REJECT") {
            return Err("asked to reject".into());
        }
        if self.with_version {
            out.emit("out", &serde_json::json!({ "value": value, "tag": self.tag, "version": VERSION }));
        } else {
            out.emit("out", &serde_json::json!({ "value": value, "tag": self.tag }));
        }
        Ok(())
    }
}

export_plugin!(Chaos);
