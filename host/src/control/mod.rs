//! The control plane: which pipelines and gold jobs run, and changing them while they run —
//! plugin hot swaps ([`plugins`]), live `pipelines.toml` edits ([`reload`]), resuming paused
//! pipelines. Every mutation goes through one async lock, so two changes never interleave, and
//! every change is applied by the pipelines themselves at a batch boundary after a commit.

pub mod plugins;
pub mod reload;
mod watcher;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::gold::GoldJob;
use crate::lake::CatalogEntry;
use crate::pipeline::{Command, Commands, PipelineContext, Registry};
use crate::plugin::PluginRuntime;

pub use plugins::{DeployError, DeployReport, PluginHistory, Source};
pub use reload::{ChangeSource, ConfigStatus, ReloadError, ReloadReport};

/// A task with its own stop signal.
struct Task {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl Task {
    /// Asks the task to stop (pipelines flush and commit first) and waits for it.
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

struct RunningPipeline {
    task: Task,
    commands: Commands,
}

#[derive(Default)]
struct Running {
    pipelines: BTreeMap<String, RunningPipeline>,
    gold: BTreeMap<String, Task>,
}

/// Why a command to a pipeline (resume, replay) was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("unknown pipeline {name:?}; pipelines: {known}")]
    UnknownPipeline { name: String, known: String },
    /// The pipeline answered no (not paused, not running, the replay still fails), with why.
    #[error("{0}")]
    Refused(String),
}

/// Owns everything that runs from the config, and applies changes to it.
pub struct ControlPlane {
    pub registry: Registry,
    /// Table maintenance: the last report per table, one run at a time.
    pub maintenance: Arc<crate::maintenance::Maintenance>,
    pub runtime: Arc<PluginRuntime>,
    /// The other hosts of this deployment as they announce themselves in the lake.
    pub cluster: Arc<crate::cluster::Cluster>,
    brokers: String,
    /// Held while a change is applied: changes are serialised.
    running: tokio::sync::Mutex<Running>,
    /// The config in effect (readable without waiting for a change to finish), and its text.
    current: RwLock<(Arc<Config>, String)>,
    versions: Mutex<BTreeMap<String, PluginHistory>>,
    /// The last shadow run per plugin, for `/api/plugins` and the dashboard.
    shadows: Mutex<BTreeMap<String, finlake_api::ShadowReport>>,
    status: Mutex<ConfigStatus>,
    shut_down: std::sync::atomic::AtomicBool,
}

impl ControlPlane {
    /// A control plane for `config` (whose text was `text`); nothing runs until [`ControlPlane::start`].
    pub fn new(config: Config, text: String, brokers: String, runtime: Arc<PluginRuntime>) -> Arc<Self> {
        let status = reload::loaded_status(&config, &text);
        let registry = Registry::default();
        registry.events.set_alert_tables(crate::events::alert_tables(&config));
        Arc::new(ControlPlane {
            registry,
            maintenance: Arc::default(),
            runtime,
            cluster: Arc::default(),
            brokers,
            running: tokio::sync::Mutex::new(Running::default()),
            current: RwLock::new((Arc::new(config), text)),
            shadows: Mutex::default(),
            versions: Mutex::new(BTreeMap::new()),
            status: Mutex::new(status),
            shut_down: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The config in effect.
    pub fn config(&self) -> Arc<Config> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    /// The text of the config in effect.
    pub fn config_text(&self) -> String {
        self.current.read().unwrap_or_else(|e| e.into_inner()).1.clone()
    }

    /// Every pipeline's state and counters, each running one with every host of its consumer
    /// group and the partitions each owns (as the hosts last announced in the lake).
    pub fn pipeline_snapshots(&self) -> Vec<finlake_api::PipelineSnapshot> {
        let mut snapshots = self.registry.snapshots();
        for s in &mut snapshots {
            if s.state == finlake_api::PipelineState::Running {
                s.group = self.cluster.group(&s.name);
            }
        }
        snapshots
    }

    /// Every table of the config in effect (for queries and `/api/tables`).
    pub fn catalog(&self) -> Vec<CatalogEntry> {
        crate::lake::catalog(&self.config())
    }

    /// Starts every pipeline and gold job of the config, and (when `watch` is set) the watcher
    /// of the plugins directory and of the config file.
    pub async fn start(self: &Arc<Self>, watch: bool) {
        let config = self.config();
        self.record_initial_versions(&config).await;
        let mut running = self.running.lock().await;
        for p in &config.pipelines {
            let started = self.start_pipeline(&config, &p.name);
            running.pipelines.insert(p.name.clone(), started);
        }
        for job in GoldJob::all(&config) {
            running.gold.insert(job.name().to_string(), start_gold(job, &self.registry));
        }
        drop(running);
        if watch {
            watcher::spawn(self.clone());
        }
    }

    fn start_pipeline(&self, config: &Arc<Config>, name: &str) -> RunningPipeline {
        let pipeline = config.pipelines.iter().find(|p| p.name == name).cloned().expect("pipeline of this config");
        let (stop, stop_rx) = watch::channel(false);
        let (commands, commands_rx) = Commands::channel();
        let ctx = PipelineContext {
            config: config.clone(),
            pipeline,
            brokers: self.brokers.clone(),
            runtime: self.runtime.clone(),
            stats: self.registry.register(name),
        };
        let handle = tokio::spawn(crate::pipeline::supervise(ctx, stop_rx, commands_rx));
        RunningPipeline { task: Task { stop, handle }, commands }
    }

    /// Stops every pipeline (each flushes and commits) and gold job.
    pub async fn shutdown(&self) {
        self.shut_down.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut running = self.running.lock().await;
        let pipelines = std::mem::take(&mut running.pipelines);
        let gold = std::mem::take(&mut running.gold);
        futures::future::join_all(pipelines.into_values().map(|p| p.task.stop())).await;
        futures::future::join_all(gold.into_values().map(Task::stop)).await;
    }

    /// Aborts every task without flushing (a crash, for tests).
    pub async fn abort(&self) {
        self.shut_down.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut running = self.running.lock().await;
        for p in std::mem::take(&mut running.pipelines).into_values() {
            p.task.handle.abort();
            let _ = p.task.handle.await;
        }
        for g in std::mem::take(&mut running.gold).into_values() {
            g.handle.abort();
            let _ = g.handle.await;
        }
    }

    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The command channel of a running pipeline.
    pub async fn commands(&self, pipeline: &str) -> Option<Commands> {
        self.running.lock().await.pipelines.get(pipeline).map(|p| p.commands.clone())
    }

    /// Resumes a paused pipeline: its held batch is retried with the current plugins.
    pub async fn resume(&self, pipeline: &str) -> Result<String, CommandError> {
        let commands = self.commands(pipeline).await.ok_or_else(|| self.unknown_pipeline(pipeline))?;
        let answer = commands.ask(pipeline, |reply| Command::Resume { reply }).await;
        tracing::info!(pipeline, outcome = ?answer, "resume requested");
        answer.map_err(CommandError::Refused)
    }

    /// Replays pending dead letters of one pipeline (or of every pipeline) through the current
    /// plugins; each pipeline does it at a batch boundary.
    pub async fn replay(&self, filter: crate::dlq::Filter) -> Result<Vec<crate::pipeline::Replayed>, CommandError> {
        let names: Vec<String> = match &filter.pipeline {
            Some(p) => vec![p.clone()],
            None => self.config().pipelines.iter().map(|p| p.name.clone()).collect(),
        };
        let mut out = Vec::new();
        for name in names {
            let commands = self.commands(&name).await.ok_or_else(|| self.unknown_pipeline(&name))?;
            let filter = crate::dlq::Filter { pipeline: Some(name.clone()), ..filter.clone() };
            out.push(
                commands.ask(&name, |reply| Command::Replay { filter, reply }).await.map_err(CommandError::Refused)?,
            );
        }
        Ok(out)
    }

    /// Why `name` has no command channel: not in the config, or not running.
    fn unknown_pipeline(&self, name: &str) -> CommandError {
        let names: Vec<String> = self.config().pipelines.iter().map(|p| p.name.clone()).collect();
        if names.iter().any(|n| n == name) {
            return CommandError::Refused(format!("pipeline {name:?} is not running (stopping or stopped)"));
        }
        CommandError::UnknownPipeline { name: name.to_string(), known: names.join(", ") }
    }
}

fn start_gold(job: GoldJob, registry: &crate::pipeline::Registry) -> Task {
    let (stop, stop_rx) = watch::channel(false);
    let handle = tokio::spawn(crate::gold::supervise(job, stop_rx, registry.clone()));
    Task { stop, handle }
}
