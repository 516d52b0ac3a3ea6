//! Starting and stopping everything `finlake run` runs: pipelines, simulator, API.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::{AppState, app, metrics_handle};
use crate::config::Config;
use crate::control::ControlPlane;
use crate::kafka::producer::{ProduceOptions, create_producer, produce};
use crate::pipeline::Registry;
use crate::plugin::{PluginError, PluginRuntime};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("cannot listen on {addr}: {source} (is another finlake running? change [api] listen)")]
    Listen { addr: String, source: std::io::Error },
    #[error(transparent)]
    Kafka(#[from] crate::kafka::KafkaError),
}

/// A running FinLake: stop it with [`Service::shutdown`], which flushes and commits.
pub struct Service {
    pub registry: Registry,
    /// Pipelines, gold jobs, and changing them while they run.
    pub control: Arc<ControlPlane>,
    pub api_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    helpers: JoinSet<()>,
}

impl Service {
    /// Starts every pipeline, the simulator (if enabled) and the API, against `brokers`; watches
    /// the plugins directory and (for a config loaded from a file) the config file.
    pub async fn start(config: Config, brokers: String) -> Result<Service, ServiceError> {
        let runtime = Arc::new(PluginRuntime::new(&config.plugins.cache_dir)?);
        Self::start_with_runtime(config, brokers, runtime).await
    }

    /// [`Service::start`] with a plugin runtime made by the caller (the benchmarks tell it to
    /// run some plugins as native code).
    pub async fn start_with_runtime(
        config: Config,
        brokers: String,
        runtime: Arc<PluginRuntime>,
    ) -> Result<Service, ServiceError> {
        let text = match &config.source {
            Some(path) => std::fs::read_to_string(path).unwrap_or_default(),
            None => toml::to_string(&config).unwrap_or_default(),
        };
        let control = ControlPlane::new(config.clone(), text, brokers.clone(), runtime);
        let registry = control.registry.clone();
        let config = Arc::new(config);
        let (stop, stop_rx) = watch::channel(false);
        let mut helpers = JoinSet::new();

        let api_addr = if config.api.enabled {
            let addr = config.api.listen.clone();
            let listener =
                tokio::net::TcpListener::bind(&addr).await.map_err(|source| ServiceError::Listen { addr, source })?;
            let local = listener.local_addr().ok();
            let state = AppState::new(control.clone(), metrics_handle(), local);
            let feeds = state.shutdown.clone();
            let mut stop_api = stop_rx.clone();
            helpers.spawn(async move {
                let serve = axum::serve(listener, app(state)).with_graceful_shutdown(async move {
                    let _ = stop_api.wait_for(|s| *s).await;
                    // Live feeds never end by themselves: end them, or shutdown waits on them.
                    feeds.cancel();
                });
                if let Err(e) = serve.await {
                    tracing::error!(error = %e, "API server stopped");
                }
            });
            let ticker = crate::api::events::spawn_ticker(control.clone(), stop_rx.clone());
            helpers.spawn(async move {
                let _ = ticker.await;
            });
            local
        } else {
            None
        };

        control.start(true).await;

        {
            let (control, stop) = (control.clone(), stop_rx.clone());
            helpers.spawn(crate::maintenance::schedule(control, stop));
        }
        helpers.spawn(crate::allocator::trim_periodically(std::time::Duration::from_secs(10), stop_rx.clone()));
        // Every host says in the lake what it runs and owns; any host's API shows them all.
        helpers.spawn(control.cluster.clone().run(
            config.lake.root.clone(),
            api_addr.map_or_else(|| config.api.listen.clone(), |a| a.to_string()),
            registry.clone(),
            stop_rx.clone(),
        ));

        if let Some(sim) = config.simulator() {
            let seed = sim.seed.unwrap_or_else(rand::random);
            for (i, stream) in sim.streams.iter().enumerate() {
                let producer = create_producer(&brokers, &config.kafka.properties)?;
                let options = ProduceOptions {
                    kind: stream.kind,
                    topic: stream.topic.clone(),
                    rate: stream.rate,
                    count: None,
                    malformed_ratio: sim.malformed_ratio,
                    seed: seed.wrapping_add(i as u64),
                    clock_speed: stream.clock_speed,
                };
                let stop_sim = stop_rx.clone();
                helpers.spawn(async move {
                    tracing::info!(kind = ?options.kind, topic = %options.topic, rate = options.rate, "simulator producing");
                    match produce(&producer, &options, stop_sim, |_| {}).await {
                        Ok(n) => tracing::info!(topic = %options.topic, records = n, "simulator stopped"),
                        Err(e) => tracing::error!(topic = %options.topic, error = %e, "simulator failed"),
                    }
                });
            }
        }
        Ok(Service { registry, control, api_addr, stop, helpers })
    }

    /// Signals every task to stop, waits for pipelines to flush and commit, then for helpers.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        self.control.shutdown().await;
        while self.helpers.join_next().await.is_some() {}
    }

    /// Stops without flushing: pipelines are dropped mid-flight, as in a crash.
    pub async fn abort(mut self) {
        self.control.abort().await;
        self.helpers.abort_all();
        while self.helpers.join_next().await.is_some() {}
    }
}
