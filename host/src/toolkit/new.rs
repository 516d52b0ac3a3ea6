//! `finlake plugin new`: a ready-to-build plugin folder from templates.

use std::path::{Path, PathBuf};

use super::build::Lang;

const SAMPLE: &str = include_str!("../../../plugins/templates/common/sample.jsonl");
const EXPECTED: &str = include_str!("../../../plugins/templates/common/expected.jsonl");
const README: &str = include_str!("../../../plugins/templates/common/README.md");
const RUST_CARGO: &str = include_str!("../../../plugins/templates/rust/Cargo.toml");
const RUST_LIB: &str = include_str!("../../../plugins/templates/rust/src/lib.rs");
const PY_APP: &str = include_str!("../../../plugins/templates/python/app.py");
const PY_SDK: &str = include_str!("../../../plugins/python/sdk/finlake_plugin.py");
const JS_PLUGIN: &str = include_str!("../../../plugins/templates/js/plugin.js");
const JS_SDK: &str = include_str!("../../../plugins/js/sdk/finlake-plugin.js");
const C_PLUGIN: &str = include_str!("../../../plugins/c/template/plugin.c");
const C_SDK: &str = include_str!("../../../plugins/c/sdk/finlake_plugin.h");
const C_BUILD: &str = include_str!("../../../plugins/c/sdk/build.sh");

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Creates `parent/<name>/` for `lang` and returns its path.
pub fn create(lang: Lang, name: &str, parent: &Path) -> Result<PathBuf, String> {
    if !valid_name(name) {
        return Err(format!("plugin name {name:?}: use lowercase letters, digits and '-', starting with a letter"));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(format!("{} already exists", dir.display()));
    }
    let fill = |t: &str| {
        t.replace("{{name}}", name).replace("{{dir}}", &dir.display().to_string()).replace(
            "{{lang}}",
            match lang {
                Lang::Rust => "Rust",
                Lang::Python => "Python",
                Lang::Js => "JavaScript",
                Lang::C => "C",
            },
        )
    };
    let mut files: Vec<(PathBuf, String)> = vec![
        (dir.join("sample.jsonl"), SAMPLE.to_string()),
        (dir.join("expected.jsonl"), EXPECTED.to_string()),
        (dir.join("README.md"), fill(README)),
    ];
    match lang {
        Lang::Rust => {
            let sdk = find_rust_sdk(parent)?;
            files.push((dir.join("Cargo.toml"), fill(RUST_CARGO).replace("{{sdk}}", &sdk.display().to_string())));
            files.push((dir.join("src/lib.rs"), fill(RUST_LIB)));
        }
        Lang::Python => {
            files.push((dir.join("app.py"), fill(PY_APP)));
            files.push((dir.join("finlake_plugin.py"), PY_SDK.to_string()));
        }
        Lang::Js => {
            files.push((dir.join("plugin.js"), fill(JS_PLUGIN)));
            files.push((dir.join("finlake-plugin.js"), JS_SDK.to_string()));
        }
        Lang::C => {
            files.push((dir.join("plugin.c"), fill(C_PLUGIN)));
            files.push((dir.join("finlake_plugin.h"), C_SDK.to_string()));
            files.push((dir.join("build.sh"), C_BUILD.to_string()));
        }
    }
    for (path, text) in files {
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(dir)
}

/// The Rust SDK crate: `FINLAKE_RUST_SDK`, or `plugins/sdk` of the nearest FinLake checkout.
fn find_rust_sdk(start: &Path) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("FINLAKE_RUST_SDK") {
        return Ok(PathBuf::from(p));
    }
    std::fs::create_dir_all(start).map_err(|e| format!("{}: {e}", start.display()))?;
    let start = start.canonicalize().map_err(|e| e.to_string())?;
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut candidates = start.ancestors().chain(cwd.ancestors()).map(|a| a.join("plugins/sdk"));
    candidates.find(|s| s.join("Cargo.toml").exists()).ok_or_else(|| {
        "cannot find plugins/sdk: create the plugin inside the FinLake checkout or set FINLAKE_RUST_SDK".into()
    })
}
