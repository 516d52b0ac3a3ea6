//! Shadow runs: what would a new version of a plugin change? The candidate and the live version
//! run side by side over records a pipeline already consumed, read back from its bronze table
//! (which keeps every record with its Kafka coordinates), through the same upstream stages, with
//! the same limits, off the hot path. Every table the pipeline writes is compared row by row (by
//! its `unique_key`, or by the Kafka record a row came from), and records the candidate rejects
//! or traps on that the live version handled are listed. Nothing is written anywhere.
//!
//! Stateful stages start both versions from the newest state snapshot taken at or before the
//! first record read (or empty state when there is none), so a shadow run of a stateful plugin
//! is as exact as that snapshot is close to the start of the range.

pub mod compare;
pub mod input;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use finlake_api::{ShadowFailure, ShadowPipeline, ShadowRecord, ShadowReport, ShadowVersion};

use crate::config::{Config, PipelineConfig};
use crate::pipeline::graph::{Graph, GraphOutput};
use crate::plugin::{BatchExt, LoadedPlugin, PluginError, PluginRuntime};
pub use input::Range;

/// Records per pipeline when no limit is given, and the most a run reads.
pub const DEFAULT_LIMIT: usize = 1000;
pub const MAX_LIMIT: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
    #[error("no pipeline runs plugin {0}")]
    Unknown(String),
    /// The candidate does not load, link, carry the plugin's name or initialise.
    #[error("the candidate cannot run: {0}")]
    Candidate(String),
    #[error("the live version cannot run: {0}")]
    Live(String),
    #[error(
        "pipeline {0} has no bronze table with the records it consumed (a table its first stage writes, layer = \"bronze\", with a value column and kafka_columns)"
    )]
    NoSource(String),
    #[error("no recorded input: {0}")]
    NoInput(String),
    #[error("reading the lake: {0}")]
    Lake(String),
    #[error("{0}")]
    Range(String),
}

/// The range of a request: `since` is a time or a duration back from now.
pub fn range(from_version: Option<u64>, since: Option<&str>, limit: Option<usize>) -> Result<Range, ShadowError> {
    if from_version.is_some() && since.is_some() {
        return Err(ShadowError::Range("give from_version or since, not both".into()));
    }
    let since_ms = since.map(crate::dlq::parse_since).transpose().map_err(ShadowError::Range)?;
    Ok(Range { from_version, since_ms, limit: limit.unwrap_or(DEFAULT_LIMIT) })
}

/// Runs `candidate` (a component's bytes) and the live version of `plugin` over recorded input
/// of every pipeline that uses it.
pub async fn run(
    config: Arc<Config>,
    runtime: Arc<PluginRuntime>,
    plugin: &str,
    candidate: Vec<u8>,
    range: Range,
) -> Result<ShadowReport, ShadowError> {
    let started = Instant::now();
    if range.limit == 0 || range.limit > MAX_LIMIT {
        return Err(ShadowError::Range(format!("limit must be 1..={MAX_LIMIT}, not {}", range.limit)));
    }
    let pipelines: Vec<PipelineConfig> =
        config.pipelines.iter().filter(|p| p.stages.iter().any(|s| s.plugin == plugin)).cloned().collect();
    if pipelines.is_empty() {
        return Err(ShadowError::Unknown(plugin.to_string()));
    }
    let (live, cand) = {
        let (runtime, config, plugin) = (runtime.clone(), config.clone(), plugin.to_string());
        tokio::task::spawn_blocking(move || {
            let live = runtime
                .load_file(&config.plugin_path(&plugin), Some(&plugin))
                .map_err(|e| ShadowError::Live(e.to_string()))?;
            let origin = format!("{plugin} (shadow candidate)");
            let cand = runtime
                .load_bytes(&candidate, &origin, Some(&plugin))
                .map_err(|e| ShadowError::Candidate(e.to_string()))?;
            Ok::<_, ShadowError>((live, cand))
        })
        .await
        .map_err(|e| ShadowError::Live(e.to_string()))??
    };
    let mut report = ShadowReport {
        plugin: plugin.to_string(),
        live: ShadowVersion { version: live.version.clone(), sha256: live.sha256.clone() },
        candidate: ShadowVersion { version: cand.version.clone(), sha256: cand.sha256.clone() },
        pipelines: Vec::new(),
        differences: 0,
        new_traps: 0,
        new_rejections: 0,
        finished_at_ms: 0,
        millis: 0,
    };
    for pipeline in pipelines {
        let source =
            input::source_table(&config, &pipeline).ok_or_else(|| ShadowError::NoSource(pipeline.name.clone()))?;
        let (records, source_version) = input::read(&config, source, range).await?;
        let states = snapshots(&config, &pipeline, records.first().map(|r| r.timestamp_ms)).await?;
        let job = Job {
            config: config.clone(),
            runtime: runtime.clone(),
            pipeline,
            plugin: plugin.to_string(),
            live: live.clone(),
            cand: cand.clone(),
            states,
        };
        let source_name = source.name.clone();
        let result = tokio::task::spawn_blocking(move || job.run(records))
            .await
            .map_err(|e| ShadowError::Live(e.to_string()))??;
        let mut result = result;
        result.source_table = source_name;
        result.source_version = source_version;
        report.differences += result.outputs.iter().map(|o| o.only_live + o.only_candidate + o.changed).sum::<u64>();
        report.new_traps += result.new_traps;
        report.new_rejections += result.new_rejections;
        report.pipelines.push(result);
    }
    report.finished_at_ms = chrono::Utc::now().timestamp_millis();
    report.millis = started.elapsed().as_millis() as u64;
    tracing::info!(plugin, candidate = %report.candidate.version, live = %report.live.version, differences = report.differences, new_traps = report.new_traps, new_rejections = report.new_rejections, ms = report.millis, "shadow run finished");
    Ok(report)
}

/// Per stateful stage, the newest snapshot taken at or before `before_ms` (and where it came
/// from, for the report).
async fn snapshots(
    config: &Config,
    pipeline: &PipelineConfig,
    before_ms: Option<i64>,
) -> Result<BTreeMap<String, (Vec<u8>, String)>, ShadowError> {
    let path = crate::config::state_path(&pipeline.name);
    let Some(table) =
        crate::delta::open(&config.lake.root, &path).await.map_err(|e| ShadowError::Lake(e.to_string()))?
    else {
        return Ok(BTreeMap::new());
    };
    let before_us = before_ms.map(|ms| ms * 1000);
    let found = crate::sink::state::snapshots_before(&table, &path, before_us)
        .await
        .map_err(|e| ShadowError::Lake(e.to_string()))?;
    Ok(found
        .into_iter()
        .map(|(stage, s)| {
            let at = chrono::DateTime::from_timestamp_micros(s.taken_at_us).map(|t| t.to_rfc3339()).unwrap_or_default();
            (stage, (s.bytes, format!("snapshot of {} taken at {at}", s.plugin_version)))
        })
        .collect())
}

/// One pipeline's shadow run, on a blocking thread (it runs Wasm).
struct Job {
    config: Arc<Config>,
    runtime: Arc<PluginRuntime>,
    pipeline: PipelineConfig,
    plugin: String,
    live: LoadedPlugin,
    cand: LoadedPlugin,
    states: BTreeMap<String, (Vec<u8>, String)>,
}

/// What one version did over the whole input.
#[derive(Default)]
struct Outcome {
    rows: BTreeMap<String, Vec<compare::Row>>,
    /// (partition, offset, stage) → (kind, reason)
    failures: BTreeMap<(i32, i64, String), (String, String)>,
    time: Duration,
    inputs: usize,
}

impl Job {
    fn graph(&self, version: &LoadedPlugin, state_notes: &mut Vec<String>) -> Result<Graph, PluginError> {
        let mut instances = Vec::new();
        for stage in &self.pipeline.stages {
            let loaded = if stage.plugin == self.plugin {
                version.clone()
            } else {
                self.runtime.load_file(&self.config.plugin_path(&stage.plugin), Some(&stage.plugin))?
            };
            let mut instance = crate::pipeline::stage_instance(&self.config, stage, loaded)?;
            if instance.plugin().stateful {
                match self.states.get(stage.id()) {
                    Some((bytes, note)) => {
                        instance.restore(bytes)?;
                        state_notes.push(format!("{}: {note}", stage.id()));
                    }
                    None => state_notes.push(format!("{}: none before the first record: empty state", stage.id())),
                }
            }
            instances.push(instance);
        }
        Ok(Graph::new(&self.pipeline, instances))
    }

    fn run(self, records: Vec<input::Recorded>) -> Result<ShadowPipeline, ShadowError> {
        let stages: Vec<String> =
            self.pipeline.stages.iter().filter(|s| s.plugin == self.plugin).map(|s| s.id().to_string()).collect();
        let mut notes = Vec::new();
        let mut live = self.graph(&self.live, &mut notes).map_err(|e| ShadowError::Live(e.to_string()))?;
        let mut ignored = Vec::new();
        let mut cand = self.graph(&self.cand, &mut ignored).map_err(|e| ShadowError::Candidate(e.to_string()))?;
        let size = self.pipeline.batch.max_records.max(1);
        let (mut a, mut b) = (Outcome::default(), Outcome::default());
        for batch in input::batches(&self.pipeline.topic, &records, size) {
            let first = (batch.len() > 0).then(|| (batch.partition(0), batch.offset(0)));
            let out = live.run(&batch).map_err(|e| ShadowError::Live(e.to_string()))?;
            absorb(&mut a, &batch, out, &stages);
            // A candidate that cannot even be re-instantiated fails every record of the batch.
            match cand.run(&batch) {
                Ok(out) => absorb(&mut b, &batch, out, &stages),
                Err(e) => {
                    for i in 0..batch.len() {
                        let at = (batch.partition(i), batch.offset(i), stages[0].clone());
                        b.failures.insert(at, (e.kind().to_string(), e.to_string()));
                    }
                    tracing::warn!(?first, error = %e, "shadow: the candidate failed a whole batch");
                }
            }
        }
        let mut tables: BTreeSet<&String> = a.rows.keys().collect();
        tables.extend(b.rows.keys());
        let outputs = tables
            .into_iter()
            .map(|t| {
                let key = self.config.table(t).and_then(|c| c.unique_key.as_deref());
                let none = Vec::new();
                compare::compare(t, key, a.rows.get(t).unwrap_or(&none), b.rows.get(t).unwrap_or(&none))
            })
            .collect();
        let (mut new_rejections, mut new_traps) = (0, 0);
        let (mut rejection_examples, mut trap_examples) = (Vec::new(), Vec::new());
        for ((partition, offset, stage), (kind, reason)) in &b.failures {
            if a.failures.get(&(*partition, *offset, stage.clone())).is_some_and(|(k, _)| k == kind) {
                continue;
            }
            let failure = ShadowFailure {
                partition: *partition,
                offset: *offset,
                stage: stage.clone(),
                kind: kind.clone(),
                reason: reason.clone(),
            };
            let (count, examples) = if kind == "rejected" {
                (&mut new_rejections, &mut rejection_examples)
            } else {
                (&mut new_traps, &mut trap_examples)
            };
            *count += 1;
            if examples.len() < compare::EXAMPLES {
                examples.push(failure);
            }
        }
        let per_record = |o: &Outcome| o.time.as_nanos() as f64 / o.inputs.max(1) as f64;
        let coordinates = |r: &input::Recorded| ShadowRecord {
            partition: r.partition,
            offset: r.offset,
            timestamp_ms: r.timestamp_ms,
        };
        Ok(ShadowPipeline {
            pipeline: self.pipeline.name.clone(),
            stages,
            source_table: String::new(),
            source_version: 0,
            records: records.len() as u64,
            first: records.first().map(coordinates),
            last: records.last().map(coordinates),
            state: notes,
            outputs,
            new_rejections,
            new_traps,
            rejection_examples,
            trap_examples,
            live_ns_per_record: per_record(&a),
            candidate_ns_per_record: per_record(&b),
        })
    }
}

/// Adds one batch's output of a version to its outcome.
fn absorb(o: &mut Outcome, batch: &crate::plugin::Batch, out: GraphOutput, stages: &[String]) {
    let at = |i: usize| (batch.partition(i), batch.offset(i));
    if let Some(w) = &out.whole_batch {
        for i in 0..batch.len() {
            let (p, off) = at(i);
            o.failures.insert((p, off, w.stage.clone()), (w.kind.clone(), w.reason.clone()));
        }
    }
    for row in out.rows {
        let (partition, offset) = at(row.input);
        let json = serde_json::from_slice(&row.json)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&row.json).into_owned()));
        o.rows.entry(row.table).or_default().push(compare::Row { partition, offset, json });
    }
    for f in out.failures {
        let (partition, offset) = at(f.input);
        o.failures.insert((partition, offset, f.stage), (f.kind, f.reason));
    }
    for (stage, took, _errors, records) in out.calls {
        if stages.contains(&stage) {
            o.time += took;
            o.inputs += records;
        }
    }
}
