//! Load for the benchmarks: a broker (the embedded one, or the user's `--brokers`), fresh
//! topics, a producer thread that runs alongside what is measured, a raw consumer, and the
//! steady-state rate of a counter.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use finlake::kafka::EmbeddedBroker;
use finlake::simulate::Kind;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

pub struct Broker {
    _embedded: Option<EmbeddedBroker>,
    /// `--property` settings, for every client.
    pub properties: BTreeMap<String, String>,
    pub servers: String,
    pub external: bool,
    topics: AtomicU64,
}

impl Broker {
    pub fn new(external: Option<&str>, properties: BTreeMap<String, String>) -> Broker {
        let topics = AtomicU64::new(0);
        match external {
            Some(servers) => Broker { _embedded: None, properties, servers: servers.into(), external: true, topics },
            None => {
                let embedded = EmbeddedBroker::start(&[], 1).expect("embedded broker");
                let servers = embedded.bootstrap_servers();
                Broker { _embedded: Some(embedded), properties, servers, external: false, topics }
            }
        }
    }

    /// A client config for this broker (with the `--property` settings).
    pub fn client(&self) -> ClientConfig {
        finlake::kafka::client_config(&self.servers, &self.properties)
    }

    /// A new, empty topic (unique per run, so reruns against a real cluster do not mix).
    pub async fn topic(&self, prefix: &str, partitions: i32) -> String {
        let n = self.topics.fetch_add(1, Ordering::Relaxed);
        let name = format!("finlake-bench-{prefix}-{}-{}-{n}", std::process::id(), chrono::Utc::now().timestamp());
        match &self._embedded {
            Some(embedded) => embedded.create_topic(&name, partitions).expect("create topic"),
            None => {
                use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
                let admin: AdminClient<_> = self.client().create().expect("admin client");
                // -1: the cluster's default replication factor.
                let topic = NewTopic::new(&name, partitions, TopicReplication::Fixed(-1));
                let results = admin.create_topics([&topic], &AdminOptions::new()).await.expect("create topics");
                for r in results {
                    r.unwrap_or_else(|(t, e)| panic!("cannot create topic {t} on {}: {e}", self.servers));
                }
            }
        }
        name
    }
}

/// How fast the producer goes.
#[derive(Clone)]
pub enum Pace {
    /// Keep `window` records ahead of `consumed`: whatever is measured never waits for data
    /// and never falls further behind than the broker keeps (the embedded broker keeps ~5 MB
    /// per partition).
    AheadOf { consumed: Arc<AtomicU64>, window: u64 },
    /// A fixed rate, records per second.
    Rate(f64),
}

/// (partition, offset, timestamp ms, acknowledged ms) of every record the broker acknowledged.
pub type Deliveries = Arc<Mutex<Vec<(i32, i64, i64, i64)>>>;

struct Acks {
    deliveries: Option<Deliveries>,
    failed: Arc<AtomicU64>,
}

impl rdkafka::ClientContext for Acks {}

impl ProducerContext for Acks {
    /// The send time (ms): the broker's delivery report does not always carry the timestamp.
    type DeliveryOpaque = Box<i64>;
    fn delivery(&self, result: &DeliveryResult<'_>, sent_ms: Box<i64>) {
        match result {
            Ok(m) => {
                if let Some(d) = &self.deliveries {
                    let acked_ms = chrono::Utc::now().timestamp_millis();
                    d.lock().unwrap_or_else(|e| e.into_inner()).push((m.partition(), m.offset(), *sent_ms, acked_ms));
                }
            }
            Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A producer thread of simulated records of one kind.
pub struct Load {
    stop: Arc<AtomicBool>,
    pub produced: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Load {
    pub fn start(broker: &Broker, topic: &str, kind: Kind, pace: Pace, deliveries: Option<Deliveries>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let produced = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let mut config = broker.client();
        config
            .set("linger.ms", "5")
            .set("batch.num.messages", "10000")
            .set("queue.buffering.max.messages", "1000000")
            .set("queue.buffering.max.kbytes", "1048576");
        let producer: BaseProducer<Acks> =
            config.create_with_context(Acks { deliveries, failed: failed.clone() }).expect("producer");
        let (topic, stop_t, produced_t) = (topic.to_string(), stop.clone(), produced.clone());
        let thread = std::thread::Builder::new()
            .name("bench-producer".into())
            .spawn(move || {
                let mut generator = finlake::simulate::generator(kind, 7, 0.01);
                let started = Instant::now();
                let mut sent = 0u64;
                while !stop_t.load(Ordering::Relaxed) {
                    let allowed = match &pace {
                        Pace::AheadOf { consumed, window } => {
                            (consumed.load(Ordering::Relaxed) + window).saturating_sub(sent)
                        }
                        Pace::Rate(rate) => ((started.elapsed().as_secs_f64() * rate) as u64).saturating_sub(sent),
                    };
                    if allowed == 0 {
                        // Sleep, not `poll(1 ms)`: with nothing to deliver that returns at once,
                        // and the spin took 83 % of the CPU from what was measured (the first
                        // profile of this benchmark, docs/PERFORMANCE.md).
                        producer.poll(Duration::ZERO);
                        std::thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                    for _ in 0..allowed.min(2000) {
                        // The Kafka timestamp is the send time: the latency benchmark measures
                        // from it (the delivery report carries it back).
                        let now_ms = chrono::Utc::now().timestamp_millis();
                        let (key, value) = generator.next_record(now_ms);
                        let mut record = BaseRecord::with_opaque_to(&topic, Box::new(now_ms))
                            .key(&key)
                            .payload(&value)
                            .timestamp(now_ms);
                        loop {
                            match producer.send(record) {
                                Ok(()) => break,
                                Err((e, r))
                                    if e.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::QueueFull) =>
                                {
                                    producer.poll(Duration::from_millis(5));
                                    record = r;
                                }
                                Err((e, _)) => panic!("produce: {e}"),
                            }
                        }
                        sent += 1;
                    }
                    produced_t.store(sent, Ordering::Relaxed);
                    producer.poll(Duration::ZERO);
                }
                let _ = producer.flush(Duration::from_secs(30));
            })
            .expect("producer thread");
        Load { stop, produced, failed, thread: Some(thread) }
    }

    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let failed = self.failed.load(Ordering::Relaxed);
        assert_eq!(failed, 0, "the broker refused {failed} records");
        self.produced.load(Ordering::Relaxed)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads `topic` from the start with no processing (as kcat does), counting records.
pub fn raw_consume(broker: &Broker, topic: &str, until: u64, counter: Arc<AtomicU64>) -> JoinHandle<()> {
    let mut config = broker.client();
    config
        .set("group.id", format!("{topic}-raw"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false");
    let consumer: BaseConsumer = config.create().expect("raw consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    std::thread::Builder::new()
        .name("bench-raw-consumer".into())
        .spawn(move || {
            let (mut n, mut bytes) = (0u64, 0usize);
            while n < until {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(m)) => {
                        bytes += m.payload().map_or(0, <[u8]>::len);
                        n += 1;
                        if n.is_multiple_of(256) {
                            counter.store(n, Ordering::Relaxed);
                        }
                    }
                    Some(Err(e)) => panic!("raw consume: {e}"),
                    None => {}
                }
            }
            counter.store(n, Ordering::Relaxed);
            std::hint::black_box(bytes);
        })
        .expect("consumer thread")
}

/// A steady-state rate: records counted between `warmup` and `warmup + records`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub per_second: f64,
    pub seconds: f64,
    /// Share of the samples in which less than a tenth of the producer's window was waiting:
    /// a high share means the producer, not the consumer, set the pace.
    pub starved: f64,
}

impl Rate {
    /// Two measurements as one: all their records over all their seconds.
    pub fn combined(a: Rate, b: Rate) -> Rate {
        let seconds = a.seconds + b.seconds;
        Rate {
            per_second: (a.per_second * a.seconds + b.per_second * b.seconds) / seconds,
            seconds,
            starved: (a.starved * a.seconds + b.starved * b.seconds) / seconds,
        }
    }
}

/// Samples `count` every 10 ms until it passed `warmup + records`.
pub async fn measure(
    count: impl Fn() -> u64,
    produced: &AtomicU64,
    window: u64,
    warmup: u64,
    records: u64,
    timeout: Duration,
) -> Rate {
    let started = Instant::now();
    let mut begin: Option<(Instant, u64)> = None;
    let (mut samples, mut starved) = (0u64, 0u64);
    loop {
        let n = count();
        let now = Instant::now();
        match begin {
            None if n >= warmup => begin = Some((now, n)),
            Some((t0, n0)) if n >= warmup + records => {
                let seconds = now.duration_since(t0).as_secs_f64();
                return Rate {
                    per_second: (n - n0) as f64 / seconds,
                    seconds,
                    starved: starved as f64 / samples.max(1) as f64,
                };
            }
            Some(_) => {
                samples += 1;
                if produced.load(Ordering::Relaxed).saturating_sub(n) < window / 10 {
                    starved += 1;
                }
            }
            None => {}
        }
        assert!(started.elapsed() < timeout, "stalled at {n} records (warm-up {warmup}, then {records})");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Peak resident memory of this process since [`reset_peak_rss`], in MiB.
pub fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:") / 1024.0
}

pub fn reset_peak_rss() {
    // "5" resets the peak RSS counter (proc(5), /proc/pid/clear_refs).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_kib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0.0)
}
