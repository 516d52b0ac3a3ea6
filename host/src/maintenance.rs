//! Maintenance of every table of the lake: on a schedule (`[maintenance]`) and on demand
//! (`finlake lake …`, `POST /api/tables/{name}/optimize`). The Delta operations themselves are
//! in [`crate::delta::maintenance`]; this module picks the tables, keeps the last report of
//! each and publishes them as metrics.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use finlake_api::MaintenanceReport;
use tokio::sync::watch;

use crate::config::Config;
use crate::delta::maintenance::{self as ops, Policy, Retention, Steps};
use crate::delta::{self, DeltaError};

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("unknown table {name:?}; tables: {known}")]
    UnknownTable { name: String, known: String },
    #[error("table {0} has no commit yet: nothing to maintain")]
    Empty(String),
    #[error(transparent)]
    Lake(#[from] DeltaError),
}

/// A table maintenance looks after.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub path: String,
    pub retention: Retention,
}

/// Every table of `config`: the catalog's (outputs, dead letters, gold, late) and each
/// pipeline's state table.
pub fn targets(config: &Config) -> Vec<Target> {
    let mut out: Vec<Target> = crate::lake::catalog(config)
        .into_iter()
        .map(|e| Target {
            retention: if e.layer == "dead-letter" { Retention::DeadLetters } else { Retention::None },
            name: e.name,
            path: e.path,
        })
        .collect();
    out.extend(config.pipelines.iter().map(|p| Target {
        name: format!("{}_state", p.name),
        path: crate::config::state_path(&p.name),
        retention: Retention::StateSnapshots,
    }));
    out.dedup_by(|a, b| a.path == b.path);
    out
}

/// The last report of every table, and one run at a time.
#[derive(Default)]
pub struct Maintenance {
    reports: Mutex<BTreeMap<String, MaintenanceReport>>,
    running: tokio::sync::Mutex<()>,
}

impl Maintenance {
    /// The last run's report of every table maintained so far.
    pub fn reports(&self) -> Vec<MaintenanceReport> {
        self.reports.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// Runs `steps` on the table named `name`.
    pub async fn run_table(
        &self,
        config: &Config,
        name: &str,
        steps: Steps,
    ) -> Result<MaintenanceReport, MaintenanceError> {
        let all = targets(config);
        let target = all.iter().find(|t| t.name == name).ok_or_else(|| MaintenanceError::UnknownTable {
            name: name.to_string(),
            known: all.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "),
        })?;
        let _one = self.running.lock().await;
        self.run_target(config, target, steps).await?.ok_or_else(|| MaintenanceError::Empty(name.to_string()))
    }

    /// Runs `steps` on every table (tables without a commit are skipped).
    pub async fn run_all(&self, config: &Config, steps: Steps) -> Vec<Result<MaintenanceReport, MaintenanceError>> {
        let _one = self.running.lock().await;
        let mut out = Vec::new();
        for target in targets(config) {
            match self.run_target(config, &target, steps).await {
                Ok(Some(report)) => out.push(Ok(report)),
                Ok(None) => {}
                Err(e) => out.push(Err(e)),
            }
        }
        out
    }

    async fn run_target(
        &self,
        config: &Config,
        target: &Target,
        steps: Steps,
    ) -> Result<Option<MaintenanceReport>, MaintenanceError> {
        let Some(table) = delta::open(&config.lake.root, &target.path).await? else { return Ok(None) };
        let policy = Policy::from(&config.maintenance);
        let report = ops::run(table, &target.name, target.retention, &policy, steps).await?;
        publish(&report);
        if let Some(error) = &report.error {
            tracing::warn!(table = %target.name, %error, "a maintenance step failed; the others ran");
        } else {
            tracing::info!(table = %target.name, steps = ?report.steps, files_before = report.files_before, files_after = report.files_after, compacted = report.files_compacted, vacuumed = report.files_vacuumed, rows_deleted = report.rows_deleted, checkpoint = ?report.checkpoint, ms = report.millis, "table maintained");
        }
        self.reports.lock().unwrap_or_else(|e| e.into_inner()).insert(target.name.clone(), report.clone());
        Ok(Some(report))
    }
}

fn publish(r: &MaintenanceReport) {
    let t = || r.table.clone();
    metrics::gauge!("finlake_table_files", "table" => t()).set(r.files_after as f64);
    metrics::gauge!("finlake_table_small_files", "table" => t()).set(r.small_files_after as f64);
    metrics::gauge!("finlake_table_bytes", "table" => t()).set(r.bytes_after as f64);
    metrics::gauge!("finlake_maintenance_last_run_timestamp_seconds", "table" => t())
        .set(r.finished_at_ms as f64 / 1e3);
    metrics::counter!("finlake_maintenance_files_compacted_total", "table" => t()).increment(r.files_compacted);
    metrics::counter!("finlake_maintenance_files_vacuumed_total", "table" => t()).increment(r.files_vacuumed);
    metrics::counter!("finlake_maintenance_rows_deleted_total", "table" => t()).increment(r.rows_deleted);
    metrics::counter!("finlake_maintenance_log_entries_removed_total", "table" => t()).increment(r.log_entries_removed);
    if r.error.is_some() {
        metrics::counter!("finlake_maintenance_failures_total", "table" => t()).increment(1);
    }
}

/// Runs maintenance on every table every `[maintenance] interval`, with the config in effect
/// at each run, until `stop`.
pub async fn schedule(control: Arc<crate::control::ControlPlane>, mut stop: watch::Receiver<bool>) {
    loop {
        let config = control.config();
        let interval = Duration::from_millis(config.maintenance.interval_ms().max(1000) as u64);
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let config = control.config();
        if !config.maintenance.enabled {
            continue;
        }
        // One host maintains the lake (the leader, as for gold jobs); `finlake lake ...` and
        // the API's on-demand runs work on any host.
        if !control.registry.is_lead() {
            tracing::debug!("scheduled maintenance skipped: another host leads");
            continue;
        }
        let results = control.maintenance.run_all(&config, Steps::ALL).await;
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            tracing::warn!(error = %e, "table maintenance failed; it runs again at the next interval");
        }
    }
}
