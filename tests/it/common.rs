//! Shared test helpers: fixtures built by the test command, lake readers, waiting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use finlake::config::Config;

use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::datatypes::{Int32Type, Int64Type};
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Directory of the plugin components built by `xtask/test.sh` (or `xtask/setup.sh`).
pub fn plugin_dir() -> PathBuf {
    let dir = std::env::var_os("FINLAKE_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist"));
    for name in ["passthrough", "normalize-trade", "chaos"] {
        let f = dir.join(format!("{name}.wasm"));
        assert!(
            f.exists(),
            "{} is missing: build the plugins first with ./xtask/setup.sh (the test command does)",
            f.display()
        );
    }
    dir
}

/// Compile cache shared by test runs, so the large Python/JS components compile once.
pub fn shared_cache_dir() -> PathBuf {
    std::env::var_os("FINLAKE_TEST_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        home.join(".cache/finlake/test-plugin-cache")
    })
}

pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// The shipped `stock-trades` pipeline (and only it) against `topic`, with lake and compile cache
/// in `dir`, written to `dir/pipelines.toml`.
pub fn trades_config(dir: &Path, topic: &str) -> String {
    shipped_config(dir, "stock-trades", topic)
}

/// One pipeline of the shipped `pipelines.toml` (with the tables it writes) against `topic`, with
/// lake and compile cache in `dir` and the models it reads copied beside it, written to
/// `dir/pipelines.toml`.
pub fn shipped_config(dir: &Path, pipeline: &str, topic: &str) -> String {
    let shipped = include_str!("../../pipelines.toml");
    let full = Config::parse_and_validate(shipped, "pipelines.toml").expect("the shipped config is valid");
    let mut config = full.only_pipeline(pipeline).expect("the shipped config has the pipeline");
    // config_files are confined to the config's directory: the models go beside it.
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    std::fs::create_dir_all(dir.join("models")).unwrap();
    for entry in std::fs::read_dir(&models).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join("models").join(path.file_name().unwrap())).unwrap();
    }
    config.kafka.brokers = "set-by-test:9092".into();
    config.kafka.topics = vec![topic.to_string()];
    config.api.listen = "127.0.0.1:0".into();
    config.plugins.dir = plugin_dir();
    config.plugins.cache_dir = shared_cache_dir();
    config.lake.root = dir.join("lake");
    let p = &mut config.pipelines[0];
    p.topic = topic.to_string();
    p.flush.max_latency_ms = 300;
    let text = toml::to_string(&config).expect("serializes");
    std::fs::write(dir.join("pipelines.toml"), &text).unwrap();
    text
}

/// Rows of a Delta table (latest version) as (partition, offset) → count, read from the
/// Parquet files the Delta log lists.
pub async fn coordinates(table_dir: &Path, partition_col: &str, offset_col: &str) -> BTreeMap<(i32, i64), usize> {
    let mut out = BTreeMap::new();
    if !table_dir.join("_delta_log").exists() {
        return out;
    }
    let url = url::Url::from_directory_path(table_dir.canonicalize().unwrap()).unwrap();
    let table = deltalake::open_table(url).await.unwrap();
    let files: Vec<String> = table.get_file_uris().unwrap().collect();
    for f in files {
        let path = url::Url::parse(&f).ok().and_then(|u| u.to_file_path().ok()).unwrap_or_else(|| f.clone().into());
        let path = path.display().to_string();
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let parts = batch.column_by_name(partition_col).unwrap().as_primitive::<Int32Type>().clone();
            let offs = batch.column_by_name(offset_col).unwrap().as_primitive::<Int64Type>().clone();
            for i in 0..batch.num_rows() {
                assert!(!parts.is_null(i) && !offs.is_null(i));
                *out.entry((parts.value(i), offs.value(i))).or_insert(0) += 1;
            }
        }
    }
    out
}

pub async fn kafka_coordinates(table_dir: &Path) -> BTreeMap<(i32, i64), usize> {
    coordinates(table_dir, "kafka_partition", "kafka_offset").await
}

pub async fn dead_letter_coordinates(table_dir: &Path) -> BTreeMap<(i32, i64), usize> {
    coordinates(table_dir, "partition", "offset").await
}

/// Polls `f` until it returns true or `timeout` passes; panics with `what` on timeout.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !f().await {
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn assert_exactly_once(name: &str, rows: &BTreeMap<(i32, i64), usize>) {
    let dups: Vec<_> = rows.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dups.is_empty(), "{name}: (partition, offset) written more than once: {dups:?}");
}

/// Produces `options.count` simulated records in the background (at `options.rate`); the task
/// answers how many were acknowledged.
pub fn produce_in_background(
    brokers: &str,
    options: finlake::kafka::producer::ProduceOptions,
) -> tokio::task::JoinHandle<Result<u64, finlake::kafka::KafkaError>> {
    let producer = finlake::kafka::producer::create_producer(brokers, &Default::default()).unwrap();
    tokio::spawn(async move {
        // Never stopped early: the run ends at the count.
        let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        finlake::kafka::producer::produce(&producer, &options, stop_rx, |_| {}).await
    })
}

/// Produces `values` (key `k<i>`) to `topic` and waits for every acknowledgement.
pub async fn produce_values(brokers: &str, topic: &str, values: &[String]) {
    use rdkafka::producer::FutureRecord;
    let producer = finlake::kafka::producer::create_producer(brokers, &Default::default()).unwrap();
    // Enqueued together, then awaited: the records reach the broker as one burst, so a running
    // pipeline sees them in one batch (as when they were produced before it started).
    let keys: Vec<String> = (0..values.len()).map(|i| format!("k{i}")).collect();
    let sends = values
        .iter()
        .zip(&keys)
        .map(|(v, key)| producer.send(FutureRecord::to(topic).key(key).payload(v), Duration::from_secs(10)));
    for result in futures::future::join_all(sends).await {
        result.map_err(|(e, _)| e).unwrap();
    }
}

/// A config with one pipeline `p`: `topic` → plugin `chaos` (stage config `stage_config`, a TOML
/// inline table) → table `tagged` (value, tag, version), dead letters in `dead_letters`; plugins
/// from `plugins_dir`, the lake under `dir/lake`. Written to `dir/pipelines.toml`.
pub fn chaos_config(dir: &Path, plugins_dir: &Path, topic: &str, stage_config: &str) -> String {
    let text = format!(
        r#"[kafka]
brokers = "set-by-test:9092"

[api]
listen = "127.0.0.1:0"

[plugins]
dir = "{plugins}"
cache_dir = "{cache}"
timeout_ms = 1000

[lake]
root = "{lake}"

[[tables]]
name = "tagged"
columns = [
  {{ name = "value", type = "string", nullable = false }},
  {{ name = "tag", type = "string" }},
  {{ name = "version", type = "string" }},
]

[[pipelines]]
name = "p"
topic = "{topic}"
dead_letter_table = "dead_letters"
pause_after_failed_batches = 2
batch = {{ max_records = 50, max_wait_ms = 50 }}
flush = {{ max_latency_ms = 300 }}

[[pipelines.stages]]
plugin = "chaos"
config = {stage_config}
outputs = {{ out = "tagged" }}
"#,
        plugins = plugins_dir.display(),
        cache = shared_cache_dir().display(),
        lake = dir.join("lake").display(),
    );
    std::fs::write(dir.join("pipelines.toml"), &text).unwrap();
    text
}

/// A temporary directory for tests that run other processes: kept when the test fails (its
/// logs say why), removed when it passes.
pub struct KeptDir(Option<tempfile::TempDir>);

impl KeptDir {
    pub fn new() -> KeptDir {
        KeptDir(Some(tempfile::tempdir().unwrap()))
    }
    pub fn path(&self) -> &Path {
        self.0.as_ref().unwrap().path()
    }
}

impl Drop for KeptDir {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.0.take()
        {
            eprintln!("kept for the failed test: {}", dir.keep().display());
        }
    }
}
