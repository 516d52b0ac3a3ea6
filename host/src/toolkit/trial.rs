//! `finlake plugin test`: run a plugin over sample records through the real host runtime,
//! without Kafka or Delta, and show what it makes of them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::pipeline::graph::Stage;
use crate::plugin::{BatchBuilder, Limits, PluginInstance, PluginRuntime};

pub struct TrialOptions {
    /// The component file.
    pub plugin: PathBuf,
    /// JSON Lines: each non-empty line is one record's value.
    pub input: PathBuf,
    /// The plugin's config, as JSON.
    pub config: String,
    pub batch_size: usize,
    pub limits: Limits,
    /// How many rows to print.
    pub show: usize,
    /// Expected rows (JSON Lines, in order); the trial fails if the rows differ.
    pub expect: Option<PathBuf>,
    pub cache_dir: PathBuf,
}

/// Runs the trial; `Ok(report)` when everything ran (and matched `expect`), `Err(report)` if not.
pub fn run(o: &TrialOptions) -> Result<String, String> {
    let input = std::fs::read_to_string(&o.input).map_err(|e| format!("cannot read {}: {e}", o.input.display()))?;
    let records: Vec<(usize, &str)> =
        input.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l)).collect();
    let runtime = PluginRuntime::new(&o.cache_dir).map_err(|e| e.to_string())?;
    let loaded = runtime.load_file(&o.plugin, None).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plugin {} {} ({} bytes, loaded in {:.1} ms{})",
        loaded.name,
        loaded.version,
        loaded.size,
        loaded.load_time.as_secs_f64() * 1e3,
        if loaded.cache_hit { ", from the compile cache" } else { ", compiled now" }
    );
    let name = loaded.name.clone();
    let instance = PluginInstance::new(loaded, o.config.clone(), o.limits).map_err(|e| format!("{out}{e}"))?;
    let mut stage = Stage::single(&name, instance);
    let mut all_rows: Vec<serde_json::Value> = Vec::new();
    let mut shown = 0;
    let mut failed_any = false;
    for (b, chunk) in records.chunks(o.batch_size.max(1)).enumerate() {
        let mut builder = BatchBuilder::new("sample", chunk.len());
        let base = b * o.batch_size.max(1);
        for (i, (_, line)) in chunk.iter().enumerate() {
            builder.push(None, line.as_bytes(), [], 0, (base + i) as i64, chrono::Utc::now().timestamp_millis());
        }
        let batch = builder.finish();
        let started = Instant::now();
        let (rows, failures) = stage.process_isolated(&batch).map_err(|e| format!("{out}batch {}: {e}", b + 1))?;
        let took = started.elapsed();
        let mut per_output: std::collections::BTreeMap<&str, usize> = Default::default();
        for (_, output, _) in &rows {
            *per_output.entry(output.as_str()).or_default() += 1;
        }
        let rejected = failures.iter().filter(|f| f.kind == "rejected").count();
        let _ = writeln!(
            out,
            "batch {}: {} records -> {} rows {:?}, {} rejected, {} failed, {:.2} ms ({:.0} ns/record)",
            b + 1,
            chunk.len(),
            rows.len(),
            per_output,
            rejected,
            failures.len() - rejected,
            took.as_secs_f64() * 1e3,
            took.as_nanos() as f64 / chunk.len() as f64
        );
        for f in &failures {
            failed_any |= f.kind != "rejected";
            let _ = writeln!(out, "  line {}: {}: {}", chunk[f.input].0, f.kind, f.reason);
        }
        for (input, output, json) in rows {
            let text = String::from_utf8_lossy(&json).into_owned();
            if shown < o.show {
                let _ = writeln!(out, "  line {} -> [{output}] {text}", chunk[input].0);
                shown += 1;
            }
            all_rows.push(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)));
        }
    }
    if records.is_empty() {
        let _ = writeln!(out, "{} has no records (one JSON value per line)", o.input.display());
    }
    if let Some(expect) = &o.expect {
        return compare(out, expect, &all_rows);
    }
    if failed_any { Err(out) } else { Ok(out) }
}

fn compare(mut out: String, expect: &Path, rows: &[serde_json::Value]) -> Result<String, String> {
    let text = std::fs::read_to_string(expect).map_err(|e| format!("{out}cannot read {}: {e}", expect.display()))?;
    let mut expected = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{out}{}:{}: not JSON: {e}", expect.display(), i + 1))?;
        expected.push(v);
    }
    if expected.len() != rows.len() {
        let _ = writeln!(out, "FAIL: {} rows, {} expected in {}", rows.len(), expected.len(), expect.display());
        return Err(out);
    }
    for (i, (got, want)) in rows.iter().zip(&expected).enumerate() {
        if got != want {
            let _ = writeln!(out, "FAIL: row {} differs\n  got      {got}\n  expected {want}", i + 1);
            return Err(out);
        }
    }
    let _ = writeln!(out, "ok: all {} rows match {}", rows.len(), expect.display());
    Ok(out)
}
