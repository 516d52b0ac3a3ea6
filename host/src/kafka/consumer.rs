//! The pipeline consumer: a consumer group member whose start positions come from Delta.
//!
//! Kafka's committed group offsets are informational only (for lag tools). On every partition
//! assignment the consumer seeks to the position the pipeline keeps in [`Positions`]: the
//! offset after the last record already handled (committed in Delta, or buffered in this
//! process), or the beginning of the partition when Delta holds nothing for it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;

use super::{KafkaError, client_config};

/// Next offset to read per partition, shared between the pipeline and the rebalance callback.
#[derive(Debug, Clone, Default)]
pub struct Positions(Arc<Mutex<BTreeMap<i32, i64>>>);

impl Positions {
    pub fn set(&self, partition: i32, next: i64) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(partition, next);
    }
    pub fn get(&self, partition: i32) -> Option<i64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&partition).copied()
    }
    /// Replaces every position (after a rebalance, from Delta).
    pub fn reset(&self, next: BTreeMap<i32, i64>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = next;
    }
}

/// Consumer lag of one pipeline: records in its topic it has not consumed yet, summed over the
/// partitions this process reads, as librdkafka's statistics report them (every second).
#[derive(Debug, Clone)]
pub struct Lag(Arc<AtomicI64>);

impl Default for Lag {
    fn default() -> Self {
        Lag(Arc::new(AtomicI64::new(-1)))
    }
}

impl Lag {
    /// `None` before the first report.
    pub fn get(&self) -> Option<u64> {
        u64::try_from(self.0.load(Ordering::Relaxed)).ok()
    }

    fn set(&self, lag: Option<u64>) {
        self.0.store(lag.map_or(-1, |l| l.min(i64::MAX as u64) as i64), Ordering::Relaxed);
    }
}

/// Sums the known lag of `topic`'s partitions in one statistics report (`None` when no
/// partition of it reports one yet: the client says -1 until it has fetched).
fn lag_of(statistics: &Statistics, topic: &str) -> Option<u64> {
    let partitions = &statistics.topics.get(topic)?.partitions;
    let known: Vec<u64> =
        partitions.iter().filter(|(id, _)| **id >= 0).filter_map(|(_, p)| u64::try_from(p.consumer_lag).ok()).collect();
    (!known.is_empty()).then(|| known.iter().sum())
}

/// The partitions the group gave this process, with a generation that changes at every
/// assignment and revocation. Set by the rebalance callback; the pipeline compares generations
/// at batch boundaries to learn that it must re-read its positions from Delta (other hosts may
/// have advanced the partitions it now owns) and drop what it holds for partitions it lost.
#[derive(Debug, Clone, Default)]
pub struct Assignment(Arc<Mutex<(u64, Option<Vec<i32>>)>>);

impl Assignment {
    /// The generation (0 before the first rebalance) and the owned partitions (`None` before
    /// the first assignment).
    pub fn get(&self) -> (u64, Option<Vec<i32>>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn generation(&self) -> u64 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    /// The owned partitions (`None` before the first assignment).
    pub fn owned(&self) -> Option<Vec<i32>> {
        self.get().1
    }

    /// The consumer is gone (the pipeline stopped or restarts): this host owns nothing known.
    pub fn clear(&self) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.0 += 1;
        g.1 = None;
    }

    pub(crate) fn set(&self, owned: Vec<i32>) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.0 += 1;
        g.1 = Some(owned);
        metrics::counter!("finlake_consumer_rebalances_total").increment(1);
    }
}

/// A revocation the pipeline answers itself: the rebalance callback does not give the
/// partitions up at once; the pipeline commits what it holds for them at its next batch
/// boundary and then unassigns ([`Handoff::pending`]). The group waits for that (an eager
/// rebalance completes only when every member rejoined), so the next owner starts after this
/// host's last records instead of reading them again. librdkafka allows the (un)assign outside
/// the callback; confluent-kafka-go's application-side rebalancing relies on the same.
#[derive(Debug, Clone, Default)]
pub struct Handoff(Arc<HandoffFlags>);

#[derive(Debug, Default)]
struct HandoffFlags {
    /// The pipeline is running and will answer a revocation (off while it starts, stops or is
    /// dropped: closing the consumer revokes too, and nobody would answer then).
    enabled: AtomicBool,
    /// A revocation waits for the pipeline's commit and unassign.
    pending: AtomicBool,
}

impl Handoff {
    /// Whether a revocation waits for the pipeline to commit and unassign.
    pub fn pending(&self) -> bool {
        self.0.pending.load(Ordering::SeqCst)
    }

    /// The pipeline answers revocations from now until the returned guard is dropped.
    pub fn enable(&self) -> HandoffGuard {
        self.0.enabled.store(true, Ordering::SeqCst);
        HandoffGuard(self.clone())
    }

    /// The pipeline committed and unassigned.
    pub fn done(&self) {
        self.0.pending.store(false, Ordering::SeqCst);
    }

    /// Called by the rebalance callback: true when the pipeline will answer this revocation.
    fn defer(&self) -> bool {
        let enabled = self.0.enabled.load(Ordering::SeqCst);
        self.0.pending.store(enabled, Ordering::SeqCst);
        enabled
    }
}

/// While alive, revocations wait for the pipeline; dropped before the consumer, so that
/// closing the consumer gives its partitions up at once.
#[derive(Debug)]
pub struct HandoffGuard(Handoff);

impl Drop for HandoffGuard {
    fn drop(&mut self) {
        self.0.0.enabled.store(false, Ordering::SeqCst);
        self.0.0.pending.store(false, Ordering::SeqCst);
    }
}

/// What the consumer shares with the pipeline that owns it.
#[derive(Debug, Clone, Default)]
pub struct ConsumerShared {
    pub positions: Positions,
    pub lag: Lag,
    pub assignment: Assignment,
    pub handoff: Handoff,
}

pub struct SeekContext {
    shared: ConsumerShared,
    pipeline: String,
    topic: String,
}

impl ClientContext for SeekContext {
    /// librdkafka's log, as its default does, except that an offset reset is an ERROR of this
    /// pipeline: the broker deleted records (retention) before they were read, and the consumer
    /// jumped over them. Those records are lost to every table of the pipeline.
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        use rdkafka::config::RDKafkaLogLevel as L;
        if fac == "OFFSET" && log_message.contains("offset reset") {
            metrics::counter!("finlake_consumer_offset_resets_total", "pipeline" => self.pipeline.clone()).increment(1);
            tracing::error!(pipeline = %self.pipeline, detail = log_message, "the broker no longer holds records this pipeline had not read yet (retention, or the embedded broker's 5 MB per partition); the consumer skips to the oldest it has and the skipped records are lost");
            return;
        }
        match level {
            L::Emerg | L::Alert | L::Critical | L::Error => {
                tracing::error!(target: "librdkafka", "librdkafka: {fac} {log_message}")
            }
            L::Warning => tracing::warn!(target: "librdkafka", "librdkafka: {fac} {log_message}"),
            L::Notice | L::Info => tracing::info!(target: "librdkafka", "librdkafka: {fac} {log_message}"),
            L::Debug => tracing::debug!(target: "librdkafka", "librdkafka: {fac} {log_message}"),
        }
    }

    fn stats(&self, statistics: Statistics) {
        let lag = lag_of(&statistics, &self.topic);
        self.shared.lag.set(lag);
        if let Some(l) = lag {
            metrics::gauge!("finlake_consumer_lag", "pipeline" => self.pipeline.clone()).set(l as f64);
        }
    }
}

impl ConsumerContext for SeekContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let mut assigned = Vec::new();
                for e in tpl.elements() {
                    assigned.push((e.topic().to_string(), e.partition()));
                }
                for (topic, partition) in &assigned {
                    // The best position this process knows; the pipeline re-reads Delta after
                    // every rebalance and seeks where another host may have moved on.
                    let offset = match self.shared.positions.get(*partition) {
                        Some(next) => Offset::Offset(next),
                        None => Offset::Beginning,
                    };
                    if let Err(e) = tpl.set_partition_offset(topic, *partition, offset) {
                        tracing::error!(pipeline = %self.pipeline, partition, error = %e, "cannot set start offset");
                    }
                    tracing::info!(pipeline = %self.pipeline, topic, partition, ?offset, "partition assigned");
                }
                if let Err(e) = consumer.assign(tpl) {
                    tracing::error!(pipeline = %self.pipeline, error = %e, "assign failed");
                }
                let mut owned: Vec<i32> = assigned.iter().map(|(_, p)| *p).collect();
                owned.sort_unstable();
                tracing::info!(pipeline = %self.pipeline, partitions = ?owned, "this host now owns these partitions");
                self.shared.assignment.set(owned);
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                // Lost partitions (this host missed its session) may already be another's:
                // committing them would be refused (P4), so they are given up at once.
                let lost = consumer.assignment_lost();
                if !lost && self.shared.handoff.defer() {
                    tracing::info!(pipeline = %self.pipeline, "partitions revoked: committing what this host holds for them before giving them up");
                    return;
                }
                tracing::info!(pipeline = %self.pipeline, lost, "partitions revoked");
                if let Err(e) = consumer.unassign() {
                    tracing::error!(pipeline = %self.pipeline, error = %e, "unassign failed");
                }
                self.shared.assignment.set(Vec::new());
            }
            other => {
                tracing::error!(pipeline = %self.pipeline, error = ?other, "rebalance error");
                let _ = consumer.unassign();
                self.shared.assignment.set(Vec::new());
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::debug!(pipeline = %self.pipeline, error = %e, "informational offset commit failed");
        }
    }
}

pub type PipelineConsumer = StreamConsumer<SeekContext>;

/// Creates the consumer of one pipeline and returns it with the topic's partition ids.
pub fn create_consumer(
    brokers: &str,
    properties: &BTreeMap<String, String>,
    group_id: &str,
    pipeline: &str,
    topic: &str,
    batch_wait: Duration,
    shared: ConsumerShared,
) -> Result<(PipelineConsumer, Vec<i32>), KafkaError> {
    // Positions come from Delta at every assignment, which the eager protocol makes a clean
    // cut: a cooperative (incremental) assignor would hand partitions over without the
    // revoke/assign pair the pipeline follows.
    if properties.get("partition.assignment.strategy").is_some_and(|s| s.contains("cooperative")) {
        return Err(KafkaError::Config(
            "[kafka.properties] partition.assignment.strategy: cooperative-sticky is not supported (FinLake re-reads its positions from Delta at each eager rebalance); use range or roundrobin".into(),
        ));
    }
    let mut config = client_config(brokers, properties);
    config
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set_if_absent("session.timeout.ms", "6000")
        .set_if_absent("max.poll.interval.ms", "300000")
        // librdkafka prefetches up to 100 000 records per partition and 64 MiB per consumer by
        // default: memory that scales with partitions and backlog, not with the batch a
        // pipeline takes (at most `batch.max_records`). 16 MiB keeps the fetcher ahead of the
        // pipelines at the soak's rates (xtask/soak.sh) and bounds it. The record count stays
        // at librdkafka's 100 000: at 10 000 the fetcher fell behind a loaded pipeline and held
        // it at ~11.5 k records/s, Wasm or native (docs/PERFORMANCE.md); the byte bound is
        // what bounds memory. `[kafka.properties]` overrides either.
        .set_if_absent("queued.max.messages.kbytes", "16384")
        .set_if_absent("queued.min.messages", "100000")
        // How long the broker may hold a fetch that found nothing new. A Kafka broker answers
        // as soon as records arrive, so this only paces idle polling; librdkafka's mock
        // cluster (the embedded broker) holds it the whole time whatever arrives, and records
        // produced meanwhile waited for it: 500 ms (the default) stood in every latency
        // (docs/PERFORMANCE.md). A pipeline waits at most `batch.max_wait_ms` for a batch, so
        // its fetches wait no longer either (5 ms … 500 ms).
        .set_if_absent("fetch.wait.max.ms", &fetch_wait_ms(batch_wait).to_string())
        // Statistics carry each partition's consumer lag (for /api/pipelines and the dashboard).
        .set_if_absent("statistics.interval.ms", "1000");
    let consumer: PipelineConsumer =
        config.create_with_context(SeekContext { shared, pipeline: pipeline.to_string(), topic: topic.to_string() })?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(KafkaError::NoTopic { topic: topic.to_string(), brokers: brokers.to_string() });
    }
    Ok((consumer, partitions))
}

/// `fetch.wait.max.ms` for a pipeline that waits `batch_wait` for a batch.
pub fn fetch_wait_ms(batch_wait: Duration) -> u64 {
    (batch_wait.as_millis() as u64).clamp(5, 500)
}

trait SetIfAbsent {
    fn set_if_absent(&mut self, key: &str, value: &str) -> &mut Self;
}

impl SetIfAbsent for rdkafka::ClientConfig {
    fn set_if_absent(&mut self, key: &str, value: &str) -> &mut Self {
        if self.get(key).is_none() {
            self.set(key, value);
        }
        self
    }
}
