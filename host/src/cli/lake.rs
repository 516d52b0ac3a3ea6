//! `finlake lake optimize|vacuum|checkpoint|maintain [TABLE]`: table maintenance on demand.

use std::path::PathBuf;

use finlake::config::Config;
use finlake::delta::maintenance::Steps;
use finlake::maintenance::Maintenance;
use finlake_api::MaintenanceReport;

#[derive(clap::Subcommand)]
pub enum LakeCommand {
    /// Compact small files (bin-packing per partition, up to [maintenance] target_file_mb).
    /// The rewritten files are marked dataChange=false, so gold and other incremental readers
    /// do not read their rows again.
    Optimize(Target),
    /// Delete files no version within [maintenance] time_travel needs (VACUUM).
    Vacuum(Target),
    /// Write a checkpoint (when [maintenance] checkpoint_every commits followed the last one)
    /// and delete log entries older than the time-travel horizon.
    Checkpoint(Target),
    /// Everything the schedule does: retention (old dead letters, superseded state
    /// snapshots), compaction, vacuum, checkpoint.
    Maintain(Target),
}

#[derive(clap::Args)]
pub struct Target {
    /// A table name (as in SQL); every table of the config when omitted.
    table: Option<String>,
    #[arg(short, long, default_value = "pipelines.toml", env = "FINLAKE_CONFIG")]
    config: PathBuf,
    /// Print each report as a JSON line.
    #[arg(long)]
    json: bool,
}

pub async fn run(command: LakeCommand) -> anyhow::Result<()> {
    let none = Steps { optimize: false, retention: false, vacuum: false, checkpoint: false };
    let (target, steps) = match command {
        LakeCommand::Optimize(t) => (t, Steps { optimize: true, ..none }),
        LakeCommand::Vacuum(t) => (t, Steps { vacuum: true, ..none }),
        LakeCommand::Checkpoint(t) => (t, Steps { checkpoint: true, ..none }),
        LakeCommand::Maintain(t) => (t, Steps::ALL),
    };
    let config = Config::load(&target.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let maintenance = Maintenance::default();
    let reports = match &target.table {
        Some(name) => vec![maintenance.run_table(&config, name, steps).await],
        None => maintenance.run_all(&config, steps).await,
    };
    let mut failed = 0;
    for report in reports {
        match report {
            Ok(r) if target.json => println!("{}", serde_json::to_string(&r)?),
            Ok(r) => print_report(&r),
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} table(s) could not be maintained");
    }
    Ok(())
}

fn print_report(r: &MaintenanceReport) {
    println!(
        "{:<28} files {:>6} -> {:<6} small {:>6} -> {:<6} compacted {:>5} into {:<4} vacuumed {:>5} rows deleted {:>6} checkpoint {:<8} log entries removed {:>5}  {} ms{}",
        r.table,
        r.files_before,
        r.files_after,
        r.small_files_before,
        r.small_files_after,
        r.files_compacted,
        r.files_written,
        r.files_vacuumed,
        r.rows_deleted,
        r.checkpoint.map_or("-".to_string(), |v| format!("v{v}")),
        r.log_entries_removed,
        r.millis,
        r.error.as_deref().map(|e| format!("  ERROR: {e}")).unwrap_or_default()
    );
}
