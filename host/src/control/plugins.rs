//! Plugin hot swap: a new component (uploaded, or changed in the plugins directory) is compiled,
//! checked and initialised off the hot path, tried on a sample of live input, and only then
//! handed to every stage that uses it, which swaps it in at its next batch boundary. Every
//! version that went live is kept (bytes under `<cache_dir>/versions/<plugin>/<sha256>.wasm`)
//! so any of them can be rolled back to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::ControlPlane;
use crate::config::Config;
use crate::pipeline::{Command, stage_instance};
use crate::plugin::{BatchExt, PluginError, PluginInstance, check_cost, rows_of};

pub use finlake_api::{DeployReport, PluginSource as Source, PluginVersion, Refusal};

/// Every version of one plugin, newest activation last.
#[derive(Debug, Clone, Default)]
pub struct PluginHistory {
    pub versions: Vec<PluginVersion>,
    /// sha256 of the version live now.
    pub active: Option<String>,
    pub last_refusal: Option<Refusal>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("no stage of pipelines.toml uses plugin {0:?} (stages load <plugins.dir>/<plugin>.wasm)")]
    Unknown(String),
    #[error("{0}")]
    Refused(String),
    #[error("no earlier version of plugin {0:?} to roll back to")]
    NothingToRollBack(String),
    #[error("plugin {plugin:?} has no kept version {wanted:?}; kept: {kept}")]
    NoSuchVersion { plugin: String, wanted: String, kept: String },
    #[error("{0}")]
    Io(String),
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Versions kept per plugin for rollback.
pub const MAX_KEPT_VERSIONS: usize = 10;

fn versions_dir(config: &Config, plugin: &str) -> PathBuf {
    config.plugins.cache_dir.join("versions").join(plugin)
}

/// Writes `bytes` to `path` atomically (a temporary file in the same directory, then rename), so
/// a reader or watcher never sees half a file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

impl ControlPlane {
    /// Every plugin's kept versions, the live one and the last refusal.
    pub fn plugin_histories(&self) -> std::collections::BTreeMap<String, PluginHistory> {
        self.versions.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records the version of every plugin file the config uses as live (at start).
    pub(super) async fn record_initial_versions(&self, config: &Config) {
        for name in plugin_names(config) {
            let Ok(bytes) = std::fs::read(config.plugin_path(&name)) else { continue };
            let runtime = self.runtime.clone();
            let origin = config.plugin_path(&name).display().to_string();
            let (expected, b) = (name.clone(), bytes.clone());
            let loaded = tokio::task::spawn_blocking(move || runtime.load_bytes(&b, &origin, Some(&expected))).await;
            if let Ok(Ok(loaded)) = loaded {
                self.keep_version(config, &name, &bytes, &loaded.version, Source::File);
            }
        }
    }

    /// The sha256 of the live version of `plugin`.
    pub fn active_sha(&self, plugin: &str) -> Option<String> {
        self.versions.lock().unwrap_or_else(|e| e.into_inner()).get(plugin).and_then(|h| h.active.clone())
    }

    fn keep_version(&self, config: &Config, plugin: &str, bytes: &[u8], version: &str, source: Source) {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let path = versions_dir(config, plugin).join(format!("{sha256}.wasm"));
        if !path.exists()
            && let Err(e) = write_atomically(&path, bytes)
        {
            tracing::warn!(plugin, path = %path.display(), error = %e, "cannot keep a copy of the plugin version (rollback to it will not work)");
        }
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        let history = versions.entry(plugin.to_string()).or_default();
        history.versions.retain(|v| v.sha256 != sha256);
        history.versions.push(PluginVersion {
            version: version.to_string(),
            sha256: sha256.clone(),
            size: bytes.len() as u64,
            source,
            live_since: now(),
        });
        history.active = Some(sha256);
        // Rollback targets are bounded too: the oldest versions beyond the limit go, with
        // their files (never the live one).
        while history.versions.len() > MAX_KEPT_VERSIONS {
            let old = history.versions.remove(0);
            let path = versions_dir(config, plugin).join(format!("{}.wasm", old.sha256));
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(plugin, path = %path.display(), error = %e, "cannot remove an old kept version");
            } else {
                tracing::info!(plugin, version = %old.version, sha256 = %&old.sha256[..12], "old kept version removed (keeping {MAX_KEPT_VERSIONS})");
            }
        }
    }

    fn refuse(&self, plugin: &str, sha256: &str, source: Source, error: String) -> DeployError {
        tracing::error!(plugin, sha256 = %&sha256[..12.min(sha256.len())], ?source, %error, "plugin version refused; the live version keeps running");
        metrics::counter!("finlake_plugin_deploys_total", "plugin" => plugin.to_string(), "result" => "refused")
            .increment(1);
        let refusal = Refusal { at: now(), source, sha256: sha256.to_string(), error: error.clone() };
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        versions.entry(plugin.to_string()).or_default().last_refusal = Some(refusal.clone());
        drop(versions);
        self.registry
            .events
            .publish(finlake_api::Event::Refusal(finlake_api::RefusalEvent { plugin: plugin.to_string(), refusal }));
        DeployError::Refused(error)
    }

    /// Runs `bytes` as the next version of `plugin` beside the live one over recorded input
    /// (see [`crate::shadow`]); the report is kept for `/api/plugins`. Nothing changes.
    pub async fn shadow(
        &self,
        plugin: &str,
        bytes: Vec<u8>,
        range: crate::shadow::Range,
    ) -> Result<finlake_api::ShadowReport, crate::shadow::ShadowError> {
        let report = crate::shadow::run(self.config(), self.runtime.clone(), plugin, bytes, range).await?;
        self.shadows.lock().unwrap_or_else(|e| e.into_inner()).insert(plugin.to_string(), report.clone());
        Ok(report)
    }

    /// The last shadow run of each plugin.
    pub fn shadow_reports(&self) -> BTreeMap<String, finlake_api::ShadowReport> {
        self.shadows.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// [`ControlPlane::deploy`] after a shadow run: refused when the candidate traps on a
    /// record the live version handled, or changes more than `max_diff` rows.
    pub async fn deploy_after_shadow(
        &self,
        plugin: &str,
        bytes: Vec<u8>,
        source: Source,
        range: crate::shadow::Range,
        max_diff: u64,
    ) -> Result<DeployReport, DeployError> {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let report = match self.shadow(plugin, bytes.clone(), range).await {
            Ok(r) => r,
            Err(crate::shadow::ShadowError::Unknown(p)) => return Err(DeployError::Unknown(p)),
            Err(e) => return Err(self.refuse(plugin, &sha256, source, format!("shadow run: {e}"))),
        };
        if let Some(why) = shadow_verdict(&report, max_diff) {
            return Err(self.refuse(plugin, &sha256, source, why));
        }
        self.deploy(plugin, bytes, source).await
    }

    /// Makes `bytes` the live version of `plugin` in every stage that uses it, or refuses it
    /// (the live version keeps running) with the reason.
    pub async fn deploy(&self, plugin: &str, bytes: Vec<u8>, source: Source) -> Result<DeployReport, DeployError> {
        let running = self.running.lock().await;
        let config = self.config();
        let stages: Vec<(String, crate::config::StageConfig)> = config
            .pipelines
            .iter()
            .flat_map(|p| p.stages.iter().filter(|s| s.plugin == plugin).map(|s| (p.name.clone(), s.clone())))
            .collect();
        if stages.is_empty() {
            return Err(DeployError::Unknown(plugin.to_string()));
        }
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if self.active_sha(plugin).as_deref() == Some(sha256.as_str()) {
            let version = self.versions.lock().unwrap_or_else(|e| e.into_inner())[plugin]
                .versions
                .iter()
                .find(|v| v.sha256 == sha256)
                .map(|v| v.version.clone())
                .unwrap_or_default();
            return Ok(DeployReport {
                plugin: plugin.to_string(),
                version,
                sha256,
                source,
                changed: false,
                compile_ms: 0.0,
                cache_hit: true,
                sample_records: 0,
                swaps: vec![],
                not_swapped: vec![],
            });
        }

        // Compile, link, check the name, initialise per stage and try on samples: all off the
        // pipelines' threads.
        let started = std::time::Instant::now();
        let samples: Vec<Option<crate::plugin::Batch>> =
            stages.iter().map(|(p, s)| self.registry.get(p).and_then(|stats| stats.sample(s.id()))).collect();
        let prepared = {
            let (runtime, config, stages, bytes) =
                (self.runtime.clone(), config.clone(), stages.clone(), bytes.clone());
            let origin = format!("{plugin} ({source:?} {})", &sha256[..12]).to_lowercase();
            let plugin = plugin.to_string();
            tokio::task::spawn_blocking(move || prepare(&runtime, &config, &plugin, &bytes, &origin, &stages, samples))
                .await
                .map_err(|e| DeployError::Io(e.to_string()))?
        };
        let (instances, loaded, sample_records) = match prepared {
            Ok(p) => p,
            Err(error) => return Err(self.refuse(plugin, &sha256, source, error)),
        };
        let compile_ms = started.elapsed().as_secs_f64() * 1000.0;
        // Accepted: only now is the compiled artefact worth keeping.
        self.runtime.persist(&loaded);

        // The file is the version a restart loads: make it this one.
        if source != Source::File
            && let Err(e) = write_atomically(&config.plugin_path(plugin), &bytes)
        {
            return Err(self.refuse(plugin, &sha256, source, format!("cannot write the plugin file: {e}")));
        }
        self.keep_version(&config, plugin, &bytes, &loaded.version, source);

        let mut swaps = Vec::new();
        let mut not_swapped = Vec::new();
        for ((pipeline, stage), instance) in stages.iter().zip(instances) {
            let Some(p) = running.pipelines.get(pipeline) else {
                not_swapped.push(format!("{pipeline}/{}: pipeline not running", stage.id()));
                continue;
            };
            let stage_id = stage.id().to_string();
            let answer = p
                .commands
                .ask(pipeline, |reply| Command::Swap { stage: stage_id, instance: Box::new(instance), reply })
                .await;
            match answer {
                Ok(s) => swaps.push(s),
                Err(e) => not_swapped.push(format!("{pipeline}/{}: {e}", stage.id())),
            }
        }
        metrics::counter!("finlake_plugin_deploys_total", "plugin" => plugin.to_string(), "result" => "live")
            .increment(1);
        tracing::info!(plugin, version = %loaded.version, sha256 = %&sha256[..12], ?source, compile_ms, sample_records, swapped = swaps.len(), ?not_swapped, "plugin version live");
        Ok(DeployReport {
            plugin: plugin.to_string(),
            version: loaded.version.clone(),
            sha256,
            source,
            changed: true,
            compile_ms,
            cache_hit: loaded.cache_hit,
            sample_records: sample_records as u64,
            swaps,
            not_swapped,
        })
    }

    /// Makes an earlier version live again: `to` (a sha256, a prefix of one, or a version
    /// string), or else the version that was live before the current one.
    pub async fn rollback(&self, plugin: &str, to: Option<&str>) -> Result<DeployReport, DeployError> {
        let history = self.plugin_histories().remove(plugin).ok_or_else(|| DeployError::Unknown(plugin.to_string()))?;
        let target = match to {
            Some(wanted) => {
                history.versions.iter().rev().find(|v| v.sha256.starts_with(wanted) || v.version == wanted).ok_or_else(
                    || DeployError::NoSuchVersion {
                        plugin: plugin.to_string(),
                        wanted: wanted.to_string(),
                        kept: history
                            .versions
                            .iter()
                            .map(|v| format!("{} ({})", v.version, &v.sha256[..12]))
                            .collect::<Vec<_>>()
                            .join(", "),
                    },
                )?
            }
            None => history
                .versions
                .iter()
                .rev()
                .find(|v| Some(&v.sha256) != history.active.as_ref())
                .ok_or_else(|| DeployError::NothingToRollBack(plugin.to_string()))?,
        };
        let path = versions_dir(&self.config(), plugin).join(format!("{}.wasm", target.sha256));
        let bytes = std::fs::read(&path)
            .map_err(|e| DeployError::Io(format!("cannot read kept version {}: {e}", path.display())))?;
        tracing::info!(plugin, to = %target.version, sha256 = %&target.sha256[..12], "rolling back");
        self.deploy(plugin, bytes, Source::Rollback).await
    }
}

/// Distinct plugin names used by the config's stages.
pub(super) fn plugin_names(config: &Config) -> Vec<String> {
    let mut names: Vec<String> =
        config.pipelines.iter().flat_map(|p| p.stages.iter().map(|s| s.plugin.clone())).collect();
    names.sort();
    names.dedup();
    names
}

type Prepared = (Vec<PluginInstance>, crate::plugin::LoadedPlugin, usize);

/// Compiles and checks a new version, makes one initialised instance per stage, and runs each
/// stage's sample through a throwaway instance (so trying it leaves no state behind).
fn prepare(
    runtime: &Arc<crate::plugin::PluginRuntime>,
    config: &Config,
    plugin: &str,
    bytes: &[u8],
    origin: &str,
    stages: &[(String, crate::config::StageConfig)],
    samples: Vec<Option<crate::plugin::Batch>>,
) -> Result<Prepared, String> {
    let loaded = runtime.load_bytes(bytes, origin, Some(plugin)).map_err(|e| e.to_string())?;
    let mut instances = Vec::new();
    let mut sample_records = 0;
    for ((pipeline, stage), sample) in stages.iter().zip(samples) {
        let at = |e: PluginError| format!("in pipeline {pipeline}, stage {}: {e}", stage.id());
        if let Some(sample) = sample {
            let mut trial = stage_instance(config, stage, loaded.clone()).map_err(at)?;
            let result = trial.process(&sample).map_err(|e| {
                format!("{} (on a sample of {} live records the current version handled)", at(e), sample.len())
            })?;
            let declared = |name: &str| stage.outputs.contains_key(name);
            check_cost(&result, &sample, Some(&declared))
                .and_then(|()| rows_of(&result, sample.len()).map(|_| ()))
                .map_err(|m| {
                    format!("in pipeline {pipeline}, stage {}: malformed result on the sample: {m}", stage.id())
                })?;
            sample_records += sample.len();
        }
        instances.push(stage_instance(config, stage, loaded.clone()).map_err(at)?);
    }
    Ok((instances, loaded, sample_records))
}

/// Why a shadow report stops a deploy, if it does.
pub fn shadow_verdict(report: &finlake_api::ShadowReport, max_diff: u64) -> Option<String> {
    let records: u64 = report.pipelines.iter().map(|p| p.records).sum();
    if report.new_traps > 0 {
        let examples: Vec<String> = report
            .pipelines
            .iter()
            .flat_map(|p| p.trap_examples.iter().map(move |t| (p, t)))
            .map(|(p, t)| {
                format!(
                    "{} partition {} offset {} (stage {}): {}: {}",
                    p.pipeline, t.partition, t.offset, t.stage, t.kind, t.reason
                )
            })
            .collect();
        return Some(format!(
            "shadow run over {records} recorded record(s): the candidate {} failed on {} record(s) the live version {} handled: {}",
            report.candidate.version,
            report.new_traps,
            report.live.version,
            examples.join("; ")
        ));
    }
    (report.differences > max_diff).then(|| {
        format!(
            "shadow run over {records} recorded record(s): {} row(s) differ from the live version {} (at most {max_diff} allowed; see POST /api/plugins/{}/shadow for which)",
            report.differences, report.live.version, report.plugin
        )
    })
}
