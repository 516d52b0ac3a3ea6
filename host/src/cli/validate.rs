//! `finlake validate`: check a pipelines file without running it.

use std::path::PathBuf;

use anyhow::bail;

use finlake::config::Config;

// No doc comment: the `Command` variant carries the help text.
#[derive(clap::Args)]
pub struct ValidateArgs {
    /// The pipelines file.
    #[arg(default_value = "pipelines.toml")]
    file: PathBuf,
}

/// Fails with every problem as `file:line:col: message`; missing plugin files are warnings.
pub async fn run(args: ValidateArgs) -> anyhow::Result<()> {
    let file = args.file;
    let config = Config::load(&file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = std::fs::read_to_string(&file)?;
    let sql_problems = finlake::gold::located_problems(&config, &text, &file.display().to_string()).await;
    if !sql_problems.is_empty() {
        let lines: Vec<String> = sql_problems.iter().map(ToString::to_string).collect();
        bail!("{}", lines.join("\n"));
    }
    let mut missing = Vec::new();
    for p in &config.pipelines {
        for s in &p.stages {
            let path = config.plugin_path(&s.plugin);
            if !path.exists() {
                missing.push(format!(
                    "pipeline {}: plugin file {} not found (run ./xtask/setup.sh to build the plugins)",
                    p.name,
                    path.display()
                ));
            }
        }
    }
    println!(
        "{}: ok — {} pipeline(s), {} table(s), brokers {}",
        file.display(),
        config.pipelines.len(),
        config.tables.len(),
        config.kafka.brokers
    );
    for m in &missing {
        println!("warning: {m}");
    }
    Ok(())
}
