//! 3. Latency: produce → committed in Delta, per record, at half the pipeline's top rate.
//!
//! A record counts as committed when both bronze and silver hold it: the first commit of each
//! table whose stored progress (`txn`, the last offset handled per partition) reaches the
//! record's offset. Its latency is that commit's time (the pipeline's commit event) minus the
//! record's Kafka timestamp (set by the producer when it sent it).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use finlake::config::FlushConfig;
use finlake::simulate::Kind;
use finlake_api::Event;

use crate::load::{self, Broker, Pace};
use crate::pipeline::{runtime, trades_config};
use crate::report::{Report, Target, section};
use crate::{Options, percentile};

const TABLES: [(&str, &str); 2] = [("bronze_trades", "bronze/trades"), ("silver_trades", "silver/trades")];

/// Per partition: (last offset a table holds, commit time ms), in commit order.
type Reach = BTreeMap<i32, Vec<(i64, i64)>>;

pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// Produce → acknowledged by the broker, p50 and p99: the part of the latency spent before
    /// the pipeline can see a record.
    pub acked: (f64, f64),
    pub records: usize,
    pub uncommitted: usize,
    pub commits: usize,
}

pub async fn measure(broker: &Broker, options: &Options, rate: f64, flush: Option<(FlushConfig, u64)>) -> Latency {
    let topic = broker.topic("latency", 6).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = trades_config(dir.path(), &topic, flush, &broker.properties);
    let flush_ms = config.pipelines[0].flush.max_latency_ms;
    let root = config.lake.root.clone();
    let service = finlake::service::Service::start_with_runtime(
        config,
        broker.servers.clone(),
        runtime(&dir.path().join("cache"), false),
    )
    .await
    .expect("service");
    let mut events = service.registry.events.subscribe();
    let commits: Arc<Mutex<Vec<(String, u64, i64)>>> = Arc::default();
    let collected = commits.clone();
    let collector = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(Event::Commit(c)) if TABLES.iter().any(|(t, _)| *t == c.table) => {
                    collected.lock().unwrap_or_else(|e| e.into_inner()).push((c.table, c.version, c.at_ms));
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => panic!("missed {n} commit events"),
                Err(_) => break,
            }
        }
    });
    // Let the pipeline join its group before the clock starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let deliveries: load::Deliveries = Arc::default();
    let load = load::Load::start(broker, &topic, Kind::Trades, Pace::Rate(rate), Some(deliveries.clone()));
    tokio::time::sleep(Duration::from_secs_f64(options.latency_seconds)).await;
    load.stop();
    // Every record gets its regular commit (not the one at shutdown).
    tokio::time::sleep(Duration::from_millis(flush_ms + 3000)).await;
    collector.abort();
    let commits = std::mem::take(&mut *commits.lock().unwrap_or_else(|e| e.into_inner()));
    service.shutdown().await;

    let cluster = {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let c: BaseConsumer = broker.client().create().expect("client");
        c.client().fetch_cluster_id(Duration::from_secs(10)).expect("cluster id")
    };
    let source = format!("{cluster}/{topic}");
    // Per table and partition: (last offset held, commit time), in commit order.
    let mut reach: BTreeMap<&str, Reach> = BTreeMap::new();
    for (name, path) in TABLES {
        let mut table = finlake::delta::open(&root, path).await.expect("open").expect("table exists");
        let mut versions: Vec<(u64, i64)> =
            commits.iter().filter(|(t, _, _)| t == name).map(|(_, v, at)| (*v, *at)).collect();
        versions.sort();
        for (version, at) in versions {
            table.load_version(version).await.expect("load version");
            for partition in 0..6 {
                let app = finlake::delta::progress::app_id("stock-trades", &source, partition);
                if let Some(offset) = finlake::delta::progress::stored(&table, name, &app).await.expect("txn") {
                    reach.entry(name).or_default().entry(partition).or_default().push((offset, at));
                }
            }
        }
    }
    let deliveries = std::mem::take(&mut *deliveries.lock().unwrap_or_else(|e| e.into_inner()));
    let (mut latencies, mut uncommitted) = (Vec::with_capacity(deliveries.len()), 0usize);
    let mut acked: Vec<f64> = deliveries.iter().map(|(_, _, sent, acked)| (acked - sent) as f64).collect();
    acked.sort_by(f64::total_cmp);
    for (partition, offset, sent_ms, _) in &deliveries {
        let committed = TABLES.iter().map(|(name, _)| {
            let steps = reach.get(name).and_then(|p| p.get(partition))?;
            let i = steps.partition_point(|(held, _)| held < offset);
            steps.get(i).map(|(_, at)| *at)
        });
        match committed.collect::<Option<Vec<i64>>>() {
            Some(ats) => latencies.push((ats.into_iter().max().unwrap_or(0) - sent_ms) as f64),
            None => uncommitted += 1,
        }
    }
    latencies.sort_by(f64::total_cmp);
    Latency {
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        max: latencies.last().copied().unwrap_or(f64::NAN),
        acked: (percentile(&acked, 0.50), percentile(&acked, 0.99)),
        records: latencies.len(),
        uncommitted,
        commits: commits.len(),
    }
}

pub async fn run(broker: &Broker, options: &Options, top_rate: f64, report: &mut Report) {
    let rate = (top_rate / 2.0).max(100.0);
    section(&format!(
        "3: latency, produce -> committed in bronze and silver, at {rate:.0} records/s (half the top rate) for {} s",
        options.latency_seconds
    ));
    let low = FlushConfig { max_latency_ms: 100, ..FlushConfig::default() };
    let mut low_p99 = f64::NAN;
    for (label, flush) in
        [("default flush (5 s)", None), ("low latency (flush 100 ms, batch wait 10 ms)", Some((low, 10)))]
    {
        let low_latency = flush.is_some();
        let l = measure(broker, options, rate, flush).await;
        let note = format!(
            "p50 {:.0} / max {:.0} ms over {} records, {} commits, {} not committed; produce -> broker ack p50 {:.0} / p99 {:.0} ms",
            l.p50, l.max, l.records, l.commits, l.uncommitted, l.acked.0, l.acked.1
        );
        assert_eq!(l.uncommitted, 0, "{label}: records never committed");
        report.figure("latency", &format!("p99, {label}"), l.p99, "ms", note);
        if low_latency {
            low_p99 = l.p99;
        }
    }
    report.ratio(
        "p99 produce → committed, low-latency setting",
        low_p99,
        " ms",
        Some(Target::AtMost(250.0)),
        format!("at {rate:.0} records/s"),
    );
}
