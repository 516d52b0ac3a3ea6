//! On-disk cache of compiled components.
//!
//! Compiling a large component (Python, JS) takes seconds; loading a precompiled artefact takes
//! milliseconds. Artefacts are keyed by the component's SHA-256, the wasmtime version and the
//! engine's configuration, so a stale artefact is never loaded: it just is not found.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::PluginError;

pub struct CompileCache {
    dir: PathBuf,
    fingerprint: String,
}

impl CompileCache {
    pub fn new(dir: &Path, engine_settings: &str) -> Self {
        let fingerprint = hex::encode(Sha256::digest(format!("wasmtime-48.0.8|{engine_settings}")));
        CompileCache { dir: dir.to_path_buf(), fingerprint }
    }

    fn artefact(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", &self.fingerprint[..16]))
    }

    /// Returns the component, from the cache when possible, and whether it was a cache hit.
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        sha256: &str,
        origin: &str,
    ) -> Result<(Component, bool), PluginError> {
        let path = self.artefact(sha256);
        if path.exists() {
            match deserialize(engine, &path) {
                Ok(c) => return Ok((c, true)),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "discarding unusable compiled artefact"),
            }
        }
        let compiled = engine
            .precompile_component(bytes)
            .map_err(|e| PluginError::Compile { origin: origin.to_string(), message: one_line(&format!("{e:#}")) })?;
        let cache_err =
            |e: std::io::Error| PluginError::Cache { path: path.display().to_string(), message: e.to_string() };
        std::fs::create_dir_all(&self.dir).map_err(cache_err)?;
        // Write then rename, so a crash never leaves a truncated artefact under the final name.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &compiled).map_err(cache_err)?;
        std::fs::rename(&tmp, &path).map_err(cache_err)?;
        let component = deserialize(engine, &path)
            .map_err(|e| PluginError::Compile { origin: origin.to_string(), message: format!("{e:#}") })?;
        Ok((component, false))
    }
}

/// wasmtime's messages can pretty-print byte arrays over many lines; keep them on one.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires the file to be an artefact produced by `precompile_component`
    // of a compatible engine. Only this module writes into the cache directory, names carry the
    // engine fingerprint, and wasmtime itself checks the version/config header on load.
    unsafe { Component::deserialize_file(engine, path) }
}
