//! One pipeline's loop: consume a batch, run it through the stages, buffer rows per table,
//! and commit every table (data + offsets) when a flush is due.
//!
//! Invariants (see docs/ARCHITECTURE.md):
//! - A table's Delta log holds, per partition, the last offset whose rows it contains (`txn`).
//! - A row from record (p, o) is written to table T only if o > T's committed offset for p.
//! - Every commit of every table of the pipeline carries the offsets of the whole window, even
//!   when the table got no rows, so all tables advance together.
//! - Kafka group offsets are written after Delta commits and never read back.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::message::Headers;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::watch;

use super::graph::Graph;
use super::stats::{PipelineState, PipelineStats};
use crate::config::{Config, PipelineConfig};
use crate::kafka::{KafkaError, PipelineConsumer, Positions, create_consumer};
use crate::plugin::{BatchBuilder, BatchExt, Limits, PluginError, PluginInstance, PluginRuntime};
use crate::sink::{Coordinates, DeadLetter, SinkError, TableSchema, TableSink, dead_letter_schema};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("pipeline {pipeline}: {message}")]
    Other { pipeline: String, message: String },
}

impl From<rdkafka::error::KafkaError> for PipelineError {
    fn from(e: rdkafka::error::KafkaError) -> Self {
        PipelineError::Kafka(KafkaError::Client(e))
    }
}

/// Everything a pipeline needs from the process.
#[derive(Clone)]
pub struct PipelineContext {
    pub config: Arc<Config>,
    pub pipeline: PipelineConfig,
    /// Resolved bootstrap servers (the embedded broker's address when embedded).
    pub brokers: String,
    pub runtime: Arc<PluginRuntime>,
    pub stats: Arc<PipelineStats>,
}

struct Sinks {
    tables: BTreeMap<String, TableSink>,
    dead: TableSink,
}

impl Sinks {
    fn all(&self) -> impl Iterator<Item = &TableSink> {
        self.tables.values().chain(std::iter::once(&self.dead))
    }
    fn all_mut(&mut self) -> impl Iterator<Item = &mut TableSink> {
        self.tables.values_mut().chain(std::iter::once(&mut self.dead))
    }
    fn buffered(&self) -> (usize, usize) {
        self.all().fold((0, 0), |(r, b), s| (r + s.buffered_rows(), b + s.buffered_bytes()))
    }
}

/// Loads every stage's plugin and starts an instance of it with its config and limits.
pub fn start_stages(config: &Config, pipeline: &PipelineConfig, runtime: &PluginRuntime) -> Result<Graph, PluginError> {
    let mut instances = Vec::new();
    for stage in &pipeline.stages {
        let loaded = runtime.load_file(&config.plugin_path(&stage.plugin), Some(&stage.plugin))?;
        let limits = Limits {
            timeout: Duration::from_millis(stage.timeout_ms.unwrap_or(config.plugins.timeout_ms)),
            memory_bytes: (stage.memory_mb.unwrap_or(config.plugins.memory_mb) as usize) << 20,
        };
        let json = serde_json::to_string(&stage.config).unwrap_or_else(|_| "{}".into());
        instances.push(PluginInstance::new(loaded, json, limits)?);
    }
    Ok(Graph::new(pipeline, instances))
}

/// Runs the pipeline until `stop` turns true (then flushes and commits) or an error occurs.
pub async fn run_pipeline(ctx: PipelineContext, mut stop: watch::Receiver<bool>) -> Result<(), PipelineError> {
    let p = &ctx.pipeline;
    let stats = &ctx.stats;
    stats.set_state(PipelineState::Starting);
    let mut graph = {
        let (config, pipeline, runtime) = (ctx.config.clone(), p.clone(), ctx.runtime.clone());
        tokio::task::spawn_blocking(move || start_stages(&config, &pipeline, &runtime))
            .await
            .map_err(|e| PipelineError::Other { pipeline: p.name.clone(), message: e.to_string() })??
    };

    let positions = Positions::default();
    let group = format!("{}-{}", ctx.config.kafka.group_id, p.name);
    let (consumer, partitions) = {
        let (brokers, props, name, topic, pos) = (
            ctx.brokers.clone(),
            ctx.config.kafka.properties.clone(),
            p.name.clone(),
            p.topic.clone(),
            positions.clone(),
        );
        tokio::task::spawn_blocking(move || create_consumer(&brokers, &props, &group, &name, &topic, pos))
            .await
            .map_err(|e| PipelineError::Other { pipeline: p.name.clone(), message: e.to_string() })??
    };
    let cluster = {
        use rdkafka::consumer::Consumer as _;
        consumer.client().fetch_cluster_id(Duration::from_secs(10)).unwrap_or_else(|| "unknown-cluster".into())
    };
    let source = format!("{cluster}/{}", p.topic);

    let mut sinks = open_sinks(&ctx, &source, &partitions).await?;
    // Start each partition after the last offset every table already holds.
    let mut read_upto: BTreeMap<i32, i64> = BTreeMap::new();
    for &part in &partitions {
        let min = sinks.all().map(|s| s.committed(part)).min().flatten();
        if let Some(o) = min {
            read_upto.insert(part, o);
            positions.set(part, o + 1);
        }
    }
    tracing::info!(pipeline = %p.name, %source, ?read_upto, "resuming from Delta offsets");
    consumer.subscribe(&[&p.topic])?;
    stats.set_state(PipelineState::Running);

    for (stage, pl) in graph.plugins() {
        stats.stage_loaded(stage, &pl.name, &pl.version, &pl.sha256);
    }
    let plugin_meta = serde_json::Value::Array(
        graph
            .plugins()
            .iter()
            .map(|(stage, pl)| serde_json::json!({"stage": stage, "plugin": pl.name, "version": pl.version, "sha256": pl.sha256}))
            .collect(),
    );
    let metadata: HashMap<String, serde_json::Value> = HashMap::from([
        ("finlake.pipeline".to_string(), serde_json::Value::from(p.name.clone())),
        ("finlake.plugins".to_string(), plugin_meta),
    ]);

    let mut processed: BTreeMap<i32, i64> = BTreeMap::new();
    let mut window_started: Option<Instant> = None;
    loop {
        let stopping = *stop.borrow();
        let mut builder = BatchBuilder::new(&p.topic, p.batch.max_records);
        if !stopping {
            collect_batch(&consumer, &mut builder, &mut read_upto, &positions, p, &mut stop).await?;
        }
        if !builder.is_empty() {
            let batch = builder.finish();
            let n = batch.len() as u64;
            stats.add(&stats.records_in, n, "finlake_records_in_total");
            stats.add(&stats.batches, 1, "finlake_batches_total");
            let output = tokio::task::block_in_place(|| graph.run(&batch))?;
            for (stage, took, errors) in &output.calls {
                stats.stage_called(stage, *took, *errors);
            }
            let mut rows_out = 0u64;
            let mut duplicates = 0u64;
            let mut dead = Vec::new();
            for row in output.rows {
                let (part, off) = (batch.partition(row.input), batch.offset(row.input));
                let Some(sink) = sinks.tables.get_mut(&row.table) else { continue };
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
                        tracing::debug!(pipeline = %p.name, table = %row.table, partition = part, offset = off, "duplicate row skipped (unique key already stored)");
                    }
                    Err(reason) => dead.push((
                        row.input,
                        "table".to_string(),
                        String::new(),
                        String::new(),
                        "schema".to_string(),
                        reason,
                        Some(row.table),
                    )),
                }
            }
            for f in output.failures {
                dead.push((f.input, f.stage, f.plugin, f.plugin_version, f.kind, f.reason, None));
            }
            let mut dead_count = 0u64;
            for (input, stage, plugin, plugin_version, kind, reason, table) in dead {
                let (part, off) = (batch.partition(input), batch.offset(input));
                if !sinks.dead.wants(part, off) {
                    continue;
                }
                tracing::debug!(pipeline = %p.name, partition = part, offset = off, %stage, %kind, %reason, "dead letter");
                DeadLetter {
                    stage,
                    plugin,
                    plugin_version,
                    error_kind: kind,
                    reason,
                    topic: batch.topic.clone(),
                    partition: part,
                    offset: off,
                    timestamp_ms: batch.timestamp(input),
                    key: batch.key(input).map(<[u8]>::to_vec),
                    value: batch.value(input).to_vec(),
                    table,
                }
                .append_to(&p.name, sinks.dead.buffer_mut());
                dead_count += 1;
            }
            stats.add(&stats.rows_out, rows_out, "finlake_rows_out_total");
            stats.add(&stats.duplicates, duplicates, "finlake_duplicates_total");
            stats.add(&stats.dead_letters, dead_count, "finlake_dead_letters_total");
            for i in 0..batch.len() {
                let (part, off) = (batch.partition(i), batch.offset(i));
                let e = processed.entry(part).or_insert(off);
                *e = (*e).max(off);
            }
            window_started.get_or_insert_with(Instant::now);
        }

        let (rows, bytes) = sinks.buffered();
        let due = window_started.is_some_and(|t| t.elapsed() >= Duration::from_millis(p.flush.max_latency_ms))
            || rows >= p.flush.max_records
            || bytes >= p.flush.max_bytes;
        if (due || stopping) && !processed.is_empty() {
            commit_all(&ctx, &mut sinks, &processed, &metadata).await?;
            commit_kafka_offsets(&consumer, &p.topic, &processed);
            processed.clear();
            window_started = None;
        }
        if stopping {
            stats.set_state(PipelineState::Stopped);
            tracing::info!(pipeline = %p.name, "stopped after final commit");
            return Ok(());
        }
    }
}

async fn open_sinks(ctx: &PipelineContext, source: &str, partitions: &[i32]) -> Result<Sinks, PipelineError> {
    let p = &ctx.pipeline;
    let root: PathBuf = ctx.config.lake.root.clone();
    let mut tables = BTreeMap::new();
    let mut names: Vec<&str> = p.stages.iter().flat_map(|s| s.outputs.values()).map(String::as_str).collect();
    names.sort();
    names.dedup();
    for name in names {
        let Some(t) = ctx.config.table(name) else { continue };
        let mut sink = TableSink::open(
            &root,
            &t.name,
            t.relative_path(),
            TableSchema::from_config(t),
            &p.name,
            source,
            partitions,
        )
        .await?;
        if let Some(key) = &t.unique_key {
            sink = sink.with_unique_key(key)?;
        }
        ctx.stats.table_opened(&t.name, sink.version());
        tables.insert(t.name.clone(), sink);
    }
    let dead = TableSink::open(
        &root,
        &p.dead_letter_table,
        &p.dead_letter_table,
        dead_letter_schema(),
        &p.name,
        source,
        partitions,
    )
    .await?;
    ctx.stats.table_opened(&p.dead_letter_table, dead.version());
    Ok(Sinks { tables, dead })
}

async fn collect_batch(
    consumer: &PipelineConsumer,
    builder: &mut BatchBuilder,
    read_upto: &mut BTreeMap<i32, i64>,
    positions: &Positions,
    p: &PipelineConfig,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), PipelineError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(p.batch.max_wait_ms);
    while builder.len() < p.batch.max_records {
        let message = tokio::select! {
            m = consumer.recv() => m,
            _ = tokio::time::sleep_until(deadline) => break,
            _ = stop.changed() => break,
        };
        let m = match message {
            Ok(m) => m,
            Err(e) => {
                // Transient broker trouble: log and keep going; librdkafka reconnects.
                tracing::warn!(pipeline = %p.name, error = %e, "consume error");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let (part, off) = (m.partition(), m.offset());
        // Already handled in this process or committed in every table: a re-delivery after a
        // rebalance or seek.
        if read_upto.get(&part).is_some_and(|r| off <= *r) {
            continue;
        }
        read_upto.insert(part, off);
        positions.set(part, off + 1);
        let headers: Vec<(&str, &[u8])> =
            m.headers().map(|h| h.iter().map(|h| (h.key, h.value.unwrap_or_default())).collect()).unwrap_or_default();
        let ts = m.timestamp().to_millis().unwrap_or(-1);
        builder.push(m.key(), m.payload().unwrap_or_default(), headers, part, off, ts);
        if tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    Ok(())
}

async fn commit_all(
    ctx: &PipelineContext,
    sinks: &mut Sinks,
    processed: &BTreeMap<i32, i64>,
    metadata: &HashMap<String, serde_json::Value>,
) -> Result<(), PipelineError> {
    let started = Instant::now();
    for sink in sinks.all_mut() {
        let rows = sink.buffered_rows() as u64;
        if let Some(version) = sink.commit(processed, metadata).await? {
            ctx.stats.table_committed(&sink.name, rows, version);
            ctx.stats.add(&ctx.stats.commits, 1, "finlake_commits_total");
        }
    }
    metrics::histogram!("finlake_commit_seconds", "pipeline" => ctx.pipeline.name.clone())
        .record(started.elapsed().as_secs_f64());
    tracing::info!(pipeline = %ctx.pipeline.name, ?processed, ms = started.elapsed().as_millis() as u64, "window committed");
    Ok(())
}

/// Informational only (lag dashboards): Delta is the source of truth for positions.
fn commit_kafka_offsets(consumer: &PipelineConsumer, topic: &str, processed: &BTreeMap<i32, i64>) {
    let mut tpl = TopicPartitionList::new();
    for (part, off) in processed {
        if tpl.add_partition_offset(topic, *part, Offset::Offset(off + 1)).is_err() {
            return;
        }
    }
    if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
        tracing::debug!(topic, error = %e, "informational offset commit not sent");
    }
}
