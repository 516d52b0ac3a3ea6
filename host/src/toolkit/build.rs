//! `finlake plugin build`: build a plugin folder into a component, whatever its language.

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Finds the `wit/` folder with `finlake.wit`: `FINLAKE_WIT`, or the nearest ancestor's `wit/`.
pub fn find_wit(start: &Path) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("FINLAKE_WIT") {
        return Ok(PathBuf::from(p));
    }
    let start = start.canonicalize().unwrap_or_else(|_| start.to_path_buf());
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut candidates = start.ancestors().chain(cwd.ancestors()).map(|a| a.join("wit"));
    candidates.find(|w| w.join("finlake.wit").exists()).ok_or_else(|| {
        format!("no wit/finlake.wit above {}: run inside the FinLake checkout or set FINLAKE_WIT", start.display())
    })
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{what} failed ({status})")) }
}

/// Builds the plugin in `dir` to `out_dir/<name>.wasm` and returns that path.
pub fn build(dir: &Path, out_dir: &Path) -> Result<PathBuf, String> {
    let lang = Lang::detect(dir).ok_or_else(|| {
        format!("{}: no Cargo.toml, app.py, plugin.js or plugin.c: not a plugin folder", dir.display())
    })?;
    let dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("plugin").to_string();
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let out = out_dir.canonicalize().map_err(|e| e.to_string())?.join(format!("{name}.wasm"));
    match lang {
        Lang::Rust => build_rust(&dir, &name, &out),
        Lang::Python => build_python(&dir, &find_wit(&dir)?, &out),
        Lang::Js => build_js(&dir, &find_wit(&dir)?, &out),
        Lang::C => build_c(&dir, &find_wit(&dir)?, &out),
    }?;
    Ok(out)
}

fn build_rust(dir: &Path, name: &str, out: &Path) -> Result<(), String> {
    let targets = Command::new("rustup").args(["target", "list", "--installed"]).output();
    if let Ok(t) = targets
        && !String::from_utf8_lossy(&t.stdout).contains("wasm32-wasip2")
    {
        return Err("the wasm32-wasip2 target is not installed: rustup target add wasm32-wasip2".into());
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
    std::fs::copy(&built, out).map_err(|e| format!("{}: {e}", built.display()))?;
    Ok(())
}

fn sdk_dir(dir: &Path, file: &str, shared: &str) -> PathBuf {
    // A plugin made by `finlake plugin new` carries its own copy of the SDK file; the plugins in
    // this repository share one.
    if dir.join(file).exists() { dir.to_path_buf() } else { dir.join("..").join(shared) }
}

fn build_python(dir: &Path, wit: &Path, out: &Path) -> Result<(), String> {
    let py = tool("FINLAKE_COMPONENTIZE_PY_BIN", cache_home().join("venv/bin/componentize-py"), "componentize-py")
        .ok_or("componentize-py not found: pip install componentize-py==0.25.1 (or run ./xtask/setup.sh)")?;
    let sdk = sdk_dir(dir, "finlake_plugin.py", "sdk");
    run(
        Command::new(py)
            .arg("-d")
            .arg(wit)
            .args(["-w", "plugin", "componentize", "app", "-p"])
            .arg(dir)
            .arg("-p")
            .arg(&sdk)
            .arg("-o")
            .arg(out)
            .arg("--stub-wasi")
            .current_dir(dir),
        "componentize-py",
    )
}

fn build_js(dir: &Path, wit: &Path, out: &Path) -> Result<(), String> {
    let js = tool(
        "FINLAKE_COMPONENTIZE_JS_BIN",
        cache_home().join("node/node_modules/.bin/componentize-js"),
        "componentize-js",
    )
    .ok_or(
        "componentize-js not found: npm install @bytecodealliance/componentize-js@0.23.0 (or run ./xtask/setup.sh)",
    )?;
    let sdk = sdk_dir(dir, "finlake-plugin.js", "sdk").join("finlake-plugin.js");
    let work = tempfile_dir()?;
    let bundle = work.join("plugin.js");
    let text = [std::fs::read_to_string(&sdk), std::fs::read_to_string(dir.join("plugin.js"))]
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("reading {} and plugin.js: {e}", sdk.display()))?
        .join("\n");
    std::fs::write(&bundle, text).map_err(|e| e.to_string())?;
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

fn build_c(dir: &Path, wit: &Path, out: &Path) -> Result<(), String> {
    let script = dir.join("build.sh");
    if !script.exists() {
        return Err(format!("{}: C plugins build with their build.sh", dir.display()));
    }
    run(Command::new("bash").arg(&script).arg(wit).arg(out).current_dir(dir), "build.sh")
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!(
        "finlake-build-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}
