//! The live feed, `GET /api/events` (server-sent events). The first event is `snapshot`
//! (everything a page needs to draw); then named events as things happen. The SSE event name is
//! [`Event::name`], its data the JSON of the variant's body.

use serde::{Deserialize, Serialize};

use crate::{ConfigStatus, PipelineSnapshot, Refusal, StageSnapshot};

/// Everything at once: sent first on every connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Snapshot {
    pub at_ms: i64,
    pub pipelines: Vec<PipelineSnapshot>,
    pub stages: Vec<StageSnapshot>,
    pub config: ConfigStatus,
}

/// A table commit by a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommitEvent {
    pub pipeline: String,
    pub table: String,
    pub version: u64,
    pub rows: u64,
    pub at_ms: i64,
}

/// A plugin version refused at deploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefusalEvent {
    pub plugin: String,
    pub refusal: Refusal,
}

/// New rows in an alerts table (a stage output named `alerts`, e.g. `fraud_alerts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertEvent {
    pub pipeline: String,
    pub table: String,
    pub version: u64,
    pub rows: u64,
    pub at_ms: i64,
}

/// One event of the feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum Event {
    Snapshot(Snapshot),
    /// Every pipeline's counters, once a second.
    Pipelines(Vec<PipelineSnapshot>),
    /// Every stage's plugin timings, once a second.
    Plugins(Vec<StageSnapshot>),
    Commit(CommitEvent),
    Refusal(RefusalEvent),
    Alert(AlertEvent),
    /// The config in effect changed, or an edit was refused.
    Config(ConfigStatus),
}

impl Event {
    /// The SSE event name (`event:` line).
    pub fn name(&self) -> &'static str {
        match self {
            Event::Snapshot(_) => "snapshot",
            Event::Pipelines(_) => "pipelines",
            Event::Plugins(_) => "plugins",
            Event::Commit(_) => "commit",
            Event::Refusal(_) => "refusal",
            Event::Alert(_) => "alert",
            Event::Config(_) => "config",
        }
    }

    /// The SSE `data:` line: the body alone, as JSON.
    pub fn data_json(&self) -> String {
        let body = match self {
            Event::Snapshot(b) => serde_json::to_string(b),
            Event::Pipelines(b) => serde_json::to_string(b),
            Event::Plugins(b) => serde_json::to_string(b),
            Event::Commit(b) => serde_json::to_string(b),
            Event::Refusal(b) => serde_json::to_string(b),
            Event::Alert(b) => serde_json::to_string(b),
            Event::Config(b) => serde_json::to_string(b),
        };
        body.unwrap_or_else(|_| "null".into())
    }

    /// Reads an event back from its SSE name and data (the dashboard's side).
    pub fn parse(name: &str, data: &str) -> Result<Event, serde_json::Error> {
        let value: serde_json::Value = serde_json::from_str(data)?;
        serde_json::from_value(serde_json::json!({ "event": name, "data": value }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_name_and_data() {
        let e = Event::Commit(CommitEvent { pipeline: "p".into(), table: "t".into(), version: 3, rows: 10, at_ms: 1 });
        assert_eq!(e.name(), "commit");
        assert_eq!(Event::parse(e.name(), &e.data_json()).unwrap(), e);
        assert!(Event::parse("nonsense", "{}").is_err());
    }
}
