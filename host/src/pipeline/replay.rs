//! Dead-letter replay: pending dead letters go back through the *current* plugins, from the step
//! that failed (a stage gets the input it failed on; a table gets the row it refused).
//!
//! Exactly once, without updating any row (see `dlq` for how pending is counted):
//! - Replay number n = 1 + the replay `txn` version the dead-letter table holds.
//! - The dead-letter table commits first: one marker per replayed letter (carrying the letter's
//!   value, so the replay can be redone from it) and the letters that failed again, with `txn`
//!   (replay, n). From then on they are no longer pending.
//! - Then every data table of the pipeline commits its replayed rows with `txn` (replay, n),
//!   even when it has none.
//! - If the process dies between the two, the next start finds tables whose replay version is
//!   below the dead-letter table's and redoes replay n from its markers for those tables only.

use std::collections::{BTreeMap, HashMap};

use super::graph::Graph;
use super::runner::{PipelineContext, PipelineError};
use super::sinks::Sinks;
use crate::dlq::{self, DeadLetterRow, Filter, REPLAYED};
use crate::plugin::{Batch, BatchBuilder};
use crate::sink::{Coordinates, DeadLetter, replay_app_id};

pub use finlake_api::Replayed;

/// A table row produced by a replay, with the coordinates of its original record.
struct ReplayRow {
    table: String,
    json: Vec<u8>,
    letter: usize,
}

/// The result of running pending letters through the graph, before anything is written.
struct Outcome {
    rows: Vec<ReplayRow>,
    /// New dead letters (failed again), by letter index.
    failed: Vec<(usize, DeadLetter)>,
    /// Letters that were run (not skipped).
    ran: Vec<usize>,
    skipped: Vec<String>,
}

fn batch_of(letters: &[&DeadLetterRow]) -> Batch {
    let mut b = BatchBuilder::new(&letters[0].topic, letters.len());
    for l in letters {
        b.push(l.key.as_deref(), &l.value, [], l.partition, l.offset, l.kafka_timestamp_ms.unwrap_or(-1));
    }
    b.finish()
}

/// What a replay works on: the pipeline's current stages and its sinks, borrowed from the
/// runner once the window in flight has been committed (the runner's only part in a replay).
pub(super) struct Replay<'a> {
    pub(super) ctx: &'a PipelineContext,
    pub(super) graph: &'a mut Graph,
    pub(super) sinks: &'a mut Sinks,
    /// The commit info of the pipeline's windows.
    pub(super) metadata: &'a HashMap<String, serde_json::Value>,
}

impl Replay<'_> {
    fn dead_letter_path(&self) -> String {
        let tables = dlq::tables(&self.ctx.config, Some(&self.ctx.pipeline.name));
        tables.into_iter().next().unwrap_or_else(|| self.ctx.pipeline.dead_letter_table.clone())
    }

    /// Runs `letters` through the current graph from their failed step. Errs (writing nothing)
    /// if a stage still fails every record it is given.
    fn run_letters(&mut self, letters: &[DeadLetterRow]) -> Result<Outcome, PipelineError> {
        let mut outcome = Outcome { rows: vec![], failed: vec![], ran: vec![], skipped: vec![] };
        let mut by_stage: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, l) in letters.iter().enumerate() {
            by_stage.entry(l.stage.as_str()).or_default().push(i);
        }
        for (stage, indices) in by_stage {
            if stage == "table" {
                // The table refused the row: offer it again (the table's config may have changed).
                for i in indices {
                    let l = &letters[i];
                    match &l.target_table {
                        Some(t) if self.sinks.tables.contains_key(t) => {
                            outcome.rows.push(ReplayRow { table: t.clone(), json: l.value.clone(), letter: i });
                            outcome.ran.push(i);
                        }
                        _ => outcome.skipped.push(format!(
                            "{}:{} (table {:?} is not written by this pipeline any more)",
                            l.partition, l.offset, l.target_table
                        )),
                    }
                }
                continue;
            }
            let Some(s) = self.graph.stage_index(stage) else {
                outcome.skipped.extend(indices.iter().map(|&i| {
                    format!("{}:{} (stage {stage} no longer exists)", letters[i].partition, letters[i].offset)
                }));
                continue;
            };
            let group: Vec<&DeadLetterRow> = indices.iter().map(|&i| &letters[i]).collect();
            let batch = batch_of(&group);
            let output = tokio::task::block_in_place(|| self.graph.run_from(Some(s), &batch))?;
            if let Some(w) = output.whole_batch {
                return Err(PipelineError::Other {
                    pipeline: self.ctx.pipeline.name.clone(),
                    message: format!(
                        "replay refused: stage {} (plugin {} {}) still fails every replayed record ({}: {}); nothing was replayed",
                        w.stage, w.plugin, w.plugin_version, w.kind, w.reason
                    ),
                });
            }
            for row in output.rows {
                outcome.rows.push(ReplayRow { table: row.table, json: row.json, letter: indices[row.input] });
            }
            for f in output.failures {
                let l = &letters[indices[f.input]];
                outcome.failed.push((
                    indices[f.input],
                    DeadLetter {
                        stage: f.stage,
                        plugin: f.plugin,
                        plugin_version: f.plugin_version,
                        error_kind: f.kind,
                        reason: f.reason,
                        topic: l.topic.clone(),
                        partition: l.partition,
                        offset: l.offset,
                        timestamp_ms: l.kafka_timestamp_ms.unwrap_or(-1),
                        key: l.key.clone(),
                        value: f.value,
                        table: None,
                    },
                ));
            }
            outcome.ran.extend(indices);
        }
        Ok(outcome)
    }

    /// Buffers replayed rows into their tables; schema refusals become new dead letters.
    /// Returns rows written per letter.
    fn buffer_rows(
        &mut self,
        letters: &[DeadLetterRow],
        outcome: &mut Outcome,
        only: Option<&[String]>,
    ) -> BTreeMap<usize, usize> {
        let mut written: BTreeMap<usize, usize> = BTreeMap::new();
        for row in outcome.rows.drain(..) {
            if only.is_some_and(|tables| !tables.contains(&row.table)) {
                continue;
            }
            let l = &letters[row.letter];
            let Some(sink) = self.sinks.tables.get_mut(&row.table) else { continue };
            let at = Coordinates {
                topic: &l.topic,
                partition: l.partition,
                offset: l.offset,
                timestamp_ms: l.kafka_timestamp_ms.unwrap_or(-1),
            };
            match sink.push_json(&row.json, at) {
                Ok(true) => *written.entry(row.letter).or_default() += 1,
                Ok(false) => {}
                Err(reason) => outcome.failed.push((
                    row.letter,
                    DeadLetter {
                        stage: "table".into(),
                        plugin: String::new(),
                        plugin_version: String::new(),
                        error_kind: "schema".into(),
                        reason,
                        topic: l.topic.clone(),
                        partition: l.partition,
                        offset: l.offset,
                        timestamp_ms: l.kafka_timestamp_ms.unwrap_or(-1),
                        key: l.key.clone(),
                        value: row.json,
                        table: Some(row.table),
                    },
                )),
            }
        }
        written
    }

    fn metadata_for_replay(&self, n: i64) -> HashMap<String, serde_json::Value> {
        let mut m = self.metadata.clone();
        m.insert("finlake.replay".into(), serde_json::Value::from(n));
        m
    }

    /// Replays pending dead letters matching `filter` (the pipeline is this one). The caller
    /// has committed the pipeline's window.
    pub(super) async fn replay(&mut self, mut filter: Filter) -> Result<Replayed, PipelineError> {
        let name = self.ctx.pipeline.name.clone();
        let other = |message: String| PipelineError::Other { pipeline: name.clone(), message };
        filter.pipeline = Some(name.clone());
        let rows =
            dlq::read(&self.ctx.config.lake.root, &self.dead_letter_path()).await.map_err(|e| other(e.to_string()))?;
        let letters = dlq::pending(&rows, &filter);
        let mut report = Replayed { pipeline: name.clone(), ..Default::default() };
        if letters.is_empty() {
            return Ok(report);
        }
        let app = replay_app_id(&name);
        let n = self.sinks.dead.app_version(&app).await?.unwrap_or(0) + 1;
        let mut outcome = self.run_letters(&letters)?;
        let written = self.buffer_rows(&letters, &mut outcome, None);
        let failed_again: std::collections::HashSet<usize> = outcome.failed.iter().map(|(i, _)| *i).collect();

        // 1. The dead-letter table: markers and the letters that failed again.
        for &i in &outcome.ran {
            let l = &letters[i];
            let plugin = self.graph.stage_index(&l.stage).map(|s| self.graph.stages[s].instance.plugin().clone());
            let result = if failed_again.contains(&i) {
                let kinds: Vec<&str> =
                    outcome.failed.iter().filter(|(j, _)| *j == i).map(|(_, d)| d.error_kind.as_str()).collect();
                format!("failed again ({})", kinds.join(", "))
            } else {
                format!("ok, {} row(s)", written.get(&i).copied().unwrap_or(0))
            };
            DeadLetter {
                stage: l.stage.clone(),
                plugin: plugin.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
                plugin_version: plugin.as_ref().map(|p| p.version.clone()).unwrap_or_default(),
                error_kind: REPLAYED.into(),
                reason: format!("replay {n}: {result}"),
                topic: l.topic.clone(),
                partition: l.partition,
                offset: l.offset,
                timestamp_ms: l.kafka_timestamp_ms.unwrap_or(-1),
                key: l.key.clone(),
                value: l.value.clone(),
                table: l.target_table.clone(),
            }
            .append_to(&name, self.sinks.dead.buffer_mut());
        }
        for (_, letter) in outcome.failed.drain(..) {
            letter.append_to(&name, self.sinks.dead.buffer_mut());
        }
        let metadata = self.metadata_for_replay(n);
        self.sinks.dead.commit_marked(&app, n, &metadata).await?;
        // 2. Every data table, rows or not.
        for sink in self.sinks.tables.values_mut() {
            sink.commit_marked(&app, n, &metadata).await?;
        }
        report.replay = n;
        report.replayed = outcome.ran.len() as u64;
        report.failed_again = failed_again.len() as u64;
        report.succeeded = report.replayed - report.failed_again;
        report.rows_written = written.values().sum::<usize>() as u64;
        report.skipped = outcome.skipped;
        let stats = &self.ctx.stats;
        stats.add(&stats.rows_out, report.rows_written, "finlake_rows_out_total");
        metrics::counter!("finlake_dead_letters_replayed_total", "pipeline" => name.clone()).increment(report.replayed);
        tracing::info!(pipeline = %name, replay = n, replayed = report.replayed, succeeded = report.succeeded, failed_again = report.failed_again, rows = report.rows_written, skipped = report.skipped.len(), "dead letters replayed");
        Ok(report)
    }

    /// Finishes a replay the process died in the middle of (see the module docs).
    pub(super) async fn finish_interrupted(&mut self) -> Result<(), PipelineError> {
        let name = self.ctx.pipeline.name.clone();
        let app = replay_app_id(&name);
        let Some(n) = self.sinks.dead.app_version(&app).await? else { return Ok(()) };
        let mut lagging = Vec::new();
        for (table, sink) in &self.sinks.tables {
            if sink.app_version(&app).await?.is_none_or(|v| v < n) {
                lagging.push(table.clone());
            }
        }
        if lagging.is_empty() {
            return Ok(());
        }
        let rows = dlq::read(&self.ctx.config.lake.root, &self.dead_letter_path())
            .await
            .map_err(|e| PipelineError::Other { pipeline: name.clone(), message: e.to_string() })?;
        let markers: Vec<DeadLetterRow> =
            rows.into_iter().filter(|r| r.pipeline == name && r.is_marker() && r.replay_number() == Some(n)).collect();
        tracing::warn!(pipeline = %name, replay = n, tables = ?lagging, letters = markers.len(), "finishing an interrupted dead-letter replay");
        if !markers.is_empty() {
            // Failures are already in the dead-letter table (it committed first): only rows count.
            let mut outcome = self.run_letters(&markers)?;
            self.buffer_rows(&markers, &mut outcome, Some(&lagging));
            self.sinks.dead.discard_buffer();
        }
        let metadata = self.metadata_for_replay(n);
        for table in &lagging {
            if let Some(sink) = self.sinks.tables.get_mut(table) {
                sink.commit_marked(&app, n, &metadata).await?;
            }
        }
        Ok(())
    }
}
