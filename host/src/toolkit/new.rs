//! `finlake plugin new`: a ready-to-build plugin folder from templates.

use std::path::{Path, PathBuf};

use super::ToolkitError;
use super::build::Lang;
use super::sdk;

const SAMPLE: &str = include_str!("../../../plugins/templates/common/sample.jsonl");
const EXPECTED: &str = include_str!("../../../plugins/templates/common/expected.jsonl");
const README: &str = include_str!("../../../plugins/templates/common/README.md");
const RUST_CARGO: &str = include_str!("../../../plugins/templates/rust/Cargo.toml");
const RUST_LIB: &str = include_str!("../../../plugins/templates/rust/src/lib.rs");
const PY_APP: &str = include_str!("../../../plugins/templates/python/app.py");
const JS_PLUGIN: &str = include_str!("../../../plugins/templates/js/plugin.js");
const C_PLUGIN: &str = include_str!("../../../plugins/c/template/plugin.c");

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Creates `parent/<name>/` for `lang` and returns its path. The folder needs nothing from a
/// FinLake checkout: it carries its SDK (see [`sdk`]), and builds take the WIT from the binary.
pub fn create(lang: Lang, name: &str, parent: &Path) -> Result<PathBuf, ToolkitError> {
    if !valid_name(name) {
        return Err(ToolkitError::Invalid(format!(
            "plugin name {name:?}: use lowercase letters, digits and '-', starting with a letter"
        )));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(ToolkitError::Invalid(format!("{} already exists", dir.display())));
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
            files.push((dir.join("Cargo.toml"), fill(RUST_CARGO).replace("{{sdk_version}}", sdk::VERSION)));
            files.push((dir.join("src/lib.rs"), fill(RUST_LIB)));
        }
        Lang::Python => {
            files.push((dir.join("app.py"), fill(PY_APP)));
            files.push((dir.join("finlake_plugin.py"), sdk::PYTHON_SDK.to_string()));
        }
        Lang::Js => {
            files.push((dir.join("plugin.js"), fill(JS_PLUGIN)));
            files.push((dir.join("finlake-plugin.js"), sdk::JS_SDK.to_string()));
        }
        Lang::C => {
            files.push((dir.join("plugin.c"), fill(C_PLUGIN)));
            files.push((dir.join("finlake_plugin.h"), sdk::C_SDK.to_string()));
            files.push((dir.join("build.sh"), sdk::C_BUILD.to_string()));
        }
    }
    for (path, text) in files {
        sdk::write(&path, &text)?;
    }
    if lang == Lang::Rust {
        sdk::vendor_rust(&dir)?;
    }
    Ok(dir)
}
