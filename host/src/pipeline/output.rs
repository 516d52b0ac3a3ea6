//! What a processed batch leaves behind: rows buffered in their tables, failures buffered as
//! dead letters, and now and then a sample of clean input for trying new plugin versions.

use std::time::{Duration, Instant};

use super::graph::GraphOutput;
use super::sinks::Sinks;
use super::stats::PipelineStats;
use crate::plugin::{Batch, BatchExt};
use crate::sink::{Coordinates, DeadLetter};

/// How often every stage keeps a sample of its input (what it handled without failing) for
/// trying a new plugin version before a swap.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);

/// When the stages last left samples of their input.
#[derive(Default)]
pub(super) struct Samples {
    last: Option<Instant>,
}

impl Samples {
    /// Whether the next batch should leave samples (the graph's `sampling`).
    pub(super) fn due(&self) -> bool {
        self.last.is_none_or(|t| t.elapsed() >= SAMPLE_EVERY)
    }

    /// Keeps the samples a batch left: each stage's, entry or downstream, so a new version of
    /// any stage's plugin is tried on real input before it goes live.
    pub(super) fn keep(&mut self, output: &mut GraphOutput, stats: &PipelineStats) {
        if output.samples.is_empty() {
            return;
        }
        self.last = Some(Instant::now());
        for (stage, sample) in output.samples.drain(..) {
            stats.set_sample(&stage, sample);
        }
    }
}

impl Sinks {
    /// Buffers a processed batch's rows in their tables and its failures as dead letters.
    pub(super) fn write(&mut self, pipeline: &str, stats: &PipelineStats, batch: &Batch, output: GraphOutput) {
        let mut rows_out = 0u64;
        let mut duplicates = 0u64;
        let mut dead = Vec::new();
        for row in output.rows {
            let (part, off) = (batch.partition(row.input), batch.offset(row.input));
            let Some(sink) = self.tables.get_mut(&row.table) else { continue };
            if !sink.wants(part, off) {
                continue;
            }
            let at = Coordinates {
                topic: &batch.topic,
                partition: part,
                offset: off,
                timestamp_ms: batch.timestamp(row.input),
            };
            match sink.push_json(&row.json, at) {
                Ok(true) => rows_out += 1,
                Ok(false) => {
                    duplicates += 1;
                    tracing::debug!(pipeline = %pipeline, table = %row.table, partition = part, offset = off, "duplicate row skipped (unique key already stored)");
                }
                Err(reason) => dead.push(DeadLetter {
                    stage: "table".into(),
                    plugin: String::new(),
                    plugin_version: String::new(),
                    error_kind: "schema".into(),
                    reason,
                    topic: batch.topic.clone(),
                    partition: part,
                    offset: off,
                    timestamp_ms: batch.timestamp(row.input),
                    key: batch.key(row.input).map(<[u8]>::to_vec),
                    value: row.json,
                    table: Some(row.table),
                }),
            }
        }
        for f in output.failures {
            dead.push(DeadLetter {
                stage: f.stage,
                plugin: f.plugin,
                plugin_version: f.plugin_version,
                error_kind: f.kind,
                reason: f.reason,
                topic: batch.topic.clone(),
                partition: batch.partition(f.input),
                offset: batch.offset(f.input),
                timestamp_ms: batch.timestamp(f.input),
                key: batch.key(f.input).map(<[u8]>::to_vec),
                value: f.value,
                table: None,
            });
        }
        let mut dead_count = 0u64;
        for letter in dead {
            if !self.dead.wants(letter.partition, letter.offset) {
                continue;
            }
            tracing::debug!(pipeline = %pipeline, partition = letter.partition, offset = letter.offset, stage = %letter.stage, kind = %letter.error_kind, reason = %letter.reason, "dead letter");
            letter.append_to(pipeline, self.dead.buffer_mut());
            dead_count += 1;
        }
        stats.add(&stats.rows_out, rows_out, "finlake_rows_out_total");
        stats.add(&stats.duplicates, duplicates, "finlake_duplicates_total");
        stats.add(&stats.dead_letters, dead_count, "finlake_dead_letters_total");
    }
}
