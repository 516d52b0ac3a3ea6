//! The plugin interface and SDKs as this binary carries them.
//!
//! A plugin built by `finlake plugin build` is built against the WIT compiled into this binary,
//! and a Rust plugin made by `finlake plugin new` vendors the Rust SDK this binary carries: a
//! plugin author needs only the `finlake` binary and their language's toolchain, and the host and
//! the SDK can never disagree about the interface. The SDKs of all four languages share one
//! version, [`VERSION`]; each states it in its own way (checked by the tests below).

use std::path::{Path, PathBuf};

use super::ToolkitError;

/// `wit/finlake.wit`: the interface between the host and every plugin.
pub const WIT: &str = include_str!("../../../wit/finlake.wit");

/// The version of the plugin SDKs (Rust crate, Python package, npm package, C header).
pub const VERSION: &str = "0.1.0";

/// Where a Rust plugin keeps its copy of the SDK crate, relative to the plugin folder.
pub const RUST_VENDOR_DIR: &str = "vendor/finlake-plugin-sdk";

const RUST_SDK: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../../plugins/sdk/Cargo.toml")),
    ("src/lib.rs", include_str!("../../../plugins/sdk/src/lib.rs")),
    ("src/batch.rs", include_str!("../../../plugins/sdk/src/batch.rs")),
    ("src/native.rs", include_str!("../../../plugins/sdk/src/native.rs")),
    ("src/row.rs", include_str!("../../../plugins/sdk/src/row.rs")),
    ("wit/finlake.wit", WIT),
];

/// The Python SDK module (`finlake_plugin`), the JavaScript SDK module and the C header.
pub const PYTHON_SDK: &str = include_str!("../../../plugins/python/sdk/finlake_plugin.py");
pub const JS_SDK: &str = include_str!("../../../plugins/js/sdk/finlake-plugin.js");
pub const C_SDK: &str = include_str!("../../../plugins/c/sdk/finlake_plugin.h");
pub const C_BUILD: &str = include_str!("../../../plugins/c/sdk/build.sh");

pub(super) fn write(path: &Path, text: &str) -> Result<(), ToolkitError> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(ToolkitError::io(p))?;
    }
    std::fs::write(path, text).map_err(ToolkitError::io(path))
}

/// Writes this binary's Rust SDK into `plugin/vendor/finlake-plugin-sdk`, file by file where
/// it differs; returns whether anything was written.
pub fn vendor_rust(plugin: &Path) -> Result<bool, ToolkitError> {
    let dir = plugin.join(RUST_VENDOR_DIR);
    let mut changed = false;
    for (file, text) in RUST_SDK {
        let path = dir.join(file);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(*text) {
            write(&path, text)?;
            changed = true;
        }
    }
    Ok(changed)
}

/// Writes the WIT as `dir/finlake.wit` (for `finlake plugin wit --out` and for builds) and
/// returns `dir`.
pub fn write_wit(dir: &Path) -> Result<PathBuf, ToolkitError> {
    write(&dir.join("finlake.wit"), WIT)?;
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sdk_states_the_same_version() {
        let cargo = RUST_SDK[0].1;
        assert!(cargo.contains(&format!("version = \"{VERSION}\"")), "plugins/sdk/Cargo.toml");
        assert!(PYTHON_SDK.contains(&format!("__version__ = \"{VERSION}\"")), "finlake_plugin.py");
        assert!(JS_SDK.contains(&format!("FINLAKE_SDK_VERSION = '{VERSION}'")), "finlake-plugin.js");
        assert!(C_SDK.contains(&format!("#define FINLAKE_PLUGIN_SDK_VERSION \"{VERSION}\"")), "finlake_plugin.h");
        let pyproject = include_str!("../../../plugins/python/sdk/pyproject.toml");
        assert!(pyproject.contains(&format!("version = \"{VERSION}\"")), "pyproject.toml");
        let package = include_str!("../../../plugins/js/sdk/package.json");
        assert!(package.contains(&format!("\"version\": \"{VERSION}\"")), "package.json");
    }

    #[test]
    fn the_vendored_sdk_is_rewritten_only_where_it_differs() {
        let dir = tempfile::tempdir().unwrap();
        assert!(vendor_rust(dir.path()).unwrap());
        assert!(!vendor_rust(dir.path()).unwrap());
        let wit = dir.path().join(RUST_VENDOR_DIR).join("wit/finlake.wit");
        std::fs::write(&wit, "stale").unwrap();
        assert!(vendor_rust(dir.path()).unwrap());
        assert_eq!(std::fs::read_to_string(wit).unwrap(), WIT);
    }
}
