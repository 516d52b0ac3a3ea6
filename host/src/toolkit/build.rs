//! `finlake plugin build`: build a plugin folder into a component, whatever its language.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{ToolkitError, sdk};

/// The languages a plugin folder can be written in, recognised by its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
    C,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "rust" | "rs" => Some(Lang::Rust),
            "python" | "py" => Some(Lang::Python),
            "js" | "javascript" => Some(Lang::Js),
            "c" => Some(Lang::C),
            _ => None,
        }
    }

    pub fn detect(dir: &Path) -> Option<Lang> {
        if dir.join("Cargo.toml").exists() {
            Some(Lang::Rust)
        } else if dir.join("app.py").exists() {
            Some(Lang::Python)
        } else if dir.join("plugin.js").exists() {
            Some(Lang::Js)
        } else if dir.join("plugin.c").exists() {
            Some(Lang::C)
        } else {
            None
        }
    }
}

/// Where the pinned toolchains live (installed by `xtask/setup.sh`), overridable by env.
fn cache_home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir).join(".cache/finlake")
}

fn tool(env: &str, cached: PathBuf, on_path: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    if cached.exists() {
        return Some(cached);
    }
    which(on_path)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()))
}

fn run(cmd: &mut Command, what: &str) -> Result<(), ToolkitError> {
    let status = cmd.status().map_err(|e| ToolkitError::Tool(format!("cannot run {what}: {e}")))?;
    if status.success() { Ok(()) } else { Err(ToolkitError::Tool(format!("{what} failed ({status})"))) }
}

/// Builds the plugin in `dir` to `out_dir/<name>.wasm` (default `dir/dist`) and returns that
/// path. Every language builds against the WIT this binary carries ([`sdk::WIT`]).
pub fn build(dir: &Path, out_dir: Option<&Path>) -> Result<PathBuf, ToolkitError> {
    let lang = Lang::detect(dir).ok_or_else(|| {
        ToolkitError::Invalid(format!(
            "{}: no Cargo.toml, app.py, plugin.js or plugin.c: not a plugin folder",
            dir.display()
        ))
    })?;
    let dir = dir.canonicalize().map_err(ToolkitError::io(dir))?;
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("plugin").to_string();
    let out_dir = out_dir.map_or_else(|| dir.join("dist"), Path::to_path_buf);
    std::fs::create_dir_all(&out_dir).map_err(ToolkitError::io(&out_dir))?;
    let out = out_dir.canonicalize().map_err(ToolkitError::io(&out_dir))?.join(format!("{name}.wasm"));
    if lang == Lang::Rust {
        build_rust(&dir, &name, &out)?;
        return Ok(out);
    }
    let work = tempfile_dir()?;
    let result = sdk::write_wit(&work.join("wit")).and_then(|wit| match lang {
        Lang::Python => build_python(&dir, &wit, &out),
        Lang::Js => build_js(&dir, &wit, &out),
        _ => build_c(&dir, &wit, &out),
    });
    let _ = std::fs::remove_dir_all(&work);
    result.map(|()| out)
}

fn build_rust(dir: &Path, name: &str, out: &Path) -> Result<(), ToolkitError> {
    let targets = Command::new("rustup").args(["target", "list", "--installed"]).output();
    if let Ok(t) = targets
        && !String::from_utf8_lossy(&t.stdout).contains("wasm32-wasip2")
    {
        return Err(ToolkitError::Tool(
            "the wasm32-wasip2 target is not installed: rustup target add wasm32-wasip2".into(),
        ));
    }
    // A plugin made by `finlake plugin new` vendors the SDK: keep it the one this binary
    // carries, so it matches the host's interface.
    if dir.join(sdk::RUST_VENDOR_DIR).is_dir() && sdk::vendor_rust(dir)? {
        eprintln!("updated {} to the SDK of this finlake ({})", sdk::RUST_VENDOR_DIR, sdk::VERSION);
    }
    // FINLAKE_PLUGINS_TARGET shares one target directory between plugins (faster rebuilds).
    let target_dir =
        std::env::var_os("FINLAKE_PLUGINS_TARGET").map(PathBuf::from).unwrap_or_else(|| dir.join("target"));
    run(
        Command::new("cargo")
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .env("CARGO_TARGET_DIR", &target_dir)
            .current_dir(dir),
        "cargo build --target wasm32-wasip2",
    )?;
    let built = target_dir.join("wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::copy(&built, out).map_err(ToolkitError::io(&built))?;
    Ok(())
}

/// Where the SDK file is: a copy in the plugin folder (`finlake plugin new` writes one), the
/// shared one of this repository's example plugins, or none (then the installed package).
fn sdk_file(dir: &Path, candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(|c| dir.join(c)).find(|p| p.is_file())
}

fn build_python(dir: &Path, wit: &Path, out: &Path) -> Result<(), ToolkitError> {
    let py = tool("FINLAKE_COMPONENTIZE_PY_BIN", cache_home().join("venv/bin/componentize-py"), "componentize-py")
        .ok_or_else(|| {
            ToolkitError::Tool(
                "componentize-py not found: pip install componentize-py==0.25.1 (or run ./xtask/setup.sh)".into(),
            )
        })?;
    // The SDK: a copy next to app.py (`plugin new` writes one), the shared one of this
    // repository's examples, or the package installed where componentize-py runs (the wheel).
    let work = tempfile_dir()?;
    let sdk = match sdk_file(dir, &["finlake_plugin.py", "../sdk/finlake_plugin.py"]) {
        Some(file) => Ok(file.parent().unwrap_or(dir).to_path_buf()),
        // Only the module, not the whole environment, goes into the component.
        None => installed_python_sdk(&py)
            .and_then(|module| std::fs::copy(&module, work.join("finlake_plugin.py")).ok())
            .map(|_| work.clone())
            .ok_or_else(|| {
            ToolkitError::Invalid(format!(
                "{}: no finlake_plugin.py next to app.py, and the Python of {} has no finlake_plugin installed: pip install finlake_plugin-{}-py3-none-any.whl there, or copy the SDK file next to app.py",
                dir.display(),
                py.display(),
                sdk::VERSION
            ))
        }),
    };
    let result = sdk.and_then(|sdk| {
        let mut cmd = Command::new(&py);
        cmd.arg("-d").arg(wit).args(["-w", "plugin", "componentize", "app", "-p"]).arg(dir).arg("-p").arg(sdk);
        run(cmd.arg("-o").arg(out).arg("--stub-wasi").current_dir(dir), "componentize-py")
    });
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// The `finlake_plugin` module file the Python next to `componentize_py` (its virtualenv's,
/// else `python3`) imports: componentize-py bundles only the paths it is given.
fn installed_python_sdk(componentize_py: &Path) -> Option<PathBuf> {
    let beside = componentize_py.parent().map(|d| d.join("python3")).filter(|p| p.is_file());
    let python = beside.unwrap_or_else(|| PathBuf::from("python3"));
    let out = Command::new(python)
        // Found, not imported: the SDK imports bindings that exist only inside a build.
        .args(["-c", "import importlib.util as u; s = u.find_spec('finlake_plugin'); print(s.origin if s else '')"])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !path.trim().is_empty()).then(|| PathBuf::from(path.trim()))
}

fn build_js(dir: &Path, wit: &Path, out: &Path) -> Result<(), ToolkitError> {
    let js = tool(
        "FINLAKE_COMPONENTIZE_JS_BIN",
        cache_home().join("node/node_modules/.bin/componentize-js"),
        "componentize-js",
    )
    .ok_or_else(|| {
        ToolkitError::Tool(
            "componentize-js not found: npm install @bytecodealliance/componentize-js@0.23.0 (or run ./xtask/setup.sh)"
                .into(),
        )
    })?;
    let sdk = sdk_file(
        dir,
        &["finlake-plugin.js", "node_modules/finlake-plugin/finlake-plugin.js", "../sdk/finlake-plugin.js"],
    )
    .ok_or_else(|| {
        ToolkitError::Invalid(format!(
            "{}: no finlake-plugin.js (the SDK): npm install finlake-plugin-{}.tgz, or copy it next to plugin.js",
            dir.display(),
            sdk::VERSION
        ))
    })?;
    let work = tempfile_dir()?;
    let bundle = work.join("plugin.js");
    let text = [std::fs::read_to_string(&sdk), std::fs::read_to_string(dir.join("plugin.js"))]
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(ToolkitError::io(dir))?
        .join("\n");
    std::fs::write(&bundle, text).map_err(ToolkitError::io(&bundle))?;
    let result = run(
        Command::new(js)
            .arg("plugin.js")
            .arg("--wit")
            .arg(wit)
            .args(["-n", "plugin", "-d", "stdio", "random", "clocks", "http", "fetch-event", "-o"])
            .arg(out)
            .current_dir(&work),
        "componentize-js",
    );
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn build_c(dir: &Path, wit: &Path, out: &Path) -> Result<(), ToolkitError> {
    let script = dir.join("build.sh");
    if !script.exists() {
        return Err(ToolkitError::Invalid(format!("{}: C plugins build with their build.sh", dir.display())));
    }
    run(Command::new("bash").arg(&script).arg(wit).arg(out).current_dir(dir), "build.sh")
}

fn tempfile_dir() -> Result<PathBuf, ToolkitError> {
    let dir = std::env::temp_dir().join(format!(
        "finlake-build-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).map_err(ToolkitError::io(&dir))?;
    Ok(dir)
}
