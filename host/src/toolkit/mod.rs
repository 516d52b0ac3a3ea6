//! `finlake plugin …`: the plugin author's toolkit (new, build, test, inspect, wit).

pub mod build;
pub mod new;
pub mod sdk;
pub mod trial;

use std::path::{Path, PathBuf};

/// Why a toolkit step could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ToolkitError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A language toolchain is missing or failed (its own output went to the terminal).
    #[error("{0}")]
    Tool(String),
    /// The request or the folder is not usable as it is.
    #[error("{0}")]
    Invalid(String),
}

impl ToolkitError {
    fn io(path: &Path) -> impl Fn(std::io::Error) -> ToolkitError + '_ {
        move |source| ToolkitError::Io { path: path.to_path_buf(), source }
    }
}

use crate::plugin::PluginRuntime;

/// Describes a component file for `finlake plugin inspect`.
pub fn inspect(file: &Path, cache_dir: &Path) -> Result<String, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let runtime = PluginRuntime::new(cache_dir).map_err(|e| e.to_string())?;
    let origin = file.display().to_string();
    let i = runtime.inspect_bytes(&bytes, &origin).map_err(|e| e.to_string())?;
    let mut out = String::new();
    out.push_str(&format!("file      {origin}\nsize      {} bytes\nsha256    {}\n", i.size, i.sha256));
    out.push_str("imports\n");
    for name in &i.imports {
        out.push_str(&format!("  {name}\n"));
    }
    out.push_str("exports\n");
    for name in &i.exports {
        out.push_str(&format!("  {name}\n"));
    }
    match &i.verdict {
        Ok((name, version)) => out.push_str(&format!(
            "plugin    {name} {version}\naccepted  yes: links against {} and answers info\n",
            wit_package()
        )),
        Err(e) => out.push_str(&format!("accepted  NO: {e}\n")),
    }
    if i.verdict.is_ok() { Ok(out) } else { Err(out) }
}

/// The WIT package this host runs (`finlake:plugin@…`), as its `package` line names it.
pub fn wit_package() -> &'static str {
    sdk::WIT
        .lines()
        .find_map(|l| l.trim().strip_prefix("package "))
        .map_or("finlake:plugin", |p| p.trim_end_matches(';').trim())
}
