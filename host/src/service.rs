//! Starting and stopping everything `finlake run` runs: pipelines, simulator, API.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::{AppState, app, metrics_handle};
use crate::config::Config;
use crate::kafka::producer::{ProduceOptions, create_producer, produce};
use crate::pipeline::{PipelineContext, Registry, supervise};
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
    pub api_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    pipelines: JoinSet<()>,
    helpers: JoinSet<()>,
}

impl Service {
    /// Starts every pipeline, the simulator (if enabled) and the API, against `brokers`.
    pub async fn start(config: Config, brokers: String) -> Result<Service, ServiceError> {
        let config = Arc::new(config);
        let runtime = Arc::new(PluginRuntime::new(&config.plugins.cache_dir)?);
        let registry = Registry::default();
        let (stop, stop_rx) = watch::channel(false);
        let mut pipelines = JoinSet::new();
        let mut helpers = JoinSet::new();

        let api_addr = if config.api.enabled {
            let addr = config.api.listen.clone();
            let listener =
                tokio::net::TcpListener::bind(&addr).await.map_err(|source| ServiceError::Listen { addr, source })?;
            let local = listener.local_addr().ok();
            let state = AppState {
                registry: registry.clone(),
                metrics: metrics_handle(),
                started: std::time::Instant::now(),
                catalog: Arc::new(crate::lake::catalog(&config)),
                lake_root: config.lake.root.clone(),
            };
            let mut stop_api = stop_rx.clone();
            helpers.spawn(async move {
                let serve = axum::serve(listener, app(state)).with_graceful_shutdown(async move {
                    let _ = stop_api.wait_for(|s| *s).await;
                });
                if let Err(e) = serve.await {
                    tracing::error!(error = %e, "API server stopped");
                }
            });
            local
        } else {
            None
        };

        for pipeline in &config.pipelines {
            let ctx = PipelineContext {
                config: config.clone(),
                pipeline: pipeline.clone(),
                brokers: brokers.clone(),
                runtime: runtime.clone(),
                stats: registry.register(&pipeline.name),
            };
            pipelines.spawn(supervise(ctx, stop_rx.clone()));
        }

        for job in crate::gold::GoldJob::all(&config) {
            helpers.spawn(crate::gold::supervise(job, stop_rx.clone()));
        }

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
        Ok(Service { registry, api_addr, stop, pipelines, helpers })
    }

    /// Signals every task to stop, waits for pipelines to flush and commit, then for helpers.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.pipelines.join_next().await.is_some() {}
        while self.helpers.join_next().await.is_some() {}
    }

    /// Stops without flushing: pipelines are dropped mid-flight, as in a crash.
    pub async fn abort(mut self) {
        self.pipelines.abort_all();
        self.helpers.abort_all();
        while self.pipelines.join_next().await.is_some() {}
        while self.helpers.join_next().await.is_some() {}
    }
}
