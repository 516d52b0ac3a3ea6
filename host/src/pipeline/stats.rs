//! Live counters of each pipeline, read by the API and mirrored into Prometheus metrics.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use finlake_api::{PipelineSnapshot, StageSnapshot, TableStats};

use crate::events::EventBus;
use crate::kafka::{Assignment, Lag};

/// Where a pipeline is, with why when it matters (the API shows the kind and the detail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipelineState {
    Starting,
    Running,
    /// Failed and waiting to restart; the message says why.
    Restarting(String),
    /// A stage failed every record of a batch repeatedly: nothing is consumed until resumed
    /// (`POST /api/pipelines/{name}/resume`); the message says which stage and why.
    Paused(String),
    Stopped,
}

impl PipelineState {
    fn api(&self) -> (finlake_api::PipelineState, Option<String>) {
        use finlake_api::PipelineState as Api;
        match self {
            PipelineState::Starting => (Api::Starting, None),
            PipelineState::Running => (Api::Running, None),
            PipelineState::Restarting(why) => (Api::Restarting, Some(why.clone())),
            PipelineState::Paused(why) => (Api::Paused, Some(why.clone())),
            PipelineState::Stopped => (Api::Stopped, None),
        }
    }
}

#[derive(Debug)]
pub struct PipelineStats {
    pub name: String,
    state: Mutex<PipelineState>,
    pub records_in: AtomicU64,
    pub rows_out: AtomicU64,
    pub dead_letters: AtomicU64,
    /// Rows not written because their unique key was already stored.
    pub duplicates: AtomicU64,
    pub errors: AtomicU64,
    pub batches: AtomicU64,
    pub commits: AtomicU64,
    tables: Mutex<BTreeMap<String, TableStats>>,
    last_error: Mutex<Option<String>>,
    stages: Mutex<BTreeMap<String, StageCalls>>,
    /// Recent input each entry stage handled without failing (for trying a new plugin version).
    samples: Mutex<BTreeMap<String, crate::plugin::Batch>>,
    /// Consumer lag, reported by the Kafka client.
    pub lag: Lag,
    /// The partitions the consumer group gave this host.
    pub assignment: Assignment,
    events: EventBus,
}

#[derive(Debug, Default)]
struct StageCalls {
    plugin: String,
    version: String,
    sha256: String,
    loaded_at: String,
    calls: u64,
    errors: u64,
    recent_us: std::collections::VecDeque<u64>,
}

const RECENT_CALLS: usize = 1024;

impl PipelineStats {
    pub fn new(name: &str) -> Self {
        Self::with_events(name, EventBus::default())
    }

    /// Stats whose commits are also published on `events`.
    pub fn with_events(name: &str, events: EventBus) -> Self {
        PipelineStats {
            name: name.to_string(),
            state: Mutex::new(PipelineState::Starting),
            records_in: AtomicU64::new(0),
            rows_out: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            tables: Mutex::new(BTreeMap::new()),
            last_error: Mutex::new(None),
            stages: Mutex::new(BTreeMap::new()),
            samples: Mutex::new(BTreeMap::new()),
            lag: Lag::default(),
            assignment: Assignment::default(),
            events,
        }
    }

    pub fn set_sample(&self, stage: &str, batch: crate::plugin::Batch) {
        self.samples.lock().unwrap_or_else(|e| e.into_inner()).insert(stage.to_string(), batch);
    }

    /// The latest sample of a stage's input, if it is an entry stage that has seen records.
    pub fn sample(&self, stage: &str) -> Option<crate::plugin::Batch> {
        self.samples.lock().unwrap_or_else(|e| e.into_inner()).get(stage).cloned()
    }

    /// A stage (re)started with this plugin.
    pub fn stage_loaded(&self, stage: &str, plugin: &str, version: &str, sha256: &str) {
        let mut stages = self.stages.lock().unwrap_or_else(|e| e.into_inner());
        let s = stages.entry(stage.to_string()).or_default();
        s.plugin = plugin.to_string();
        s.version = version.to_string();
        s.sha256 = sha256.to_string();
        s.loaded_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    }

    /// A stage processed one batch in `took`, with `errors` records failing in the plugin.
    pub fn stage_called(&self, stage: &str, took: std::time::Duration, errors: usize) {
        let mut stages = self.stages.lock().unwrap_or_else(|e| e.into_inner());
        let s = stages.entry(stage.to_string()).or_default();
        s.calls += 1;
        s.errors += errors as u64;
        if s.recent_us.len() == RECENT_CALLS {
            s.recent_us.pop_front();
        }
        s.recent_us.push_back(took.as_micros() as u64);
        metrics::histogram!("finlake_stage_batch_seconds", "pipeline" => self.name.clone(), "stage" => stage.to_string())
            .record(took.as_secs_f64());
    }

    pub fn stage_snapshots(&self) -> Vec<StageSnapshot> {
        let stages = self.stages.lock().unwrap_or_else(|e| e.into_inner());
        stages
            .iter()
            .map(|(stage, s)| {
                let mut sorted: Vec<u64> = s.recent_us.iter().copied().collect();
                sorted.sort_unstable();
                let pct = |p: f64| {
                    (!sorted.is_empty())
                        .then(|| sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0)
                };
                StageSnapshot {
                    pipeline: self.name.clone(),
                    stage: stage.clone(),
                    plugin: s.plugin.clone(),
                    version: s.version.clone(),
                    sha256: s.sha256.clone(),
                    loaded_at: s.loaded_at.clone(),
                    calls: s.calls,
                    errors: s.errors,
                    p50_ms: pct(0.5),
                    p99_ms: pct(0.99),
                }
            })
            .collect()
    }

    pub fn set_state(&self, state: PipelineState) {
        if let PipelineState::Restarting(why) = &state {
            *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
        }
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    pub fn state(&self) -> PipelineState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn add(&self, counter: &AtomicU64, n: u64, metric: &'static str) {
        counter.fetch_add(n, Ordering::Relaxed);
        metrics::counter!(metric, "pipeline" => self.name.clone()).increment(n);
    }

    pub fn record_error(&self, message: String) {
        self.add(&self.errors, 1, "finlake_pipeline_errors_total");
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
    }

    pub fn table_committed(&self, table: &str, rows: u64, version: u64) {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let t = tables.entry(table.to_string()).or_default();
        t.rows_written += rows;
        t.last_version = Some(version);
        t.last_commit_at = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        metrics::counter!("finlake_table_rows_written_total", "table" => table.to_string()).increment(rows);
        metrics::gauge!("finlake_table_version", "table" => table.to_string()).set(version as f64);
        drop(tables);
        self.events.committed(&self.name, table, rows, version);
    }

    pub fn table_opened(&self, table: &str, version: Option<u64>) {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        tables.entry(table.to_string()).or_default().last_version = version;
    }

    pub fn snapshot(&self) -> PipelineSnapshot {
        let (state, detail) = self.state().api();
        PipelineSnapshot {
            name: self.name.clone(),
            state,
            detail,
            lag: self.lag.get(),
            host: crate::kafka::host_id(),
            partitions: self.assignment.owned(),
            // Filled by the control plane, from what the hosts announce (crate::cluster).
            group: None,
            records_in: self.records_in.load(Ordering::Relaxed),
            rows_out: self.rows_out.load(Ordering::Relaxed),
            dead_letters: self.dead_letters.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            last_error: self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            tables: self.tables.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }
}

/// All pipelines of the process.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    pipelines: Arc<Mutex<BTreeMap<String, Arc<PipelineStats>>>>,
    /// The live feed every pipeline's commits go to.
    pub events: EventBus,
}

impl Registry {
    pub fn register(&self, name: &str) -> Arc<PipelineStats> {
        let stats = Arc::new(PipelineStats::with_events(name, self.events.clone()));
        self.pipelines.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), stats.clone());
        stats
    }

    /// Forgets a pipeline that was removed from the config.
    pub fn remove(&self, name: &str) {
        self.pipelines.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
    }

    pub fn get(&self, name: &str) -> Option<Arc<PipelineStats>> {
        self.pipelines.lock().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    pub fn snapshots(&self) -> Vec<PipelineSnapshot> {
        self.pipelines.lock().unwrap_or_else(|e| e.into_inner()).values().map(|s| s.snapshot()).collect()
    }

    /// Whether this host leads: runs the gold jobs and the scheduled table maintenance, which
    /// must run on one host at a time. The leader is the host that owns partition 0 of the
    /// first pipeline (by name): the consumer group already elects exactly one owner per
    /// partition, fences it by its session and moves it when the host dies or is cut off, so
    /// no second election (a lease in the lake) is needed. A pipeline that waits for its first
    /// assignment leads nowhere yet; one that is stopped or failing (or no pipeline at all)
    /// leaves the lead with this host, so a single host always runs its gold jobs. The short
    /// overlap of two leaders around a rebalance is safe: gold ticks carry `txn` markers (P5)
    /// and a second writer of the same tick is refused.
    pub fn is_lead(&self) -> bool {
        let pipelines = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        let Some(first) = pipelines.values().next() else { return true };
        match first.assignment.owned() {
            Some(owned) => owned.contains(&0),
            None => !matches!(first.state(), PipelineState::Starting | PipelineState::Running),
        }
    }

    /// Per pipeline, the partitions this host owns (`None` before its first assignment).
    pub fn assignments(&self) -> BTreeMap<String, Option<Vec<i32>>> {
        let pipelines = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        pipelines.iter().map(|(name, s)| (name.clone(), s.assignment.owned())).collect()
    }

    /// Every stage of every pipeline, with its plugin and call statistics.
    pub fn stage_snapshots(&self) -> Vec<StageSnapshot> {
        self.pipelines.lock().unwrap_or_else(|e| e.into_inner()).values().flat_map(|s| s.stage_snapshots()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_of_partition_zero_of_the_first_pipeline_leads() {
        let registry = Registry::default();
        assert!(registry.is_lead(), "no pipeline: this host leads");
        let b = registry.register("b-pipeline");
        let a = registry.register("a-pipeline");
        a.set_state(PipelineState::Running);
        assert!(!registry.is_lead(), "waiting for the first assignment");
        a.assignment.set(vec![1, 2]);
        assert!(!registry.is_lead(), "another host owns partition 0");
        b.assignment.set(vec![0]);
        assert!(!registry.is_lead(), "only the first pipeline (by name) counts");
        a.assignment.set(vec![0, 3]);
        assert!(registry.is_lead());
        a.assignment.set(vec![]);
        assert!(!registry.is_lead(), "revoked");
        let fresh = registry.register("a-pipeline");
        fresh.set_state(PipelineState::Restarting("broker down".into()));
        assert!(registry.is_lead(), "a failing pipeline leaves the lead with this host");
    }
}
