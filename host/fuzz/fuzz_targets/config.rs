//! `pipelines.toml` text → parse → validate, and the secret redaction the API applies to it:
//! no input may panic, every problem is located inside the text, and redaction round-trips.
#![no_main]

use finlake_config::{Config, REDACTED_PREFIX, is_secret_property, redact, unredact};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines = text.lines().count().max(1) + 1;
    match Config::parse(text, "fuzz.toml") {
        Ok(config) => {
            for p in config.validate(text, "fuzz.toml") {
                assert!(p.line >= 1 && p.line <= lines && p.col >= 1, "problem outside the text: {p}");
            }
            // What the API shows parses again, and saving it back restores the text.
            // No secret survives: the token and every secret property read as placeholders.
            let shown = redact(text);
            let redacted = |v: &str| v.starts_with(REDACTED_PREFIX);
            if let Ok(seen) = Config::parse(&shown, "shown.toml") {
                assert!(seen.api.token.as_deref().is_none_or(redacted), "the token survived redaction");
                for (k, v) in &seen.kafka.properties {
                    assert!(!is_secret_property(k) || redacted(v), "property {k} survived redaction");
                }
            }
            if shown != text {
                assert_eq!(unredact(&shown, text).as_deref(), Ok(text));
            }
        }
        Err(e) => {
            for p in e.problems() {
                assert!(p.line >= 1 && p.line <= lines && p.col >= 1, "problem outside the text: {p}");
            }
        }
    }
});
