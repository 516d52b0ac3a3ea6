//! `finlake plugin …`: the plugin author's toolkit (new, build, test, inspect).

pub mod build;
pub mod new;
pub mod trial;

use std::path::Path;

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
            "plugin    {name} {version}\naccepted  yes: links against finlake:plugin@0.1.0 and answers info\n"
        )),
        Err(e) => out.push_str(&format!("accepted  NO: {e}\n")),
    }
    if i.verdict.is_ok() { Ok(out) } else { Err(out) }
}
