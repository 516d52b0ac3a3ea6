//! Live `pipelines.toml`: a new text is parsed and validated; if invalid nothing changes and the
//! problems (file:line:col) are kept for `GET /api/config/status`. If valid, the change is a
//! diff per pipeline and per gold job, keyed by name: only added, changed and removed ones are
//! touched. A changed or removed pipeline is stopped the normal way — it finishes its batch,
//! commits, and stops — and a changed one starts again from the offsets in its Delta tables,
//! so nothing is reprocessed, lost or doubled; unchanged pipelines do not notice.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::ControlPlane;
use crate::config::{Config, ConfigError, PipelineConfig, TableConfig};
use crate::gold::GoldJob;

pub use finlake_api::{ChangeSource, ConfigProblem, ConfigStatus, ReloadReport};

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Invalid(ConfigError),
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The status of a config just loaded (at start).
pub(super) fn loaded_status(config: &Config, text: &str) -> ConfigStatus {
    ConfigStatus {
        path: config.source.as_ref().map(|p| p.display().to_string()),
        sha256: sha(text),
        applied_at: now(),
        last_change: None,
        last_error: None,
        reloads: 0,
        rejected: 0,
    }
}

/// What a pipeline depends on: if any of it differs, the pipeline is restarted.
#[derive(PartialEq)]
struct PipelineFingerprint<'a> {
    pipeline: &'a PipelineConfig,
    tables: Vec<&'a TableConfig>,
    plugins: &'a crate::config::PluginsConfig,
    lake: &'a crate::config::LakeConfig,
    kafka_properties: &'a std::collections::BTreeMap<String, String>,
    group_id: &'a str,
}

fn fingerprint<'a>(config: &'a Config, name: &str) -> Option<PipelineFingerprint<'a>> {
    let pipeline = config.pipelines.iter().find(|p| p.name == name)?;
    let mut tables: Vec<&TableConfig> =
        pipeline.stages.iter().flat_map(|s| s.outputs.values()).filter_map(|t| config.table(t)).collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    tables.dedup_by(|a, b| a.name == b.name);
    Some(PipelineFingerprint {
        pipeline,
        tables,
        plugins: &config.plugins,
        lake: &config.lake,
        kafka_properties: &config.kafka.properties,
        group_id: &config.kafka.group_id,
    })
}

fn gold_fingerprint(
    config: &Config,
    name: &str,
) -> Option<(crate::config::GoldConfig, Option<TableConfig>, std::path::PathBuf)> {
    let g = config.gold.iter().find(|g| g.name == name)?;
    Some((g.clone(), config.table(&g.source).cloned(), config.lake.root.clone()))
}

/// The per-name diff between two configs.
fn diff(old: &Config, new: &Config, dry_run: bool) -> ReloadReport {
    let mut report = ReloadReport { dry_run, ..Default::default() };
    for p in &new.pipelines {
        match fingerprint(old, &p.name) {
            None => report.added.push(p.name.clone()),
            Some(f) if Some(&f) != fingerprint(new, &p.name).as_ref() => report.changed.push(p.name.clone()),
            Some(_) => report.unchanged.push(p.name.clone()),
        }
    }
    report.removed = old
        .pipelines
        .iter()
        .filter(|p| !new.pipelines.iter().any(|n| n.name == p.name))
        .map(|p| p.name.clone())
        .collect();
    for g in &new.gold {
        match gold_fingerprint(old, &g.name) {
            None => report.gold_added.push(g.name.clone()),
            Some(f) if Some(&f) != gold_fingerprint(new, &g.name).as_ref() => report.gold_changed.push(g.name.clone()),
            Some(_) => {}
        }
    }
    report.gold_removed =
        old.gold.iter().filter(|g| !new.gold.iter().any(|n| n.name == g.name)).map(|g| g.name.clone()).collect();
    let mut restart = |section: &str, differs: bool| {
        if differs {
            report.needs_restart.push(section.to_string());
        }
    };
    restart("[kafka] brokers/topics/partitions", {
        let (a, b) = (&old.kafka, &new.kafka);
        a.brokers != b.brokers || a.topics != b.topics || a.partitions != b.partitions
    });
    restart("[api]", old.api != new.api);
    restart("[simulator]", old.simulator != new.simulator);
    report.changed_anything = !(report.added.is_empty()
        && report.changed.is_empty()
        && report.removed.is_empty()
        && report.gold_added.is_empty()
        && report.gold_changed.is_empty()
        && report.gold_removed.is_empty());
    report
}

impl ControlPlane {
    pub fn config_status(&self) -> ConfigStatus {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// sha256 of the text in effect.
    pub fn config_sha(&self) -> String {
        sha(&self.config_text())
    }

    /// Validates `text` as the new config and, unless `dry_run`, applies it (and for an API
    /// change, first writes it to the config file, atomically).
    pub async fn reload(&self, text: String, source: ChangeSource, dry_run: bool) -> Result<ReloadReport, ReloadError> {
        let mut running = self.running.lock().await;
        let old = self.config();
        let path = old.source.clone();
        let origin = path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "pipelines.toml".into());
        // The same checks as at start and in `finlake validate`: the schema and references,
        // then every gold `select` planned against its source.
        let checked = match Config::from_text(&text, &origin, path.as_deref()) {
            Ok(c) => {
                let sql = crate::gold::located_problems(&c, &text, &origin).await;
                if sql.is_empty() { Ok(c) } else { Err(crate::config::ConfigError::Invalid { problems: sql }) }
            }
            Err(e) => Err(e),
        };
        let new = match checked {
            Ok(c) => c,
            Err(e) => {
                let problems: Vec<String> = e.problems().iter().map(ToString::to_string).collect();
                tracing::error!(?source, dry_run, problems = %problems.join("; "), "config change refused; the running config stays");
                if !dry_run {
                    metrics::counter!("finlake_config_reloads_total", "result" => "invalid").increment(1);
                    let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
                    status.last_error = Some(ConfigProblem { at: now(), source, problems });
                    status.rejected += 1;
                    self.registry.events.publish(finlake_api::Event::Config(status.clone()));
                }
                return Err(ReloadError::Invalid(e));
            }
        };
        let mut report = diff(&old, &new, dry_run);
        if dry_run {
            return Ok(report);
        }
        if source == ChangeSource::Api
            && let Some(p) = &path
        {
            super::plugins::write_atomically(p, text.as_bytes())
                .map_err(|e| ReloadError::Write { path: p.display().to_string(), message: e.to_string() })?;
        }
        let started = std::time::Instant::now();
        let new = Arc::new(new);
        // Stop what goes away or changes (each pipeline commits first), then start the new.
        let stopping: Vec<_> = report
            .removed
            .iter()
            .chain(&report.changed)
            .filter_map(|name| running.pipelines.remove(name))
            .map(|p| p.task.stop())
            .collect();
        futures::future::join_all(stopping).await;
        for name in &report.removed {
            self.registry.remove(name);
        }
        let stopping_gold: Vec<_> = report
            .gold_removed
            .iter()
            .chain(&report.gold_changed)
            .filter_map(|name| running.gold.remove(name))
            .map(|t| t.stop())
            .collect();
        futures::future::join_all(stopping_gold).await;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (new.clone(), text.clone());
        for name in report.added.iter().chain(&report.changed) {
            let started = self.start_pipeline(&new, name);
            running.pipelines.insert(name.clone(), started);
        }
        for name in report.gold_added.iter().chain(&report.gold_changed) {
            if let Some(job) = new.gold.iter().find(|g| &g.name == name).and_then(|g| GoldJob::new(&new, g)) {
                running.gold.insert(name.clone(), super::start_gold(job, &self.registry));
            }
        }
        drop(running);
        self.record_initial_versions_of_new_plugins(&new).await;
        report.applied_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(?source, added = ?report.added, changed = ?report.changed, removed = ?report.removed, unchanged = ?report.unchanged, gold_added = ?report.gold_added, gold_changed = ?report.gold_changed, gold_removed = ?report.gold_removed, needs_restart = ?report.needs_restart, applied_ms = report.applied_ms, "config change applied");
        metrics::counter!("finlake_config_reloads_total", "result" => "applied").increment(1);
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        status.sha256 = sha(&text);
        status.applied_at = now();
        status.last_change = Some(report.clone());
        status.last_error = None;
        status.reloads += 1;
        self.registry.events.publish(finlake_api::Event::Config(status.clone()));
        self.registry.events.set_alert_tables(crate::events::alert_tables(&new));
        Ok(report)
    }

    /// Plugins that a config change brought in get their first version recorded.
    async fn record_initial_versions_of_new_plugins(&self, config: &Config) {
        let known = self.plugin_histories();
        let mut fresh = config.clone();
        for p in &mut fresh.pipelines {
            p.stages.retain(|s| !known.contains_key(&s.plugin));
        }
        self.record_initial_versions(&fresh).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[kafka]
brokers = "x:1"
[[tables]]
name = "a"
columns = [{ name = "v", type = "string" }]
[[tables]]
name = "b"
columns = [{ name = "v", type = "string" }]
[[pipelines]]
name = "one"
topic = "t"
dead_letter_table = "dl1"
[[pipelines.stages]]
plugin = "passthrough"
outputs = { raw = "a" }
[[pipelines]]
name = "two"
topic = "t"
dead_letter_table = "dl2"
[[pipelines.stages]]
plugin = "passthrough"
outputs = { raw = "b" }
"#;

    fn parse(text: &str) -> Config {
        Config::parse_and_validate(text, "t.toml").unwrap()
    }

    #[test]
    fn diff_is_per_pipeline_and_follows_the_tables_a_pipeline_writes() {
        let old = parse(BASE);
        assert!(!diff(&old, &old, false).changed_anything);
        // A flush setting of one pipeline changes only it.
        let flush = BASE.replacen(
            "dead_letter_table = \"dl2\"",
            "dead_letter_table = \"dl2\"\nflush = { max_latency_ms = 50 }",
            1,
        );
        let d = diff(&old, &parse(&flush), false);
        assert_eq!((d.changed, d.unchanged), (vec!["two".to_string()], vec!["one".to_string()]));
        // A column of table a changes pipeline one, which writes it.
        let column = BASE.replacen(
            r#"name = "a"
columns = [{ name = "v", type = "string" }]"#,
            r#"name = "a"
columns = [{ name = "v", type = "string" }, { name = "w", type = "string", nullable = true }]"#,
            1,
        );
        let d = diff(&old, &parse(&column), false);
        assert_eq!(d.changed, vec!["one".to_string()]);
        // Removing one, adding another; [api] needs a restart.
        let text = BASE.replace("name = \"two\"", "name = \"three\"") + "\n[api]\nlisten = \"127.0.0.1:9999\"\n";
        let d = diff(&old, &parse(&text), true);
        assert_eq!((d.added, d.removed), (vec!["three".to_string()], vec!["two".to_string()]));
        assert_eq!(d.needs_restart, vec!["[api]".to_string()]);
        assert!(d.dry_run && d.changed_anything);
    }
}
