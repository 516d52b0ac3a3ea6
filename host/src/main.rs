//! `finlake`: the command-line entry point.

mod cli;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use finlake::config::Config;
use finlake::kafka::EmbeddedBroker;
use finlake::kafka::producer::{ProduceOptions, create_producer, produce};
use finlake::service::Service;
use finlake::simulate::Kind;

/// FinLake — a real-time financial data platform: Kafka topics → sandboxed Wasm component
/// plugins → Delta Lake tables, exactly once.
///
/// Everything is declared in pipelines.toml: where records come from (Kafka, or an embedded
/// broker), which plugins transform them, which Delta tables receive the rows.
#[derive(Parser)]
#[command(name = "finlake", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Subcommand)]
enum Command {
    /// Run every pipeline of the config until Ctrl-C (then flush and commit, and exit).
    ///
    /// With kafka.brokers = "embedded", an in-process Kafka-protocol broker is started first
    /// and its address printed, so `kcat -b ADDR` can produce to it. The API (health, pipeline
    /// status, Prometheus metrics) listens on api.listen.
    Run {
        /// The pipelines file.
        #[arg(short, long, default_value = "pipelines.toml", env = "FINLAKE_CONFIG")]
        config: PathBuf,
        /// Use these brokers instead of kafka.brokers (e.g. a `finlake broker` address).
        #[arg(long)]
        brokers: Option<String>,
        /// Write the resolved broker address to this file once it is up (for scripts).
        #[arg(long)]
        brokers_file: Option<PathBuf>,
    },
    /// Check a pipelines file and print every problem as file:line:col; exits 1 if any.
    Validate {
        /// The pipelines file.
        #[arg(default_value = "pipelines.toml")]
        file: PathBuf,
    },
    /// Run SQL over the lake (DataFusion over the Delta tables, each by its name).
    ///
    /// Time travel: --version N or --as-of TIME reads every table as it was; a single table is
    /// read back in time by quoting it with @: SELECT count(*) FROM "silver_trades@v3", or
    /// "silver_trades@2026-11-27T10:00:00Z". Examples are in queries/ (pass them with -f).
    Query {
        /// The SQL (or use --file).
        #[arg(required_unless_present = "file")]
        sql: Option<String>,
        /// Read the SQL from this file.
        #[arg(short, long, conflicts_with = "sql")]
        file: Option<PathBuf>,
        #[arg(short, long, default_value = "pipelines.toml", env = "FINLAKE_CONFIG")]
        config: PathBuf,
        /// Read every table at this Delta version.
        #[arg(long, conflicts_with = "as_of")]
        version: Option<u64>,
        /// Read every table as of this time (RFC 3339, or "YYYY-MM-DD HH:MM:SS" in UTC).
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Print at most this many rows.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Skip this many rows first (paging).
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    /// Produce simulated market data to a Kafka topic: stock trades (AAPL TSLA GOOGL MSFT AMZN),
    /// crypto prices (BTC ETH BNB ADA SOL) or bank/card transactions with labelled fraud.
    ///
    /// Keys are the symbol or account, so one stays in one partition. Prices follow random walks.
    Produce {
        /// What to simulate.
        #[arg(short, long, value_enum, default_value_t = Kind::Trades)]
        kind: Kind,
        /// Bootstrap servers (host:port[,host:port]).
        #[arg(short, long)]
        brokers: String,
        #[arg(short, long, default_value = "stock-trades")]
        topic: String,
        /// Records per second.
        #[arg(short, long, default_value_t = 100.0)]
        rate: f64,
        /// Stop after this many records (default: run until Ctrl-C).
        #[arg(short = 'n', long)]
        count: Option<u64>,
        /// Fraction of deliberately malformed records.
        #[arg(long, default_value_t = 0.0)]
        malformed_ratio: f64,
        /// Seed, for a reproducible stream.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Event-time speed-up: 60 makes a simulated minute pass every second.
        #[arg(long, default_value_t = 1.0)]
        clock_speed: f64,
        /// Stop after this many seconds (default: run until the count or Ctrl-C).
        #[arg(long)]
        duration: Option<u64>,
    },
    /// Poll a real market-data API and produce its data to Kafka until Ctrl-C.
    ///
    /// coingecko: BTC ETH BNB ADA SOL prices (no key). alpha-vantage: AAPL TSLA GOOGL MSFT AMZN
    /// quotes turned into aggregated trades; needs ALPHAVANTAGE_API_KEY. Timeouts, HTTP errors,
    /// rate limits and malformed bodies are logged and retried with exponential backoff.
    Fetch {
        #[arg(value_enum)]
        source: FetchSource,
        #[arg(short, long)]
        brokers: String,
        /// Default: crypto-prices for coingecko, stock-trades for alpha-vantage.
        #[arg(short, long)]
        topic: Option<String>,
        /// Seconds between polls (Alpha Vantage's free tier allows ~25 requests a day: 5 per poll).
        #[arg(long, default_value_t = 60)]
        interval: u64,
        /// Override the API address (e.g. a local replay server).
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Replay a CSV in the credit-card fraud data set layout (Time, V1..V28, Amount, Class; the
    /// 284,807-row Kaggle file or a `sample-csv`) into a topic, paced by its Time column.
    ReplayCsv {
        file: PathBuf,
        #[arg(short, long)]
        brokers: String,
        #[arg(short, long, default_value = "bank-transactions")]
        topic: String,
        /// Multiplier of the Time column: 1 = real time, 3600 = an hour per second, 0 = as fast
        /// as possible.
        #[arg(long, default_value_t = 0.0)]
        speed: f64,
    },
    /// Write a synthetic sample in the credit-card fraud layout (about 0.5 % Class 1), for
    /// tests and demos. Real accuracy needs the real file.
    SampleCsv {
        #[arg(long, default_value_t = 2000)]
        rows: usize,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Write, build, try and ship plugins: `finlake plugin new|build|test|inspect|deploy|rollback`.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Dead letters: `finlake dlq list` (pending ones) and `finlake dlq replay` (through the
    /// current plugins of the running host, exactly once).
    #[command(subcommand)]
    Dlq(cli::dlq::DlqCommand),
    /// The fraud model: `finlake fraud train` (seeded, on simulated labelled data) and
    /// `finlake fraud eval` (held-out stream, another seed).
    #[command(subcommand)]
    Fraud(cli::fraud::FraudCommand),
    /// Run only an embedded Kafka-protocol broker (memory only) until Ctrl-C.
    ///
    /// Handy to keep a broker alive while `finlake run` is stopped and restarted.
    Broker {
        /// Topics to create.
        #[arg(short, long, value_delimiter = ',', default_value = "stock-trades")]
        topics: Vec<String>,
        #[arg(short, long, default_value_t = 3)]
        partitions: i32,
        /// Write the bootstrap address to this file once it is up.
        #[arg(long)]
        address_file: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FetchSource {
    Coingecko,
    AlphaVantage,
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Create a ready-to-build plugin folder (source, sample input, expected output, README).
    New {
        /// rust, python, js or c
        #[arg(long)]
        lang: String,
        /// Plugin name (lowercase, digits, '-'); also the folder name and the declared name.
        name: String,
        /// Parent folder.
        #[arg(long, default_value = "plugins")]
        dir: PathBuf,
    },
    /// Build a plugin folder into a Wasm component (language detected from its files).
    Build {
        /// The plugin folder.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Where the component goes, as <folder name>.wasm.
        #[arg(long, default_value = "plugins/dist")]
        out_dir: PathBuf,
    },
    /// Run a plugin over sample records through the real host runtime (no Kafka, no Delta) and
    /// print its rows, rejections and time per batch.
    Test {
        /// A plugin name (looked up as <plugins-dir>/<name>.wasm) or a .wasm file.
        plugin: String,
        /// JSON Lines: one record value per line.
        #[arg(short, long)]
        input: PathBuf,
        /// The plugin's config as JSON.
        #[arg(long, default_value = "{}")]
        config: String,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Rows to print.
        #[arg(long, default_value_t = 10)]
        show: usize,
        /// Expected rows (JSON Lines, in order): exit 1 if the output differs.
        #[arg(long)]
        expect: Option<PathBuf>,
        #[arg(long, default_value = "plugins/dist")]
        plugins_dir: PathBuf,
        /// Time limit per call.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
        /// Memory limit per instance.
        #[arg(long, default_value_t = 256)]
        memory_mb: u64,
        #[arg(long, default_value = ".finlake/cache")]
        cache_dir: PathBuf,
    },
    /// Show a component's imports, exports, size and hash, and whether the host accepts it.
    Inspect {
        file: PathBuf,
        #[arg(long, default_value = ".finlake/cache")]
        cache_dir: PathBuf,
    },
    /// Hot-swap a plugin in the running `finlake run`: compiled and tried on live input first,
    /// then swapped at a batch boundary in every stage that uses it (refused with the reason if
    /// it does not load, has another name, fails init or fails the sample).
    Deploy {
        /// The plugin name (as in pipelines.toml).
        name: String,
        /// The component file.
        file: PathBuf,
        #[command(flatten)]
        remote: cli::remote::Remote,
    },
    /// Make an earlier version of a plugin live again in the running `finlake run`.
    Rollback {
        name: String,
        /// A kept version (its version string or sha256 prefix); default: the previous one.
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        remote: cli::remote::Remote,
    },
}

/// The local plugin subcommands (deploy and rollback talk to the running host, see `main`).
fn plugin_command(command: PluginCommand) -> anyhow::Result<()> {
    use finlake::toolkit;
    match command {
        PluginCommand::Deploy { .. } | PluginCommand::Rollback { .. } => {
            bail!("deploy and rollback are sent to the running host")
        }
        PluginCommand::New { lang, name, dir } => {
            let lang = toolkit::build::Lang::parse(&lang)
                .ok_or_else(|| anyhow::anyhow!("--lang {lang:?}: use rust, python, js or c"))?;
            let created = toolkit::new::create(lang, &name, &dir).map_err(anyhow::Error::msg)?;
            println!("created {} — next: finlake plugin build {}", created.display(), created.display());
        }
        PluginCommand::Build { path, out_dir } => {
            let out = toolkit::build::build(&path, &out_dir).map_err(anyhow::Error::msg)?;
            println!("built {}", out.display());
        }
        PluginCommand::Test {
            plugin,
            input,
            config,
            batch,
            show,
            expect,
            plugins_dir,
            timeout_ms,
            memory_mb,
            cache_dir,
        } => {
            let file = if plugin.ends_with(".wasm") || std::path::Path::new(&plugin).is_file() {
                PathBuf::from(&plugin)
            } else {
                plugins_dir.join(format!("{plugin}.wasm"))
            };
            let options = toolkit::trial::TrialOptions {
                plugin: file,
                input,
                config,
                batch_size: batch,
                limits: finlake::plugin::Limits {
                    timeout: Duration::from_millis(timeout_ms),
                    memory_bytes: (memory_mb as usize) << 20,
                },
                show,
                expect,
                cache_dir,
            };
            match toolkit::trial::run(&options) {
                Ok(report) => print!("{report}"),
                Err(report) => {
                    print!("{report}");
                    bail!("plugin test failed");
                }
            }
        }
        PluginCommand::Inspect { file, cache_dir } => match toolkit::inspect(&file, &cache_dir) {
            Ok(report) => print!("{report}"),
            Err(report) => {
                print!("{report}");
                bail!("the host would not accept {}", file.display());
            }
        },
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run { config, brokers, brokers_file } => run(config, brokers, brokers_file).await,
            Command::Validate { file } => validate(&file).await,
            Command::Query { sql, file, config, version, as_of, format, limit, offset } => {
                let sql = match (sql, file) {
                    (Some(sql), _) => sql,
                    (None, Some(f)) => {
                        std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?
                    }
                    (None, None) => bail!("give the SQL, or --file"),
                };
                query_cmd(&config, &sql, version, as_of, format, limit, offset).await
            }
            Command::Produce { kind, brokers, topic, rate, count, malformed_ratio, seed, clock_speed, duration } => {
                let options = ProduceOptions { kind, topic, rate, count, malformed_ratio, seed, clock_speed };
                produce_cmd(brokers, options, duration.map(Duration::from_secs)).await
            }
            Command::Broker { topics, partitions, address_file } => broker(topics, partitions, address_file).await,
            Command::Fetch { source, brokers, topic, interval, base_url } => {
                fetch_cmd(source, brokers, topic, interval, base_url).await
            }
            Command::ReplayCsv { file, brokers, topic, speed } => replay_csv_cmd(file, brokers, topic, speed).await,
            Command::SampleCsv { rows, out, seed } => {
                let mut f = std::io::BufWriter::new(
                    std::fs::File::create(&out).with_context(|| format!("creating {}", out.display()))?,
                );
                let frauds = finlake::simulate::creditcard::write_sample(&mut f, rows, seed)?;
                std::io::Write::flush(&mut f)?;
                println!("wrote {rows} rows ({frauds} with Class 1) to {}", out.display());
                Ok(())
            }
            Command::Plugin(PluginCommand::Deploy { name, file, remote }) => {
                cli::remote::deploy(&remote, &name, &file).await
            }
            Command::Plugin(PluginCommand::Rollback { name, to, remote }) => {
                cli::remote::rollback(&remote, &name, to.as_deref()).await
            }
            Command::Plugin(command) => tokio::task::block_in_place(|| plugin_command(command)),
            Command::Dlq(command) => cli::dlq::run(command).await,
            Command::Fraud(command) => tokio::task::block_in_place(|| cli::fraud::run(command)),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("FINLAKE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,finlake=info,deltalake_core::writer::stats=error"));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).init();
}

async fn validate(file: &std::path::Path) -> anyhow::Result<()> {
    let config = Config::load(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let sql_problems = finlake::gold::check(&config).await;
    if !sql_problems.is_empty() {
        use finlake::config::{Located, Step};
        let text = std::fs::read_to_string(file)?;
        let doc = Located::new(&text);
        let lines: Vec<String> = sql_problems
            .iter()
            .map(|p| {
                let mut path = vec![Step::Key("gold"), Step::Index(p.gold), Step::Key("select")];
                path.extend(p.select.map(Step::Index));
                let (line, col) = doc.position(&path);
                format!("{}:{line}:{col}: {}", file.display(), p.message)
            })
            .collect();
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

async fn query_cmd(
    config: &std::path::Path,
    sql: &str,
    version: Option<u64>,
    as_of: Option<String>,
    format: Format,
    limit: usize,
    offset: usize,
) -> anyhow::Result<()> {
    use finlake::query::{self, QueryOptions, format as fmt};
    let config = Config::load(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let as_of = as_of.as_deref().map(query::parse_timestamp).transpose()?;
    let options = QueryOptions { version, as_of, limit, offset, ..QueryOptions::default() };
    let catalog = finlake::lake::catalog(&config);
    let out = query::run(&catalog, &config.lake.root, sql, &options).await?;
    match format {
        Format::Table => println!("{}", fmt::table(&out.batches)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&fmt::json_rows(&out.batches))?),
        Format::Csv => print!("{}", fmt::csv(&out.schema, &out.batches)),
    }
    let versions: Vec<String> = out.versions.iter().map(|(t, v)| format!("{t} v{v}")).collect();
    eprintln!(
        "{} row(s) in {} ms ({}){}",
        out.rows,
        out.elapsed.as_millis(),
        versions.join(", "),
        if out.has_more { format!("; more rows follow: --offset {}", offset + out.rows) } else { String::new() }
    );
    Ok(())
}

/// A receiver that turns true on Ctrl-C or SIGTERM (for commands that stop cleanly).
fn stop_on_signal() -> watch::Receiver<bool> {
    stop_on_signal_or_after(None)
}

/// Like [`stop_on_signal`], and also once `after` has passed.
fn stop_on_signal_or_after(after: Option<Duration>) -> watch::Receiver<bool> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        let deadline = async {
            match after {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = wait_for_signal() => {}
            _ = deadline => {}
        }
        let _ = stop_tx.send(true);
    });
    stop_rx
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn run(config_path: PathBuf, brokers: Option<String>, brokers_file: Option<PathBuf>) -> anyhow::Result<()> {
    let config = Config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
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
    let service = Service::start(config, brokers).await?;
    if let Some(addr) = service.api_addr {
        println!("API on http://{addr}/api/pipelines — metrics on http://{addr}/metrics");
    }
    println!("lake under {} — Ctrl-C to stop (pipelines flush and commit first)", lake.display());
    wait_for_signal().await;
    println!("stopping: flushing and committing…");
    service.shutdown().await;
    drop(embedded);
    println!("stopped");
    Ok(())
}

async fn produce_cmd(brokers: String, options: ProduceOptions, duration: Option<Duration>) -> anyhow::Result<()> {
    if options.rate.is_nan() || options.rate <= 0.0 {
        bail!("--rate must be positive");
    }
    if !(options.clock_speed > 0.0 && options.clock_speed <= 1_000_000.0) {
        bail!("--clock-speed must be in (0, 1000000]");
    }
    let producer = create_producer(&brokers, &Default::default())?;
    let stop_rx = stop_on_signal_or_after(duration);
    let started = std::time::Instant::now();
    let total = options.count;
    let sent = produce(&producer, &options, stop_rx, |n| {
        let secs = started.elapsed().as_secs_f64().max(0.001);
        match total {
            Some(t) => eprint!("\rproduced {n}/{t} ({:.0}/s)   ", n as f64 / secs),
            None => eprint!("\rproduced {n} ({:.0}/s)   ", n as f64 / secs),
        }
    })
    .await?;
    eprintln!();
    println!("produced {sent} records to {} in {:.1}s", options.topic, started.elapsed().as_secs_f64());
    Ok(())
}

async fn fetch_cmd(
    source: FetchSource,
    brokers: String,
    topic: Option<String>,
    interval: u64,
    base_url: Option<String>,
) -> anyhow::Result<()> {
    use finlake::sources::{alpha_vantage::AlphaVantage, coingecko::CoinGecko, run};
    if interval == 0 {
        bail!("--interval must be at least 1 second");
    }
    let producer = create_producer(&brokers, &Default::default())?;
    let stop_rx = stop_on_signal();
    let (every, timeout) = (Duration::from_secs(interval), Duration::from_secs(20));
    let sent = match source {
        FetchSource::Coingecko => {
            let topic = topic.unwrap_or_else(|| "crypto-prices".into());
            let base = base_url.unwrap_or_else(|| "https://api.coingecko.com".into());
            println!("polling {base} every {interval}s into {topic} — Ctrl-C to stop");
            run(CoinGecko::new(&base, timeout), &producer, &topic, every, stop_rx).await
        }
        FetchSource::AlphaVantage => {
            let key = std::env::var("ALPHAVANTAGE_API_KEY")
                .context("ALPHAVANTAGE_API_KEY is not set (get a free key at alphavantage.co)")?;
            let topic = topic.unwrap_or_else(|| "stock-trades".into());
            let base = base_url.unwrap_or_else(|| "https://www.alphavantage.co".into());
            println!("polling {base} every {interval}s into {topic} — Ctrl-C to stop");
            run(AlphaVantage::new(&base, &key, timeout), &producer, &topic, every, stop_rx).await
        }
    };
    println!("stopped after producing {sent} records");
    Ok(())
}

async fn replay_csv_cmd(file: PathBuf, brokers: String, topic: String, speed: f64) -> anyhow::Result<()> {
    if speed.is_nan() || speed < 0.0 {
        bail!("--speed must be 0 (as fast as possible) or positive");
    }
    let reader =
        std::io::BufReader::new(std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?);
    let producer = create_producer(&brokers, &Default::default())?;
    let stop_rx = stop_on_signal();
    let started = std::time::Instant::now();
    let rows = finlake::simulate::creditcard::read_rows(reader);
    let sent = finlake::kafka::producer::replay_csv(&producer, rows, &topic, speed, stop_rx, |n| {
        eprint!("\rreplayed {n} rows ({:.0}/s)   ", n as f64 / started.elapsed().as_secs_f64().max(0.001));
    })
    .await
    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    eprintln!();
    println!("replayed {sent} rows of {} to {topic} in {:.1}s", file.display(), started.elapsed().as_secs_f64());
    Ok(())
}

async fn broker(topics: Vec<String>, partitions: i32, address_file: Option<PathBuf>) -> anyhow::Result<()> {
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
