//! Starting a pipeline's stages: each stage's plugin loaded and an instance of it initialised
//! with the stage's config (and config files) and limits.

use std::time::Duration;

use super::graph::Graph;
use crate::config::{Config, PipelineConfig, StageConfig};
use crate::plugin::{Limits, PluginError, PluginInstance, PluginRuntime};

/// Loads every stage's plugin and starts an instance of it with its config and limits.
pub fn start_stages(config: &Config, pipeline: &PipelineConfig, runtime: &PluginRuntime) -> Result<Graph, PluginError> {
    let mut instances = Vec::new();
    for stage in &pipeline.stages {
        let loaded = runtime.load_file(&config.plugin_path(&stage.plugin), Some(&stage.plugin))?;
        instances.push(stage_instance(config, stage, loaded)?);
    }
    Ok(Graph::new(pipeline, instances))
}

/// An instance of `loaded` for `stage`: its limits, and `init` called with its config.
pub fn stage_instance(
    config: &Config,
    stage: &StageConfig,
    loaded: crate::plugin::LoadedPlugin,
) -> Result<PluginInstance, PluginError> {
    let limits = Limits {
        timeout: Duration::from_millis(stage.timeout_ms.unwrap_or(config.plugins.timeout_ms)),
        memory_bytes: (stage.memory_mb.unwrap_or(config.plugins.memory_mb) as usize) << 20,
        recycle_growth_bytes: (config.plugins.recycle_growth_mb as usize) << 20,
    };
    let mut config_json = serde_json::to_value(&stage.config).unwrap_or_else(|_| serde_json::json!({}));
    let base = config.base_dir();
    for (key, path) in &stage.config_files {
        let init = |message: String| PluginError::Init { plugin: loaded.name.clone(), message };
        let text =
            crate::config::read_config_file(path, &base).map_err(|e| init(format!("config_files.{key}: {e}")))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| init(format!("config_files.{key}: {} is not JSON: {e}", path.display())))?;
        config_json[key] = value;
    }
    PluginInstance::new(loaded, config_json.to_string(), limits)
}
