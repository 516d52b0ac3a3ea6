//! `[[gold]]`: event-time window aggregations over a silver table, kept in a gold table.

use serde::{Deserialize, Serialize};

/// One gold table: windows of `window` over `source`'s `event_time`, grouped by `group_by`,
/// with the `select` aggregates. A window is written once, when the watermark (the highest
/// event time seen in `source` minus `allowed_lateness`) passes its end. Rows that arrive for a
/// window already written go to `late_table` instead (see docs/ARCHITECTURE.md, "Gold").
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GoldConfig {
    /// Table name (queried by this name).
    pub name: String,
    /// Path under the lake root; defaults to `gold/<name>`.
    #[serde(default)]
    pub path: Option<String>,
    /// A `[[tables]]` table written by a pipeline (normally silver).
    pub source: String,
    /// The source's timestamp column that windows are cut on.
    #[serde(default = "event_time")]
    pub event_time: String,
    /// Window length: `30s`, `1m`, `1h`, `1d` (tumbling windows aligned to the Unix epoch, UTC).
    pub window: String,
    /// How far behind the highest event time a window still waits for stragglers.
    #[serde(default = "zero")]
    pub allowed_lateness: String,
    /// Source columns each window is computed per (e.g. `["symbol"]`).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Aggregate columns as DataFusion SQL, each `<expression> AS <name>`, e.g.
    /// `"first_value(price ORDER BY event_time) AS open"`.
    pub select: Vec<String>,
    /// Where rows for already-written windows go; defaults to `<name>_late`.
    #[serde(default)]
    pub late_table: Option<String>,
    /// How often the source's Delta log is checked for new commits.
    #[serde(default = "poll_ms")]
    pub poll_ms: u64,
    /// How far ahead of the clock an event time may be. A source row further ahead (a producer
    /// with a wrong clock, `"ts": "9999-01-01T00:00:00Z"`) would move the watermark there and
    /// make every later row late; the pipeline writing the source dead-letters it instead, with
    /// the reason.
    #[serde(default = "future_skew")]
    pub future_skew: String,
}

fn future_skew() -> String {
    "5m".into()
}

fn event_time() -> String {
    "event_time".into()
}
fn zero() -> String {
    "0s".into()
}
fn poll_ms() -> u64 {
    1000
}

impl GoldConfig {
    /// The path under the lake root, normalised.
    pub fn relative_path(&self) -> String {
        let raw = self.path.clone().unwrap_or_else(|| format!("gold/{}", self.name));
        super::normalize_table_path(&raw).unwrap_or(raw)
    }

    pub fn late_table_name(&self) -> String {
        self.late_table.clone().unwrap_or_else(|| format!("{}_late", self.name))
    }

    pub fn late_relative_path(&self) -> String {
        format!("late/{}", self.late_table_name())
    }

    /// Window length in microseconds (validated to parse).
    pub fn window_us(&self) -> i64 {
        parse_duration_us(&self.window).unwrap_or(60_000_000)
    }

    pub fn lateness_us(&self) -> i64 {
        parse_duration_us(&self.allowed_lateness).unwrap_or(0)
    }

    pub fn future_skew_us(&self) -> i64 {
        parse_duration_us(&self.future_skew).unwrap_or(300_000_000)
    }
}

/// `500ms`, `30s`, `5m`, `1h`, `1d` → microseconds.
pub fn parse_duration_us(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: i64 = digits.parse().map_err(|_| format!("{text:?} is not a duration like 30s, 1m, 1h or 1d"))?;
    let scale = match unit.trim() {
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return Err(format!("{text:?}: unit must be ms, s, m, h or d")),
    };
    n.checked_mul(scale).ok_or_else(|| format!("{text:?} is too long"))
}
