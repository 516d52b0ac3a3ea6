//! The request and response bodies of FinLake's HTTP API, in one place.
//!
//! The host serialises these, the CLI's remote commands and the web dashboard deserialise
//! them: a renamed field fails to compile on every side instead of failing in a browser. With
//! the `openapi` feature each type also describes itself (utoipa), and the host serves the
//! OpenAPI document built from them at `/api/openapi.json`.
//!
//! Times are RFC 3339 strings (UTC) unless a field ends in `_ms` (milliseconds since the Unix
//! epoch) or is a duration (`*_ms` as `f64`).

mod events;
mod lake;
mod shadow;
mod status;

pub use events::*;
pub use lake::*;
pub use shadow::*;
pub use status::*;

use serde::{Deserialize, Serialize};

/// Every error answer: a message a person can act on, and for config edits each problem at
/// its place (`file:line:col: message`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// The paths of the API, so clients build them in one way.
pub mod paths {
    pub const HEALTH: &str = "/api/health";
    pub const PIPELINES: &str = "/api/pipelines";
    pub const GRAPH: &str = "/api/graph";
    pub const PLUGINS: &str = "/api/plugins";
    pub const CONFIG: &str = "/api/config";
    pub const CONFIG_STATUS: &str = "/api/config/status";
    pub const TABLES: &str = "/api/tables";
    pub const QUERY: &str = "/api/query";
    pub const DEAD_LETTERS: &str = "/api/dead-letters";
    pub const DEAD_LETTERS_REPLAY: &str = "/api/dead-letters/replay";
    pub const FRAUD_MODELS: &str = "/api/fraud/models";
    pub const EVENTS: &str = "/api/events";
    pub const OPENAPI: &str = "/api/openapi.json";

    pub fn plugin(name: &str) -> String {
        format!("/api/plugins/{}", encode(name))
    }
    pub fn plugin_shadow(name: &str) -> String {
        format!("/api/plugins/{}/shadow", encode(name))
    }
    pub fn plugin_rollback(name: &str) -> String {
        format!("/api/plugins/{}/rollback", encode(name))
    }
    pub fn table_history(name: &str, limit: usize) -> String {
        format!("/api/tables/{}/history?limit={limit}", encode(name))
    }
    pub fn resume(pipeline: &str) -> String {
        format!("/api/pipelines/{}/resume", encode(pipeline))
    }

    /// Percent-encodes a path segment or query value (names are usually plain already).
    pub fn encode(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for b in text.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_encode_names() {
        assert_eq!(paths::plugin("normalize-trade"), "/api/plugins/normalize-trade");
        assert_eq!(paths::table_history("a b/c", 5), "/api/tables/a%20b%2Fc/history?limit=5");
    }

    #[test]
    fn error_body_omits_empty_problems_and_reads_without_them() {
        let e = ErrorBody { error: "nope".into(), problems: vec![] };
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"error":"nope"}"#);
        let back: ErrorBody = serde_json::from_str(r#"{"error":"x","problems":["f:1:2: y"]}"#).unwrap();
        assert_eq!(back.to_string(), "x\n  f:1:2: y");
    }

    #[test]
    fn pipeline_state_is_a_flat_string_with_detail_beside_it() {
        let p = PipelineSnapshot {
            name: "p".into(),
            state: PipelineState::Paused,
            detail: Some("stage x failed".into()),
            ..PipelineSnapshot::default()
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["state"], "paused");
        assert_eq!(v["detail"], "stage x failed");
        let back: PipelineSnapshot = serde_json::from_value(v).unwrap();
        assert_eq!(back.state, PipelineState::Paused);
    }
}
