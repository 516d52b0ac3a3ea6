//! Reading the dead-letter tables: which dead letters are still pending, for `finlake dlq
//! list`, `GET /api/dead-letters` and replay.
//!
//! A dead letter is identified by its record, the step that failed and what that step received:
//! (topic, partition, offset, stage, target table, value). One record can leave several letters
//! at one step (a stage fed two rows from it); they differ by value, or are counted when equal.
//! Replaying appends a *marker* row (`error_kind = "replayed"`, reason `replay <n>: <outcome>`)
//! per letter — and, if it fails again, a new dead letter. So per identity, the pending letters
//! are the newest `letters − markers`; no row is ever updated, and none is replayed twice.

use std::collections::BTreeMap;
use std::path::Path;

use deltalake::arrow::array::{Array, AsArray, RecordBatch};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType, Int32Type, Int64Type};
use serde::Serialize;

/// `error_kind` of a replay marker.
pub const REPLAYED: &str = "replayed";

#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("dead-letter table {table}: {message}")]
    Read { table: String, message: String },
}

/// One row of a dead-letter table.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetterRow {
    pub pipeline: String,
    pub stage: String,
    pub plugin: String,
    pub plugin_version: String,
    pub error_kind: String,
    pub reason: String,
    pub target_table: Option<String>,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub kafka_timestamp_ms: Option<i64>,
    #[serde(skip)]
    pub key: Option<Vec<u8>>,
    /// What the failing step received, as text when it is UTF-8.
    #[serde(serialize_with = "as_text")]
    pub value: Vec<u8>,
    pub failed_at_ms: i64,
}

fn as_text<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(v))
}

type Identity = (String, i32, i64, String, Option<String>, Vec<u8>);

impl DeadLetterRow {
    /// The row as the API shows it: key and value as text.
    pub fn to_api(&self) -> finlake_api::DeadLetter {
        finlake_api::DeadLetter {
            pipeline: self.pipeline.clone(),
            stage: self.stage.clone(),
            plugin: self.plugin.clone(),
            plugin_version: self.plugin_version.clone(),
            error_kind: self.error_kind.clone(),
            reason: self.reason.clone(),
            target_table: self.target_table.clone(),
            topic: self.topic.clone(),
            partition: self.partition,
            offset: self.offset,
            kafka_timestamp_ms: self.kafka_timestamp_ms,
            key: self.key.as_deref().map(|k| String::from_utf8_lossy(k).into_owned()),
            value: String::from_utf8_lossy(&self.value).into_owned(),
            value_bytes: self.value.len() as u64,
            value_is_utf8: std::str::from_utf8(&self.value).is_ok(),
            failed_at_ms: self.failed_at_ms,
        }
    }

    fn identity(&self) -> Identity {
        (
            self.topic.clone(),
            self.partition,
            self.offset,
            self.stage.clone(),
            self.target_table.clone(),
            self.value.clone(),
        )
    }

    pub fn is_marker(&self) -> bool {
        self.error_kind == REPLAYED
    }

    /// The replay number of a marker (`replay <n>: ...`).
    pub fn replay_number(&self) -> Option<i64> {
        self.reason.strip_prefix("replay ")?.split(':').next()?.parse().ok()
    }
}

/// Which dead letters to list or replay.
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub pipeline: Option<String>,
    /// Only dead letters that failed at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    pub stage: Option<String>,
    pub limit: Option<usize>,
}

impl Filter {
    fn matches(&self, row: &DeadLetterRow) -> bool {
        self.pipeline.as_ref().is_none_or(|p| &row.pipeline == p)
            && self.since_ms.is_none_or(|t| row.failed_at_ms >= t)
            && self.stage.as_ref().is_none_or(|s| &row.stage == s)
    }
}

/// Parses `--since`: an RFC 3339 time (or `YYYY-MM-DD[ HH:MM[:SS]]`, UTC), or a duration back
/// from now (`30m`, `2h`, `1d`).
pub fn parse_since(text: &str) -> Result<i64, String> {
    if let Ok(us) = crate::config::parse_duration_us(text) {
        return Ok(chrono::Utc::now().timestamp_millis() - us / 1000);
    }
    crate::query::parse_timestamp(text).map(|t| t.timestamp_millis()).map_err(|_| {
        format!("--since {text:?}: expected a time (2026-11-27T10:00:00Z) or a duration back from now (30m, 2h)")
    })
}

/// Paths (under the lake root) of the dead-letter tables of `pipeline`, or of every pipeline.
pub fn tables(config: &crate::config::Config, pipeline: Option<&str>) -> Vec<String> {
    let mut tables: Vec<String> = config
        .pipelines
        .iter()
        .filter(|p| pipeline.is_none_or(|n| p.name == n))
        .map(|p| {
            config
                .table(&p.dead_letter_table)
                .map(|t| t.relative_path().to_string())
                .unwrap_or(p.dead_letter_table.clone())
        })
        .collect();
    tables.sort();
    tables.dedup();
    tables
}

/// Every row of the dead-letter table at `root/relative` (empty before its first commit).
pub async fn read(root: &Path, relative: &str) -> Result<Vec<DeadLetterRow>, DlqError> {
    let err = |message: String| DlqError::Read { table: relative.to_string(), message };
    let Some(table) = crate::delta::open(root, relative).await.map_err(|e| err(e.to_string()))? else {
        return Ok(vec![]);
    };
    let batches = crate::delta::scan(&table, &[]).await.map_err(&err)?;
    let mut out = Vec::new();
    for batch in &batches {
        rows_of(batch, &mut out).map_err(&err)?;
    }
    out.sort_by_key(|r| (r.failed_at_ms, r.partition, r.offset));
    Ok(out)
}

fn rows_of(batch: &RecordBatch, out: &mut Vec<DeadLetterRow>) -> Result<(), String> {
    let column = |name: &str, to: &DataType| {
        let c = batch.column_by_name(name).ok_or_else(|| format!("no column {name}"))?;
        cast(c, to).map_err(|e| format!("column {name}: {e}"))
    };
    let text = |name: &str| column(name, &DataType::Utf8);
    let (pipeline, stage, plugin, version) =
        (text("pipeline")?, text("stage")?, text("plugin")?, text("plugin_version")?);
    let (kind, reason, target, topic) = (text("error_kind")?, text("reason")?, text("target_table")?, text("topic")?);
    let partition = column("partition", &DataType::Int32)?;
    let offset = column("offset", &DataType::Int64)?;
    let kafka_ts = column("kafka_timestamp", &DataType::Int64)?;
    let failed_at = column("failed_at", &DataType::Int64)?;
    let (key, value) = (column("key", &DataType::Binary)?, column("value", &DataType::Binary)?);
    let s = |a: &dyn Array, i: usize| a.as_string::<i32>().value(i).to_string();
    let opt_s = |a: &dyn Array, i: usize| (!a.is_null(i)).then(|| a.as_string::<i32>().value(i).to_string());
    let bin = |a: &dyn Array, i: usize| (!a.is_null(i)).then(|| a.as_binary::<i32>().value(i).to_vec());
    for i in 0..batch.num_rows() {
        let ts = kafka_ts.as_primitive::<Int64Type>();
        out.push(DeadLetterRow {
            pipeline: s(&pipeline, i),
            stage: s(&stage, i),
            plugin: s(&plugin, i),
            plugin_version: s(&version, i),
            error_kind: s(&kind, i),
            reason: s(&reason, i),
            target_table: opt_s(&target, i),
            topic: s(&topic, i),
            partition: partition.as_primitive::<Int32Type>().value(i),
            offset: offset.as_primitive::<Int64Type>().value(i),
            kafka_timestamp_ms: (!ts.is_null(i)).then(|| ts.value(i) / 1000),
            key: bin(&key, i),
            value: bin(&value, i).unwrap_or_default(),
            failed_at_ms: failed_at.as_primitive::<Int64Type>().value(i) / 1000,
        });
    }
    Ok(())
}

/// The dead letters not yet replayed (per identity, the newest `letters − markers`), oldest
/// first.
pub fn pending(rows: &[DeadLetterRow], filter: &Filter) -> Vec<DeadLetterRow> {
    let mut count: BTreeMap<Identity, (Vec<&DeadLetterRow>, usize)> = BTreeMap::new();
    for row in rows.iter().filter(|r| filter.pipeline.as_ref().is_none_or(|p| &r.pipeline == p)) {
        let entry = count.entry(row.identity()).or_default();
        if row.is_marker() {
            entry.1 += 1;
        } else {
            entry.0.push(row);
        }
    }
    let mut out: Vec<DeadLetterRow> = count
        .into_values()
        .flat_map(|(letters, markers)| {
            let pending = letters.len().saturating_sub(markers);
            // `rows` is in time order: the newest letters carry the latest reasons.
            letters[letters.len() - pending..].iter().map(|r| (*r).clone()).collect::<Vec<_>>()
        })
        .filter(|r| filter.matches(r))
        .collect();
    out.sort_by_key(|r| (r.failed_at_ms, r.partition, r.offset));
    if let Some(limit) = filter.limit {
        out.truncate(limit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(offset: i64, kind: &str, reason: &str, at: i64) -> DeadLetterRow {
        DeadLetterRow {
            pipeline: "p".into(),
            stage: "s".into(),
            plugin: "x".into(),
            plugin_version: "1".into(),
            error_kind: kind.into(),
            reason: reason.into(),
            target_table: None,
            topic: "t".into(),
            partition: 0,
            offset,
            kafka_timestamp_ms: None,
            key: None,
            value: b"v".to_vec(),
            failed_at_ms: at,
        }
    }

    #[test]
    fn pending_is_dead_letters_minus_replay_markers() {
        let rows = vec![
            row(1, "trap", "boom", 10),
            row(2, "trap", "boom", 11),
            row(1, REPLAYED, "replay 1: failed again (trap)", 20),
            row(1, "trap", "boom again", 20),
            row(2, REPLAYED, "replay 1: ok, 1 row(s)", 20),
            row(3, "rejected", "bad", 30),
        ];
        let p = pending(&rows, &Filter::default());
        let got: Vec<(i64, &str)> = p.iter().map(|r| (r.offset, r.reason.as_str())).collect();
        // 1 failed again (pending, latest reason), 2 replayed fine, 3 never replayed.
        assert_eq!(got, vec![(1, "boom again"), (3, "bad")]);
        assert_eq!(pending(&rows, &Filter { since_ms: Some(25), ..Default::default() }).len(), 1);
        assert_eq!(pending(&rows, &Filter { pipeline: Some("q".into()), ..Default::default() }).len(), 0);
        assert_eq!(rows[2].replay_number(), Some(1));
        assert!(parse_since("30m").unwrap() < chrono::Utc::now().timestamp_millis());
        assert!(parse_since("yesterday").is_err());
    }

    #[test]
    fn two_letters_from_one_record_at_one_stage_are_both_pending() {
        let mut a = row(7, "rejected", "bad a", 10);
        a.value = b"row a".to_vec();
        let mut b = row(7, "rejected", "bad b", 10);
        b.value = b"row b".to_vec();
        let twin = b.clone();
        let p = pending(&[a.clone(), b.clone(), twin], &Filter::default());
        assert_eq!(p.len(), 3, "two distinct letters and one equal twin, all pending");
        let mut marker = a.clone();
        marker.error_kind = REPLAYED.into();
        marker.reason = "replay 1: ok, 1 row(s)".into();
        let p = pending(&[a, b.clone(), b, marker], &Filter::default());
        let values: Vec<&[u8]> = p.iter().map(|r| r.value.as_slice()).collect();
        assert_eq!(values, vec![b"row b".as_slice(), b"row b".as_slice()]);
    }
}
