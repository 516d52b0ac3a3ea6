//! `finlake dlq list|replay`.

use std::path::PathBuf;

use anyhow::Context;

use super::remote::Remote;
use finlake::config::Config;
use finlake::dlq;
use finlake_api::DeadLetterQuery;

#[derive(clap::Subcommand)]
pub enum DlqCommand {
    /// List dead letters still pending (not yet replayed), oldest first; reads the lake
    /// directly, so it works whether or not `finlake run` is running.
    List {
        #[arg(short, long, default_value = "pipelines.toml", env = "FINLAKE_CONFIG")]
        config: PathBuf,
        #[arg(long)]
        pipeline: Option<String>,
        /// A time (2026-11-27T10:00:00Z) or a duration back from now (30m, 2h).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        stage: Option<String>,
        /// Every row: replayed letters and replay markers too.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send pending dead letters back through the current plugin versions of the running
    /// `finlake run`, exactly once: each is marked replayed in the same commit that records
    /// any new failure, and a replayed letter is never replayed again.
    Replay {
        #[arg(long)]
        pipeline: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        stage: Option<String>,
        /// Replay at most this many.
        #[arg(long)]
        limit: Option<u64>,
        #[command(flatten)]
        remote: Remote,
    },
}

pub async fn run(command: DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::List { config, pipeline, since, stage, all, limit, json } => {
            let config = Config::load(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
            let since_ms = since.as_deref().map(dlq::parse_since).transpose().map_err(anyhow::Error::msg)?;
            let filter = dlq::Filter { pipeline: pipeline.clone(), since_ms, stage, limit: Some(limit) };
            let tables = dlq::tables(&config, pipeline.as_deref());
            let mut rows = Vec::new();
            for t in &tables {
                let all_rows = dlq::read(&config.lake.root, t).await.with_context(|| format!("reading {t}"))?;
                if all {
                    rows.extend(all_rows.into_iter().filter(|r| pipeline.as_ref().is_none_or(|p| &r.pipeline == p)));
                } else {
                    rows.extend(dlq::pending(&all_rows, &filter));
                }
            }
            rows.truncate(limit);
            if json {
                for r in &rows {
                    println!("{}", serde_json::to_string(r)?);
                }
                return Ok(());
            }
            println!(
                "{:<24} {:<18} {:<16} {:<10} {:>4} {:>9}  reason",
                "failed at", "pipeline", "stage", "kind", "part", "offset"
            );
            for r in &rows {
                let at = chrono::DateTime::from_timestamp_millis(r.failed_at_ms)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                    .unwrap_or_default();
                let mut reason = r.reason.replace('\n', " ");
                if reason.chars().count() > 80 {
                    reason = reason.chars().take(79).collect::<String>() + "…";
                }
                println!(
                    "{at:<24} {:<18} {:<16} {:<10} {:>4} {:>9}  {reason}",
                    r.pipeline, r.stage, r.error_kind, r.partition, r.offset
                );
            }
            println!("{} dead letter(s){}", rows.len(), if all { "" } else { " pending — replay: finlake dlq replay" });
        }
        DlqCommand::Replay { pipeline, since, stage, limit, remote } => {
            let query = DeadLetterQuery { pipeline, since, stage, limit, ..DeadLetterQuery::default() };
            for r in remote.replay_dead_letters(&query).await? {
                if r.replayed == 0 {
                    println!("{}: nothing pending", r.pipeline);
                    continue;
                }
                println!(
                    "{}: replay {} — {} replayed, {} succeeded ({} row(s) written), {} failed again",
                    r.pipeline, r.replay, r.replayed, r.succeeded, r.rows_written, r.failed_again
                );
                for s in &r.skipped {
                    println!("  left pending: {s}");
                }
            }
        }
    }
    Ok(())
}
