//! Engine, linker and loading of plugin components.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

use super::bindings::{Plugin, PluginPre};
use super::cache::CompileCache;
use super::instance::{Limits, PluginInstance, StoreState};
use super::{NativeFactory, PluginError};

/// The optional export of plugins that keep state (see `wit/finlake.wit`).
pub const STATE_INTERFACE: &str = "finlake:plugin/state@0.1.0";

/// How often the epoch advances; time limits are rounded up to this granularity.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Shared by every plugin of the process.
pub struct PluginRuntime {
    engine: Engine,
    linker: Linker<StoreState>,
    cache: CompileCache,
    stop_ticker: Arc<AtomicBool>,
    /// Plugins to run as native code instead of Wasm (benchmarks only; see `native.rs`).
    natives: std::sync::RwLock<std::collections::HashMap<String, NativeFactory>>,
}

impl Drop for PluginRuntime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// What `finlake plugin inspect` reports about a component file.
#[derive(Debug)]
pub struct Inspection {
    pub sha256: String,
    pub size: usize,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// `Ok((name, version))` if the host accepts it, else why not.
    pub verdict: Result<(String, String), PluginError>,
}

/// A compiled, pre-linked component that instances are made from.
#[derive(Clone)]
pub struct LoadedPlugin {
    pub(super) pre: PluginPre<StoreState>,
    pub(super) engine: Engine,
    component: wasmtime::component::Component,
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub size: usize,
    pub origin: String,
    pub load_time: Duration,
    pub cache_hit: bool,
    /// Exports `finlake:plugin/state`: its state is snapshotted with commits and carried across
    /// restarts and swaps.
    pub stateful: bool,
    /// Runs as native code instead of the component (benchmarks only).
    pub(super) native: Option<NativeFactory>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("sha256", &self.sha256)
            .finish()
    }
}

impl PluginRuntime {
    pub fn new(cache_dir: &Path) -> Result<Self, PluginError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        // `FINLAKE_WASM_PROFILE=perfmap`: plugins' compiled functions are named in
        // /tmp/perf-<pid>.map, so `perf report` shows them (docs/PERFORMANCE.md, profiling).
        if std::env::var("FINLAKE_WASM_PROFILE").is_ok_and(|v| v == "perfmap") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)
            .map_err(|e| PluginError::Compile { origin: "engine".into(), message: format!("{e:#}") })?;
        let mut linker: Linker<StoreState> = Linker::new(&engine);
        let link_err = |e: wasmtime::Error| PluginError::Link { origin: "host".into(), message: format!("{e:#}") };
        // Guests built with a std library import wasi:cli/io/clocks; the WasiCtx in each store
        // grants nothing (no preopens, env, args or sockets).
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(link_err)?;
        Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(link_err)?;

        let stop_ticker = Arc::new(AtomicBool::new(false));
        let (weak, stop) = (engine.weak(), stop_ticker.clone());
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| PluginError::Compile { origin: "engine".into(), message: e.to_string() })?;
        let cache = CompileCache::new(cache_dir, "epoch_interruption;component_model;default");
        Ok(PluginRuntime { engine, linker, cache, stop_ticker, natives: Default::default() })
    }

    /// Runs the plugin named `name` as native code from now on, wherever it is loaded (the
    /// component is still loaded and checked). For the benchmarks' Wasm-vs-native comparison:
    /// native code runs without sandbox or limits.
    pub fn use_native(&self, name: &str, factory: NativeFactory) {
        self.natives.write().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), factory);
    }

    /// Loads a component file; `expected_name` (if given) must equal its declared name.
    pub fn load_file(&self, path: &Path, expected_name: Option<&str>) -> Result<LoadedPlugin, PluginError> {
        let bytes = std::fs::read(path).map_err(|e| PluginError::Read {
            path: path.display().to_string(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "file not found (build the plugins: ./xtask/setup.sh, or `cargo build --release --target wasm32-wasip2` in plugins/)".into()
            } else {
                e.to_string()
            },
        })?;
        let loaded = self.load_bytes(&bytes, &path.display().to_string(), expected_name)?;
        self.persist(&loaded);
        Ok(loaded)
    }

    /// Keeps the compiled artefact of an accepted plugin for the next load (a failure to
    /// write only costs a compile later).
    pub fn persist(&self, loaded: &LoadedPlugin) {
        if loaded.cache_hit {
            return;
        }
        if let Err(e) = self.cache.store(&loaded.component, &loaded.sha256) {
            tracing::warn!(plugin = %loaded.name, error = %e, "compiled artefact not cached");
        }
    }

    /// Compiles `bytes` (cached) and describes the component: its imports and exports, and
    /// whether the host would accept it (links, and answers `info`) or why not.
    pub fn inspect_bytes(&self, bytes: &[u8], origin: &str) -> Result<Inspection, PluginError> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let (component, _) = self.cache.load(&self.engine, bytes, &sha256, origin)?;
        let ty = component.component_type();
        let imports = ty.imports(&self.engine).map(|(name, _)| name.to_string()).collect();
        let exports = ty.exports(&self.engine).map(|(name, _)| name.to_string()).collect();
        let verdict = self.load_bytes(bytes, origin, None).map(|p| (p.name, p.version));
        Ok(Inspection { sha256, size: bytes.len(), imports, exports, verdict })
    }

    /// Compiles (or loads from cache), links, and reads the plugin's declared name and version.
    pub fn load_bytes(
        &self,
        bytes: &[u8],
        origin: &str,
        expected_name: Option<&str>,
    ) -> Result<LoadedPlugin, PluginError> {
        let started = Instant::now();
        let sha256 = hex::encode(Sha256::digest(bytes));
        let (component, cache_hit) = self.cache.load(&self.engine, bytes, &sha256, origin)?;
        let stateful = component.component_type().exports(&self.engine).any(|(name, _)| name == STATE_INTERFACE);
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| PluginError::Link { origin: origin.to_string(), message: format!("{e:#}") })?;
        let pre = PluginPre::new(pre)
            .map_err(|e| PluginError::Link { origin: origin.to_string(), message: format!("{e:#}") })?;
        let mut loaded = LoadedPlugin {
            pre,
            engine: self.engine.clone(),
            component,
            name: String::new(),
            version: String::new(),
            sha256,
            size: bytes.len(),
            origin: origin.to_string(),
            load_time: Duration::ZERO,
            cache_hit,
            stateful,
            native: None,
        };
        let info = PluginInstance::info(&loaded, Limits::default())?;
        if let Some(expected) = expected_name
            && info.name != expected
        {
            return Err(PluginError::WrongName {
                origin: origin.to_string(),
                expected: expected.to_string(),
                found: info.name,
            });
        }
        loaded.native = self.natives.read().unwrap_or_else(|e| e.into_inner()).get(&info.name).cloned();
        loaded.name = info.name;
        loaded.version = info.version;
        loaded.load_time = started.elapsed();
        tracing::info!(plugin = %loaded.name, version = %loaded.version, sha256 = %&loaded.sha256[..12], cache_hit, load_ms = loaded.load_time.as_millis() as u64, "plugin loaded");
        Ok(loaded)
    }
}
