//! `finlake run` (every pipeline of the config) and `finlake broker` (an embedded broker alone).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::signal::wait_for_signal;
use finlake::config::Config;
use finlake::kafka::EmbeddedBroker;
use finlake::service::Service;

// No doc comments on these argument structs: the `Command` variants carry the help texts.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The pipelines file.
    #[arg(short, long, default_value = "pipelines.toml", env = "FINLAKE_CONFIG")]
    config: PathBuf,
    /// Use these brokers instead of kafka.brokers (e.g. a `finlake broker` address).
    #[arg(long)]
    brokers: Option<String>,
    /// Write the resolved broker address to this file once it is up (for scripts).
    #[arg(long)]
    brokers_file: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct BrokerArgs {
    /// Topics to create.
    #[arg(short, long, value_delimiter = ',', default_value = "stock-trades")]
    topics: Vec<String>,
    #[arg(short, long, default_value_t = 3)]
    partitions: i32,
    /// Write the bootstrap address to this file once it is up.
    #[arg(long)]
    address_file: Option<PathBuf>,
}

/// `finlake run`: until Ctrl-C or SIGTERM, then flush, commit and exit.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let RunArgs { config, brokers, brokers_file } = args;
    let path = config;
    let config = Config::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Every gold `select` is planned before anything starts, as `finlake validate` does.
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let sql = finlake::gold::located_problems(&config, &text, &path.display().to_string()).await;
    if !sql.is_empty() {
        let lines: Vec<String> = sql.iter().map(ToString::to_string).collect();
        anyhow::bail!("{}", lines.join("\n"));
    }
    // The embedded broker lives on this (main) task: it must outlive every client.
    let mut embedded = None;
    let brokers = match brokers {
        Some(b) => b,
        None if config.kafka.is_embedded() => {
            let broker = EmbeddedBroker::start(&config.kafka.topics, config.kafka.partitions)
                .context("starting the embedded Kafka broker")?;
            let addr = broker.bootstrap_servers();
            embedded = Some(broker);
            println!(
                "embedded Kafka broker on {addr} (topics: {}) — try: kcat -b {addr} -L",
                config.kafka.topics.join(", ")
            );
            addr
        }
        None => config.kafka.brokers.clone(),
    };
    if let Some(f) = &brokers_file {
        std::fs::write(f, &brokers).with_context(|| format!("writing {}", f.display()))?;
    }
    let lake = config.lake.root.clone();
    let dashboard_built = config.api.dashboard.join("index.html").is_file();
    let service = Service::start(config, brokers).await?;
    if let Some(addr) = service.api_addr {
        if dashboard_built {
            println!("dashboard on http://{addr}/");
        } else {
            println!("dashboard not built (./xtask/build-web.sh builds it); http://{addr}/ says so");
        }
        println!(
            "API on http://{addr}/api/pipelines (all of it: /api/openapi.json) — metrics on http://{addr}/metrics"
        );
    }
    println!("lake under {} — Ctrl-C to stop (pipelines flush and commit first)", lake.display());
    wait_for_signal().await;
    println!("stopping: flushing and committing…");
    service.shutdown().await;
    drop(embedded);
    println!("stopped");
    Ok(())
}

/// `finlake broker`: an embedded broker until Ctrl-C or SIGTERM.
pub async fn broker(args: BrokerArgs) -> anyhow::Result<()> {
    let BrokerArgs { topics, partitions, address_file } = args;
    let broker = EmbeddedBroker::start(&topics, partitions).context("starting the embedded Kafka broker")?;
    let addr = broker.bootstrap_servers();
    if let Some(f) = &address_file {
        std::fs::write(f, &addr).with_context(|| format!("writing {}", f.display()))?;
    }
    println!(
        "embedded Kafka broker on {addr} (topics: {}, {partitions} partitions each) — Ctrl-C to stop",
        topics.join(", ")
    );
    wait_for_signal().await;
    drop(broker);
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
