//! One plugin instance: a Store with limits, a config, and recovery after failures.

use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::Plugin;
use super::bindings::finlake::plugin::host::{self, Level};
use super::runtime::{EPOCH_TICK, LoadedPlugin};
use super::{Batch, BatchResult, PluginError, PluginInfo};

/// Per-instance resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock limit for one call (init or process).
    pub timeout: Duration,
    /// Limit on the instance's linear memory, in bytes.
    pub memory_bytes: usize,
    /// Growth of the linear memory beyond its size right after start (init, and restore for a
    /// stateful plugin) after which the instance is replaced by a fresh one between batches
    /// (0: never). Linear memory never shrinks, and a guest's allocator or garbage collector
    /// (CPython, SpiderMonkey) can grow it over hours without holding more live data; a
    /// stateful plugin's state moves to the fresh instance through snapshot and restore.
    pub recycle_growth_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { timeout: Duration::from_secs(2), memory_bytes: 256 << 20, recycle_growth_bytes: 32 << 20 }
    }
}

/// Data of a plugin's Store.
pub struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory_limit: usize,
    memory_exceeded: bool,
    /// Linear memory of every memory of the instance, in bytes.
    memory_bytes: usize,
    label: String,
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl ResourceLimiter for StoreState {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            // Refuse the growth (memory.grow returns -1); the guest then usually aborts. The
            // flag lets us report the trap that follows as a memory-limit error.
            self.memory_exceeded = true;
            return Ok(false);
        }
        self.memory_bytes += desired.saturating_sub(current);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

impl host::Host for StoreState {
    fn log(&mut self, level: Level, message: String) {
        let message = if message.len() > 4096 {
            format!("{}…", &message[..message.floor_char_boundary(4096)])
        } else {
            message
        };
        match level {
            Level::Trace => tracing::trace!(plugin = %self.label, "{message}"),
            Level::Debug => tracing::debug!(plugin = %self.label, "{message}"),
            Level::Info => tracing::info!(plugin = %self.label, "{message}"),
            Level::Warn => tracing::warn!(plugin = %self.label, "{message}"),
            Level::Error => tracing::error!(plugin = %self.label, "{message}"),
        }
    }
}

impl super::bindings::finlake::plugin::types::Host for StoreState {}

struct Live {
    store: Store<StoreState>,
    bindings: Plugin,
    instance: wasmtime::component::Instance,
}

/// A running instance of a [`LoadedPlugin`] with its config and limits.
pub struct PluginInstance {
    plugin: LoadedPlugin,
    config_json: String,
    limits: Limits,
    live: Option<Live>,
    /// Instances created so far (1 + restarts after failures).
    pub instantiations: u64,
    /// A stateful plugin's last snapshot taken or restored: a fresh instance after a failure
    /// starts from it (history since then is lost: see ARCHITECTURE, plugin state).
    last_state: Option<Vec<u8>>,
    /// The instance's linear memory right after it started (see [`Limits::recycle_growth_bytes`]).
    fresh_bytes: usize,
    /// The memory grew past the limit: replaced before the next call.
    recycle_due: bool,
    /// Native code in place of the component (benchmarks only; see `native.rs`).
    native: Option<Box<dyn super::NativeTransform>>,
}

impl PluginInstance {
    /// Creates an instance and runs `init` with `config_json`.
    pub fn new(plugin: LoadedPlugin, config_json: String, limits: Limits) -> Result<Self, PluginError> {
        let mut instance = PluginInstance {
            plugin,
            config_json,
            limits,
            live: None,
            instantiations: 0,
            last_state: None,
            fresh_bytes: 0,
            recycle_due: false,
            native: None,
        };
        if let Some(factory) = &instance.plugin.native {
            let native = factory(&instance.config_json)
                .map_err(|message| PluginError::Init { plugin: instance.plugin.name.clone(), message })?;
            instance.native = Some(native);
            return Ok(instance);
        }
        instance.ensure_live()?;
        Ok(instance)
    }

    pub fn plugin(&self) -> &LoadedPlugin {
        &self.plugin
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Reads `info` from a throwaway instance (used while loading).
    pub(super) fn info(plugin: &LoadedPlugin, limits: Limits) -> Result<PluginInfo, PluginError> {
        let mut live = instantiate(plugin, limits)?;
        arm(&mut live.store, limits);
        let info = live.bindings.finlake_plugin_transform().call_info(&mut live.store);
        info.map_err(|e| classify(&plugin.origin, &live.store, limits, e))
    }

    fn ensure_live(&mut self) -> Result<&mut Live, PluginError> {
        if self.live.is_none() {
            let mut live = instantiate(&self.plugin, self.limits)?;
            self.instantiations += 1;
            arm(&mut live.store, self.limits);
            let init = live.bindings.finlake_plugin_transform().call_init(&mut live.store, &self.config_json);
            match init {
                Ok(Ok(())) => {}
                Ok(Err(message)) => return Err(PluginError::Init { plugin: self.plugin.name.clone(), message }),
                Err(e) => return Err(classify(&self.plugin.name, &live.store, self.limits, e)),
            }
            if let Some(state) = &self.last_state {
                tracing::info!(plugin = %self.plugin.name, bytes = state.len(), "fresh instance: restoring the plugin's last snapshot");
                call_restore(&self.plugin, &mut live, self.limits, state)?;
            }
            self.fresh_bytes = live.store.data().memory_bytes;
            self.live = Some(live);
        }
        Ok(self.live.as_mut().unwrap_or_else(|| unreachable!("set above")))
    }

    /// Runs one batch. On a trap, timeout or memory overrun the instance is discarded and a
    /// fresh one (re-initialised with the same config) serves the next call.
    pub fn process(&mut self, batch: &Batch) -> Result<BatchResult, PluginError> {
        if let Some(native) = &mut self.native {
            return native
                .process(batch)
                .map_err(|message| PluginError::Failed { plugin: self.plugin.name.clone(), message });
        }
        if self.recycle_due {
            self.recycle()?;
        }
        let limits = self.limits;
        let name = self.plugin.name.clone();
        let live = self.ensure_live()?;
        arm(&mut live.store, limits);
        let started = Instant::now();
        let outcome = live.bindings.finlake_plugin_transform().call_process(&mut live.store, batch);
        metrics::histogram!("finlake_plugin_call_seconds", "plugin" => name.clone())
            .record(started.elapsed().as_secs_f64());
        let now_bytes = live.store.data().memory_bytes;
        let outcome = outcome.map_err(|e| classify(&name, &live.store, limits, e));
        let grown = now_bytes.saturating_sub(self.fresh_bytes);
        self.recycle_due = limits.recycle_growth_bytes > 0 && grown > limits.recycle_growth_bytes;
        match outcome {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(message)) => Err(PluginError::Failed { plugin: name, message }),
            Err(err) => {
                // A trap: the next call gets a fresh instance anyway.
                self.live = None;
                self.recycle_due = false;
                Err(err)
            }
        }
    }
}

impl PluginInstance {
    /// The instance's linear memory, in bytes (0 while no instance is live).
    pub fn memory_bytes(&self) -> usize {
        self.live.as_ref().map_or(0, |l| l.store.data().memory_bytes)
    }

    /// Replaces the instance by a fresh one (its memory grew by more than
    /// [`Limits::recycle_growth_bytes`]), carrying a stateful plugin's state over through
    /// snapshot and restore. Called between batches, so the state is exactly that of the
    /// records processed so far.
    fn recycle(&mut self) -> Result<(), PluginError> {
        let started = Instant::now();
        let before = self.memory_bytes();
        self.snapshot()?; // None for a stateless plugin; kept in last_state for the restore
        self.live = None;
        self.recycle_due = false;
        self.ensure_live()?;
        tracing::info!(
            plugin = %self.plugin.name,
            before_mib = before >> 20,
            after_mib = self.fresh_bytes >> 20,
            ms = started.elapsed().as_millis() as u64,
            "plugin memory grew; replaced by a fresh instance"
        );
        metrics::counter!("finlake_plugin_recycles_total", "plugin" => self.plugin.name.clone()).increment(1);
        Ok(())
    }

    /// The plugin's state (`None` for a plugin without the state export; empty = nothing kept).
    pub fn snapshot(&mut self) -> Result<Option<Vec<u8>>, PluginError> {
        if !self.plugin.stateful {
            return Ok(None);
        }
        if let Some(native) = &self.native {
            let bytes = native.snapshot();
            self.last_state = Some(bytes.clone());
            return Ok(Some(bytes));
        }
        let (limits, plugin) = (self.limits, self.plugin.clone());
        let live = self.ensure_live()?;
        arm(&mut live.store, limits);
        let err = |store: &Store<StoreState>, e| classify(&plugin.name, store, limits, e);
        let func = state_func::<(), (Vec<u8>,)>(&plugin, live, "snapshot")?;
        let (bytes,) = func.call(&mut live.store, ()).map_err(|e| err(&live.store, e))?;
        self.last_state = Some(bytes.clone());
        Ok(Some(bytes))
    }

    /// Replaces the plugin's state with a snapshot (of this or an earlier version).
    pub fn restore(&mut self, snapshot: &[u8]) -> Result<(), PluginError> {
        if !self.plugin.stateful {
            return Err(PluginError::Failed {
                plugin: self.plugin.name.clone(),
                message: "has no state export, but a snapshot was to be restored".into(),
            });
        }
        if let Some(native) = &mut self.native {
            return native.restore(snapshot).map_err(|message| PluginError::Init {
                plugin: self.plugin.name.clone(),
                message: format!("restoring its state: {message}"),
            });
        }
        let (limits, plugin) = (self.limits, self.plugin.clone());
        let live = self.ensure_live()?;
        call_restore(&plugin, live, limits, snapshot)?;
        self.last_state = Some(snapshot.to_vec());
        Ok(())
    }
}

fn state_func<P, R>(
    plugin: &LoadedPlugin,
    live: &mut Live,
    name: &str,
) -> Result<wasmtime::component::TypedFunc<P, R>, PluginError>
where
    P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
    R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
{
    let link = |message: String| PluginError::Link { origin: plugin.origin.clone(), message };
    let iface = live
        .instance
        .get_export_index(&mut live.store, None, super::runtime::STATE_INTERFACE)
        .ok_or_else(|| link("no state export".into()))?;
    let func = live
        .instance
        .get_export_index(&mut live.store, Some(&iface), name)
        .ok_or_else(|| link(format!("state export has no {name}")))?;
    live.instance.get_typed_func::<P, R>(&mut live.store, &func).map_err(|e| link(format!("state.{name}: {e:#}")))
}

fn call_restore(plugin: &LoadedPlugin, live: &mut Live, limits: Limits, snapshot: &[u8]) -> Result<(), PluginError> {
    arm(&mut live.store, limits);
    let func = state_func::<(&[u8],), (Result<(), String>,)>(plugin, live, "restore")?;
    let (answer,) =
        func.call(&mut live.store, (snapshot,)).map_err(|e| classify(&plugin.name, &live.store, limits, e))?;
    answer.map_err(|message| PluginError::Init {
        plugin: plugin.name.clone(),
        message: format!("restoring its state: {message}"),
    })
}

fn instantiate(plugin: &LoadedPlugin, limits: Limits) -> Result<Live, PluginError> {
    let state = StoreState {
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
        memory_limit: limits.memory_bytes,
        memory_exceeded: false,
        memory_bytes: 0,
        label: if plugin.name.is_empty() {
            plugin.origin.clone()
        } else {
            format!("{}@{}", plugin.name, plugin.version)
        },
    };
    let mut store = Store::new(&plugin.engine, state);
    store.limiter(|s| s as &mut dyn ResourceLimiter);
    arm(&mut store, limits);
    let instance = plugin
        .pre
        .instance_pre()
        .instantiate(&mut store)
        .map_err(|e| classify_instantiate(&plugin.origin, &store, limits, e))?;
    let bindings =
        Plugin::new(&mut store, &instance).map_err(|e| classify_instantiate(&plugin.origin, &store, limits, e))?;
    Ok(Live { store, bindings, instance })
}

/// Sets the deadline for the next call.
fn arm(store: &mut Store<StoreState>, limits: Limits) {
    let ticks = limits.timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1) as u64;
    // +1: the current tick may be almost over when the call starts.
    store.set_epoch_deadline(ticks + 1);
    store.epoch_deadline_trap();
    store.data_mut().memory_exceeded = false;
}

fn classify_instantiate(origin: &str, store: &Store<StoreState>, limits: Limits, e: wasmtime::Error) -> PluginError {
    match classify(origin, store, limits, e) {
        PluginError::Trap { plugin, message } => PluginError::Link { origin: plugin, message },
        other => other,
    }
}

fn classify(plugin: &str, store: &Store<StoreState>, limits: Limits, e: wasmtime::Error) -> PluginError {
    let plugin = plugin.to_string();
    if store.data().memory_exceeded {
        return PluginError::Memory { plugin, limit_mb: (limits.memory_bytes >> 20) as u64 };
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PluginError::Timeout { plugin, limit_ms: limits.timeout.as_millis() as u64 },
        _ => PluginError::Trap { plugin, message: format!("{e:#}").lines().next().unwrap_or_default().to_string() },
    }
}
