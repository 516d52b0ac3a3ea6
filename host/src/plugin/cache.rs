//! On-disk cache of compiled components.
//!
//! Compiling a large component (Python, JS) takes seconds; loading a precompiled artefact takes
//! milliseconds. Artefacts are keyed by the component's SHA-256, the wasmtime version and the
//! engine's configuration, so a stale artefact is never loaded: it just is not found.
//!
//! Loading never writes: an artefact is stored only for a component the host accepted
//! ([`CompileCache::store`]), so refused uploads cannot fill the disk, and the directory is
//! kept under [`MAX_CACHE_BYTES`] by evicting the least recently used artefacts.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::PluginError;

/// The most the cache directory holds; beyond it the least recently used artefacts go.
pub const MAX_CACHE_BYTES: u64 = 1 << 30;

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
    /// Nothing is written: see [`CompileCache::store`].
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
                Ok(c) => {
                    // Recently used: the last to be evicted.
                    let _ = std::fs::File::options()
                        .append(true)
                        .open(&path)
                        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                    return Ok((c, true));
                }
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "discarding unusable compiled artefact"),
            }
        }
        let component = Component::from_binary(engine, bytes)
            .map_err(|e| PluginError::Compile { origin: origin.to_string(), message: one_line(&format!("{e:#}")) })?;
        Ok((component, false))
    }

    /// Stores the artefact of an accepted component, then evicts the least recently used
    /// artefacts beyond [`MAX_CACHE_BYTES`].
    pub fn store(&self, component: &Component, sha256: &str) -> Result<(), PluginError> {
        let path = self.artefact(sha256);
        if path.exists() {
            return Ok(());
        }
        let cache_err =
            |e: std::io::Error| PluginError::Cache { path: path.display().to_string(), message: e.to_string() };
        let compiled = component
            .serialize()
            .map_err(|e| PluginError::Cache { path: path.display().to_string(), message: format!("{e:#}") })?;
        std::fs::create_dir_all(&self.dir).map_err(cache_err)?;
        // Write then rename, so a crash never leaves a truncated artefact under the final name.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &compiled).map_err(cache_err)?;
        std::fs::rename(&tmp, &path).map_err(cache_err)?;
        self.evict(MAX_CACHE_BYTES);
        Ok(())
    }

    /// Removes the least recently used artefacts until the directory holds at most `max`
    /// bytes. An artefact in use stays mapped by the process after its file is removed.
    pub fn evict(&self, max: u64) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        files.sort();
        for (_, len, path) in files {
            if total <= max {
                break;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    total -= len;
                    tracing::info!(path = %path.display(), bytes = len, "compiled artefact evicted (cache over its limit)");
                }
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot evict compiled artefact"),
            }
        }
    }
}

/// wasmtime's messages can pretty-print byte arrays over many lines; keep them on one.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires the file to be an artefact produced by `Component::serialize`
    // (what `store` writes) of a compatible engine. Only this module writes into the cache directory, names carry the
    // engine fingerprint, and wasmtime itself checks the version/config header on load.
    unsafe { Component::deserialize_file(engine, path) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_removes_the_least_recently_used_artefacts_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path(), "test");
        let now = std::time::SystemTime::now();
        for (name, age_s) in [("old", 300), ("mid", 200), ("new", 100)] {
            let path = dir.path().join(format!("{name}.cwasm"));
            std::fs::write(&path, vec![0u8; 1000]).unwrap();
            let f = std::fs::File::options().append(true).open(&path).unwrap();
            f.set_modified(now - std::time::Duration::from_secs(age_s)).unwrap();
        }
        std::fs::write(dir.path().join("not-an-artefact.txt"), vec![0u8; 5000]).unwrap();
        cache.evict(2000);
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
        left.sort();
        assert_eq!(left, ["mid.cwasm", "new.cwasm", "not-an-artefact.txt"]);
    }
}
