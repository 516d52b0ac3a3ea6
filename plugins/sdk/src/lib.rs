//! The FinLake plugin SDK for Rust.
//!
//! A plugin author writes one type implementing [`Plugin`] — a constructor that receives the
//! stage's config, and a per-record function — and exports it with [`export_plugin!`]. The SDK
//! hides the flat batch layout of the WIT contract (`wit/finlake.wit`): records arrive as
//! [`Record`] views, rows leave through [`Emitter`].
//!
//! ```no_run
//! use finlake_plugin_sdk::{export_plugin, Plugin, Record, Emitter, Config};
//! struct Upper;
//! impl Plugin for Upper {
//!     const NAME: &'static str = "upper";
//!     const VERSION: &'static str = "1.0.0";
//!     fn new(_config: Config) -> Result<Self, String> { Ok(Upper) }
//!     fn process(&mut self, r: &Record<'_>, out: &mut Emitter) -> Result<(), String> {
//!         let text = r.value_str()?.to_uppercase();
//!         out.emit("out", &serde_json::json!({ "text": text }));
//!         Ok(())
//!     }
//! }
//! export_plugin!(Upper);
//! ```

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "stateful-plugin",
        pub_export_macro: true,
        export_macro_name: "__export_world",
        default_bindings_module: "finlake_plugin_sdk::bindings",
    });
}

mod batch;
#[doc(hidden)]
pub use batch::run_batch;
pub use batch::{Emitter, Record};
mod row;
pub use row::JsonRow;
/// The native harness (benchmarks only): see the module docs.
#[cfg(not(target_arch = "wasm32"))]
pub mod native;

pub use serde_json;

/// The stage's `config` table from `pipelines.toml`, as JSON.
pub type Config = serde_json::Value;

/// A transform plugin.
pub trait Plugin: Sized + Send + 'static {
    /// Must equal the plugin's name in `pipelines.toml`.
    const NAME: &'static str;
    /// Free-form version; recorded in Delta commit info and dead letters.
    const VERSION: &'static str;

    /// Builds the plugin from its config. Called once per instance.
    fn new(config: Config) -> Result<Self, String>;

    /// Handles one record: emit zero or more rows, or return `Err(reason)` to reject it (it
    /// goes to the dead-letter table with that reason).
    fn process(&mut self, record: &Record<'_>, out: &mut Emitter) -> Result<(), String>;

    /// The state to keep across restarts and version swaps (see `state` in `wit/finlake.wit`);
    /// the default keeps nothing.
    fn snapshot(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Takes back a snapshot made by [`Plugin::snapshot`] of this or an earlier version.
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), String> {
        if snapshot.is_empty() { Ok(()) } else { Err(format!("{} keeps no state", Self::NAME)) }
    }
}

/// The stage config as the host passes it to `init` (empty text = an empty table).
#[doc(hidden)]
pub fn parse_config(config: &str) -> Result<Config, String> {
    if config.trim().is_empty() {
        Ok(serde_json::Value::Object(Default::default()))
    } else {
        serde_json::from_str(config).map_err(|e| format!("config is not valid JSON: {e}"))
    }
}

/// Log levels of the host's log import.
pub use bindings::finlake::plugin::host::Level;

/// Writes a line to the host's log, tagged with this plugin's name and version.
pub fn log(level: Level, message: &str) {
    bindings::finlake::plugin::host::log(level, message);
}

/// Exports a [`Plugin`] type as the component's `transform` interface.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        // Wasm: the component's exports. Gated so that two plugins linked into one native
        // binary (the benchmark's native harness) do not export the same symbols.
        #[cfg(target_arch = "wasm32")]
        mod __finlake_export {
            use super::*;
            static __FINLAKE_STATE: ::std::sync::Mutex<Option<$plugin>> = ::std::sync::Mutex::new(None);

            struct __FinlakeExport;

            impl $crate::bindings::exports::finlake::plugin::transform::Guest for __FinlakeExport {
                fn info() -> $crate::bindings::finlake::plugin::types::PluginInfo {
                    $crate::bindings::finlake::plugin::types::PluginInfo {
                        name: <$plugin as $crate::Plugin>::NAME.to_string(),
                        version: <$plugin as $crate::Plugin>::VERSION.to_string(),
                    }
                }

                fn init(config: String) -> Result<(), String> {
                    let value: $crate::Config = $crate::parse_config(&config)?;
                    let plugin = <$plugin as $crate::Plugin>::new(value)?;
                    *__FINLAKE_STATE.lock().unwrap_or_else(|e| e.into_inner()) = Some(plugin);
                    Ok(())
                }

                fn process(
                    batch: $crate::bindings::finlake::plugin::types::Batch,
                ) -> Result<$crate::bindings::finlake::plugin::types::BatchResult, String> {
                    let mut guard = __FINLAKE_STATE.lock().unwrap_or_else(|e| e.into_inner());
                    let plugin = guard.as_mut().ok_or_else(|| "process called before init".to_string())?;
                    $crate::run_batch(&batch, |record, out| $crate::Plugin::process(plugin, record, out))
                }
            }

            impl $crate::bindings::exports::finlake::plugin::state::Guest for __FinlakeExport {
                fn snapshot() -> Vec<u8> {
                    let guard = __FINLAKE_STATE.lock().unwrap_or_else(|e| e.into_inner());
                    guard.as_ref().map(|p| $crate::Plugin::snapshot(p)).unwrap_or_default()
                }

                fn restore(snapshot: Vec<u8>) -> Result<(), String> {
                    let mut guard = __FINLAKE_STATE.lock().unwrap_or_else(|e| e.into_inner());
                    let plugin = guard.as_mut().ok_or_else(|| "restore called before init".to_string())?;
                    $crate::Plugin::restore(plugin, &snapshot)
                }
            }

            $crate::bindings::__export_world!(__FinlakeExport with_types_in $crate::bindings);
        }

        /// This plugin compiled for the host, behind the same batch layout (benchmarks only:
        /// no sandbox, no limits).
        #[cfg(not(target_arch = "wasm32"))]
        pub fn finlake_native(config: &str) -> Result<Box<dyn $crate::native::NativePlugin>, String> {
            Ok(Box::new($crate::native::Native::<$plugin>::new(config)?))
        }
    };
}
