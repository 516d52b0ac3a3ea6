//! `pipelines.toml`: typed, documented configuration, parsed strictly and validated separately.
//!
//! A crate of its own (plain data, serde and TOML: no Kafka, Wasm or Delta), so the parser and
//! validator can be fuzzed without building the host.
//!
//! Parsing (`Config::parse`) rejects syntax errors, unknown keys and wrong types, each with its
//! `file:line:col`. `Config::validate` then checks the meaning (references, names, limits) and
//! reports *every* problem at once, each located in the file.

mod gold;
mod locate;
mod paths;
mod secrets;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use gold::{GoldConfig, parse_duration_us};
pub use locate::{Located, Step};
pub use paths::{ConfigFileError, MAX_CONFIG_FILE_BYTES, normalize_table_path, read_config_file};
pub use secrets::{REDACTED_PREFIX, is_secret_property, redact, unredact};
pub use validate::Problem;

/// Everything FinLake runs, as declared in `pipelines.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub kafka: KafkaConfig,
    #[serde(default)]
    pub api: ApiConfig,
    #[serde(default)]
    pub lake: LakeConfig,
    #[serde(default)]
    pub plugins: PluginsConfig,
    /// The built-in market simulator; absent or `enabled = false` means no simulated data.
    #[serde(default)]
    pub simulator: Option<SimulatorConfig>,
    #[serde(default)]
    pub tables: Vec<TableConfig>,
    #[serde(default)]
    pub pipelines: Vec<PipelineConfig>,
    /// Window aggregations over silver tables (gold layer).
    #[serde(default)]
    pub gold: Vec<GoldConfig>,
    /// Table maintenance: compaction, vacuum, checkpoints, retention.
    #[serde(default)]
    pub maintenance: MaintenanceConfig,
    /// The file this config was loaded from (watched for live changes by `finlake run`).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Where records come from.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// `"embedded"` starts an in-process Kafka-protocol broker (memory only, for demos and
    /// tests); anything else is a `host:port[,host:port]` bootstrap list of a real cluster.
    pub brokers: String,
    /// Consumer group id prefix; each pipeline consumes as `<group_id>-<pipeline>`.
    pub group_id: String,
    /// Topics the embedded broker creates at start.
    pub topics: Vec<String>,
    /// Partitions per topic on the embedded broker.
    pub partitions: i32,
    /// Extra librdkafka properties for every client (e.g. `"security.protocol" = "SSL"`).
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "embedded".into(),
            group_id: "finlake".into(),
            topics: vec![],
            partitions: 3,
            properties: BTreeMap::new(),
        }
    }
}

impl KafkaConfig {
    pub fn is_embedded(&self) -> bool {
        self.brokers.trim() == "embedded"
    }
}

/// The HTTP API and metrics endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub enabled: bool,
    /// Listen address. On loopback (the default) changes need no token; on any other address
    /// every mutating endpoint requires `Authorization: Bearer <token>`.
    pub listen: String,
    /// Bearer token for mutating endpoints (plugin upload and rollback, config writes, resume,
    /// dead-letter replay). The environment variable `FINLAKE_API_TOKEN` overrides it. When
    /// set, it is required on loopback too.
    pub token: Option<String>,
    /// Largest accepted upload (a plugin component), in MiB.
    pub max_upload_mb: u64,
    /// The built dashboard (`xtask/build-web.sh` writes `web/dist`), served at `/`; relative
    /// paths are relative to the config file's directory. When it is missing the API still
    /// runs and `/` says how to build it.
    pub dashboard: PathBuf,
    /// Host names the API answers to besides the listen address, `localhost` and IP literals
    /// (e.g. `["finlake.internal"]`). Requests naming any other `Host` are refused, so a web
    /// page cannot reach the API through DNS rebinding.
    pub allowed_hosts: Vec<String>,
    /// Memory one SQL query may use (DataFusion's memory pool), in MiB; a query that needs
    /// more fails with an error instead of growing the process.
    pub query_memory_mb: u64,
    /// Queries run at once; more wait (up to 5 s) and are then refused with 503.
    pub max_queries: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            enabled: true,
            listen: "127.0.0.1:8080".into(),
            token: None,
            max_upload_mb: 64,
            dashboard: PathBuf::from("web/dist"),
            allowed_hosts: Vec::new(),
            query_memory_mb: 512,
            max_queries: 2,
        }
    }
}

/// Where the Delta tables live.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeConfig {
    /// Root directory; relative paths are relative to the config file's directory. Or a URL of
    /// object storage: `s3://bucket/prefix` (endpoint, region and credentials from the
    /// environment: `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, …) or
    /// `hdfs://namenode:port/path`.
    pub root: PathBuf,
}

impl LakeConfig {
    /// The root as a URL when it is one (`scheme://…`), else `None` (a local directory).
    pub fn url(&self) -> Option<&str> {
        let s = self.root.to_str()?;
        let (scheme, rest) = s.split_once("://")?;
        (!scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+') && !rest.is_empty())
            .then_some(s)
    }
}

impl Default for LakeConfig {
    fn default() -> Self {
        LakeConfig { root: PathBuf::from("lake") }
    }
}

/// Table maintenance, run for every table on a schedule (and on demand with `finlake lake` or
/// `POST /api/tables/{name}/optimize`), so a lake that runs for weeks keeps a bounded number
/// of files, log entries and rows of bookkeeping.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaintenanceConfig {
    /// Run the schedule at all (default true).
    pub enabled: bool,
    /// Time between two maintenance runs (default `"5m"`).
    pub interval: String,
    /// Compaction: files below `small_file_mb` are bin-packed, per partition, into files of
    /// up to `target_file_mb` once a partition has `min_small_files` of them.
    pub target_file_mb: u64,
    pub small_file_mb: u64,
    pub min_small_files: usize,
    /// How far back time travel reaches (default `"24h"`): files removed by compaction or
    /// retention and log entries older than this are deleted (VACUUM, log cleanup).
    pub time_travel: String,
    /// A checkpoint at least every this many commits (FinLake's writers also write one every
    /// 25 commits beside their commits; this covers tables written by others too).
    pub checkpoint_every: u64,
    /// Dead letters older than this are deleted (default `"30d"`).
    pub dead_letter_retention: String,
    /// State snapshots kept per stateful stage (default 3): older ones are deleted.
    pub state_snapshots: usize,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        MaintenanceConfig {
            enabled: true,
            interval: "5m".into(),
            target_file_mb: 128,
            small_file_mb: 16,
            min_small_files: 8,
            time_travel: "24h".into(),
            checkpoint_every: 50,
            dead_letter_retention: "30d".into(),
            state_snapshots: 3,
        }
    }
}

impl MaintenanceConfig {
    fn ms(text: &str, fallback: i64) -> i64 {
        parse_duration_us(text).map(|us| us / 1000).unwrap_or(fallback)
    }
    pub fn interval_ms(&self) -> i64 {
        Self::ms(&self.interval, 300_000)
    }
    pub fn time_travel_ms(&self) -> i64 {
        Self::ms(&self.time_travel, 86_400_000)
    }
    pub fn dead_letter_retention_ms(&self) -> i64 {
        Self::ms(&self.dead_letter_retention, 30 * 86_400_000)
    }
}

/// Where plugins come from and their default limits.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Directory holding `<plugin-name>.wasm` components.
    pub dir: PathBuf,
    /// Directory for compiled artefacts (safe to delete; rebuilt on demand).
    pub cache_dir: PathBuf,
    /// Wall-clock limit per plugin call, unless a stage overrides it.
    pub timeout_ms: u64,
    /// Linear-memory limit per plugin instance, unless a stage overrides it.
    pub memory_mb: u64,
    /// An instance whose linear memory grew by more than this since it started is replaced by
    /// a fresh one between batches (state carried over): linear memory never shrinks, and a
    /// guest's allocator or garbage collector can grow it for hours. 0 = never.
    pub recycle_growth_mb: u64,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            dir: PathBuf::from("plugins/dist"),
            cache_dir: PathBuf::from(".finlake/cache"),
            timeout_ms: 2_000,
            memory_mb: 256,
            recycle_growth_mb: 32,
        }
    }
}

/// Simulated market data produced inside `finlake run`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorConfig {
    pub enabled: bool,
    /// Fraction of records deliberately malformed, to exercise the dead-letter path.
    pub malformed_ratio: f64,
    /// Seed for reproducible streams; random when absent.
    pub seed: Option<u64>,
    /// One producer per stream.
    pub streams: Vec<StreamConfig>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            enabled: true,
            malformed_ratio: 0.01,
            seed: None,
            streams: vec![StreamConfig {
                kind: Kind::Trades,
                topic: "stock-trades".into(),
                rate: 100.0,
                clock_speed: 1.0,
            }],
        }
    }
}

/// Which stream to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Stock trades for AAPL TSLA GOOGL MSFT AMZN.
    Trades,
    /// Crypto prices for BTC ETH BNB ADA SOL.
    Crypto,
    /// Bank/card transactions of 1000 accounts, with labelled fraud patterns.
    Bank,
}

/// One simulated stream.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// `trades`, `crypto` or `bank`.
    pub kind: Kind,
    pub topic: String,
    /// Records per second.
    pub rate: f64,
    /// Event-time speed-up (1.0 = wall clock; 60.0 = a simulated minute per real second).
    #[serde(default = "one")]
    pub clock_speed: f64,
}

fn one() -> f64 {
    1.0
}

/// A Delta table a pipeline writes.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    pub name: String,
    /// Path under the lake root; defaults to the name.
    #[serde(default)]
    pub path: Option<String>,
    /// `bronze`, `silver` or `gold`: informational, shown by the API.
    #[serde(default)]
    pub layer: Option<String>,
    #[serde(default)]
    pub partition_by: Vec<String>,
    pub columns: Vec<ColumnConfig>,
    /// Append `kafka_topic`, `kafka_partition`, `kafka_offset`, `kafka_timestamp` of the source
    /// record to every row (default true).
    #[serde(default = "yes")]
    pub kafka_columns: bool,
    /// A column whose value identifies a record (e.g. `trade_id`): a row whose value the table
    /// already holds is a duplicate (a replay or a producer retry upstream) and is not written
    /// again. The values are kept in memory for `dedup_horizon`, and reloaded at start from the
    /// files written within it.
    #[serde(default)]
    pub unique_key: Option<String>,
    /// How long a `unique_key` value is remembered after it was written (default `"1h"`): a
    /// duplicate arriving later than this is written again (the known limit that keeps memory
    /// and start-up time independent of the table's age). Size it to how late upstream retries
    /// and replays come.
    #[serde(default = "default_dedup_horizon")]
    pub dedup_horizon: String,
    /// Where a table that holds no offsets yet starts when its pipeline already runs (an output
    /// added later): `"current"` (default) at the pipeline's positions, so the topic is not
    /// re-read through stateful plugins; `"earliest"` re-reads the topic to fill it.
    #[serde(default)]
    pub from: StartFrom,
}

/// Where a table added to a running pipeline starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    #[default]
    Current,
    Earliest,
}

fn yes() -> bool {
    true
}

fn default_dedup_horizon() -> String {
    "1h".into()
}

impl TableConfig {
    /// The path under the lake root, normalised (`x`, `x/` and `./x` are one path).
    pub fn relative_path(&self) -> String {
        let raw = self.path.as_deref().unwrap_or(&self.name);
        normalize_table_path(raw).unwrap_or_else(|_| raw.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    #[serde(default = "yes")]
    pub nullable: bool,
}

/// Column types a plugin row (JSON) can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    String,
    Long,
    Int,
    Double,
    Boolean,
    /// JSON number (epoch milliseconds) or RFC 3339 text; stored as UTC microseconds.
    Timestamp,
    /// `YYYY-MM-DD` text.
    Date,
    /// JSON text stored as bytes.
    Binary,
}

/// Records from one topic through a graph of plugin stages into tables.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    pub name: String,
    pub topic: String,
    /// Table receiving every record a stage rejects or that a table cannot accept.
    pub dead_letter_table: String,
    #[serde(default)]
    pub batch: BatchConfig,
    #[serde(default)]
    pub flush: FlushConfig,
    /// Attempts at a batch every record of which fails in one stage (a broken plugin rather than
    /// poison records) before the pipeline pauses, holding that batch, until resumed.
    #[serde(default = "default_pause_after")]
    pub pause_after_failed_batches: u32,
    /// What to do when a stage keeps failing every record of a batch: `"pause"` (default) holds
    /// the batch until resumed; `"dead_letter"` puts the batch's records in the dead-letter
    /// table (replayable once the plugin is fixed) and goes on.
    #[serde(default)]
    pub on_broken: OnBroken,
    pub stages: Vec<StageConfig>,
}

/// See [`PipelineConfig::on_broken`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBroken {
    #[default]
    Pause,
    DeadLetter,
}

fn default_pause_after() -> u32 {
    3
}

/// How records are grouped for one plugin call.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    pub max_records: usize,
    pub max_wait_ms: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig { max_records: 1000, max_wait_ms: 100 }
    }
}

/// When buffered rows become a Delta commit (whichever comes first). `max_latency_ms` bounds
/// how long a window's first row waits until it is committed: the window closes early by
/// what commits have recently been taking (at most half of it).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlushConfig {
    pub max_records: usize,
    pub max_bytes: usize,
    pub max_latency_ms: u64,
}

impl Default for FlushConfig {
    fn default() -> Self {
        FlushConfig { max_records: 100_000, max_bytes: 64 << 20, max_latency_ms: 5_000 }
    }
}

/// One plugin in a pipeline.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Unique within the pipeline; defaults to the plugin name.
    #[serde(default)]
    pub id: Option<String>,
    /// Plugin name: loads `<plugins.dir>/<plugin>.wasm`, whose declared name must match.
    pub plugin: String,
    /// Handed to the plugin's `init` as JSON.
    #[serde(default)]
    pub config: toml::Table,
    /// Files whose JSON content is added to `config` under the given key when the plugin is
    /// initialised (e.g. `{ model = "models/fraud-lr.json" }`): data a plugin needs without
    /// filesystem access, replaced without changing code. Relative to the config file and
    /// confined to its directory: regular files of at most 16 MiB.
    #[serde(default)]
    pub config_files: BTreeMap<String, PathBuf>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub memory_mb: Option<u64>,
    /// Plugin output name → table name, or the id of another stage to feed.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

impl StageConfig {
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.plugin)
    }
}

/// A config that failed to parse or validate: every problem, each with its location.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", render(.problems))]
    Invalid { problems: Vec<Problem> },
}

fn render(problems: &[Problem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

impl ConfigError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems } => problems,
            ConfigError::Read { .. } => &[],
        }
    }
}

impl Config {
    /// Reads, parses and validates a file. Relative paths in it are resolved against the
    /// file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::from_text(&text, &path.display().to_string(), Some(path))
    }

    /// Parses and validates `text`; with `path`, relative paths in it are resolved against the
    /// file's directory and the config remembers where it came from.
    pub fn from_text(text: &str, origin: &str, path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = Config::parse_and_validate(text, origin)?;
        if let Some(path) = path {
            let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            config.resolve_paths(base);
            config.source = Some(path.to_path_buf());
        }
        Ok(config)
    }

    /// Parses text (syntax, types, unknown keys) and validates it; `origin` names the file in
    /// messages.
    pub fn parse_and_validate(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config = Config::parse(text, origin)?;
        let problems = config.validate(text, origin);
        if problems.is_empty() { Ok(config) } else { Err(ConfigError::Invalid { problems }) }
    }

    /// Parses without semantic validation.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml::from_str::<Config>(text).map_err(|e| {
            let (line, col) = e.span().map(|s| locate::line_col(text, s.start)).unwrap_or((1, 1));
            ConfigError::Invalid {
                problems: vec![Problem {
                    origin: origin.to_string(),
                    line,
                    col,
                    message: e.message().trim().to_string(),
                }],
            }
        })
    }

    /// Checks meaning and returns every problem found (empty when valid).
    pub fn validate(&self, text: &str, origin: &str) -> Vec<Problem> {
        validate::validate(self, text, origin)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let stage_files =
            self.pipelines.iter_mut().flat_map(|p| p.stages.iter_mut()).flat_map(|s| s.config_files.values_mut());
        let lake = self.lake.url().is_none().then_some(&mut self.lake.root);
        for p in [&mut self.plugins.dir, &mut self.plugins.cache_dir, &mut self.api.dashboard]
            .into_iter()
            .chain(lake)
            .chain(stage_files)
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    /// The directory relative paths in the config are resolved against (and `config_files`
    /// are confined to).
    pub fn base_dir(&self) -> PathBuf {
        self.source
            .as_deref()
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    }

    /// Timestamp columns of table `name` that a gold job cuts windows on, each with the most
    /// its values may be ahead of the clock (`[[gold]] future_skew`, the smallest when several
    /// gold tables read the column), in microseconds.
    pub fn future_limits(&self, name: &str) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = Vec::new();
        for g in self.gold.iter().filter(|g| g.source == name) {
            let skew = g.future_skew_us();
            match out.iter_mut().find(|(c, _)| c == &g.event_time) {
                Some((_, s)) => *s = (*s).min(skew),
                None => out.push((g.event_time.clone(), skew)),
            }
        }
        out
    }

    pub fn table(&self, name: &str) -> Option<&TableConfig> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// This config with only pipeline `name`, the tables it writes and no simulator (for tests,
    /// benchmarks and tools that exercise one pipeline).
    pub fn only_pipeline(&self, name: &str) -> Option<Config> {
        let pipeline = self.pipelines.iter().find(|p| p.name == name)?.clone();
        let written: Vec<&String> = pipeline.stages.iter().flat_map(|s| s.outputs.values()).collect();
        let mut config = self.clone();
        config.tables.retain(|t| written.contains(&&t.name));
        config.pipelines = vec![pipeline];
        config.gold.retain(|g| config.tables.iter().any(|t| t.name == g.source));
        config.simulator = None;
        Some(config)
    }

    pub fn simulator(&self) -> Option<&SimulatorConfig> {
        self.simulator.as_ref().filter(|s| s.enabled)
    }

    /// The plugin component file for a plugin name.
    pub fn plugin_path(&self, plugin: &str) -> PathBuf {
        self.plugins.dir.join(format!("{plugin}.wasm"))
    }
}

/// Where a pipeline's state table lives under the lake root.
pub fn state_path(pipeline: &str) -> String {
    format!("state/{pipeline}")
}

#[cfg(test)]
mod tests;
