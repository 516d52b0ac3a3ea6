//! Reading one batch from the pipeline's consumer: up to `batch.max_records` records or
//! `batch.max_wait_ms`, whichever comes first, skipping re-deliveries of what was handled and
//! saying loudly when the broker no longer holds records that were never read.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::message::Headers;
use tokio::sync::{mpsc, watch};

use super::control::Command;
use super::runner::PipelineError;
use super::stats::PipelineStats;
use crate::config::PipelineConfig;
use crate::kafka::{ConsumerShared, PipelineConsumer};
use crate::plugin::BatchBuilder;

#[allow(clippy::too_many_arguments)]
pub(super) async fn collect_batch(
    consumer: &PipelineConsumer,
    builder: &mut BatchBuilder,
    read_upto: &mut BTreeMap<i32, i64>,
    shared: &ConsumerShared,
    p: &PipelineConfig,
    stop: &mut watch::Receiver<bool>,
    commands: &mut mpsc::Receiver<Command>,
    next_command: &mut Option<Command>,
    stats: &PipelineStats,
) -> Result<(), PipelineError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(p.batch.max_wait_ms);
    while builder.len() < p.batch.max_records {
        let message = tokio::select! {
            m = consumer.recv() => m,
            _ = tokio::time::sleep_until(deadline) => break,
            _ = stop.changed() => break,
            // A command ends the batch early, so swaps wait for at most one plugin call.
            Some(c) = commands.recv() => { *next_command = Some(c); break }
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
        if let Some(&last) = read_upto.get(&part)
            && off > last.saturating_add(2)
        {
            // The broker no longer has what comes next (retention, or the embedded broker's
            // bounded memory during a long pause): say so loudly instead of skipping quietly.
            let missing = off - last - 1;
            let message = format!(
                "partition {part}: offsets {}..={} are no longer on the broker ({missing} records skipped; retention or a long pause)",
                last + 1,
                off - 1
            );
            tracing::error!(pipeline = %p.name, partition = part, from = last + 1, to = off - 1, missing, "records skipped: {message}");
            metrics::counter!("finlake_records_skipped_total", "pipeline" => p.name.clone()).increment(missing as u64);
            stats.record_error(message);
        }
        read_upto.insert(part, off);
        shared.positions.set(part, off + 1);
        let headers: Vec<(&str, &[u8])> =
            m.headers().map(|h| h.iter().map(|h| (h.key, h.value.unwrap_or_default())).collect()).unwrap_or_default();
        let ts = m.timestamp().to_millis().unwrap_or(-1);
        builder.push(m.key(), m.payload().unwrap_or_default(), headers, part, off, ts);
        // A revocation waits for this batch: end it so the pipeline commits and lets go.
        if tokio::time::Instant::now() >= deadline || shared.handoff.pending() {
            break;
        }
    }
    Ok(())
}
