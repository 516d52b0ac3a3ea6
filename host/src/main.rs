//! `finlake`: the command-line entry point. It parses the command line and hands each
//! subcommand to its module under `cli/`.

mod cli;

use clap::{Parser, Subcommand};

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

#[derive(Subcommand)]
enum Command {
    /// Run every pipeline of the config until Ctrl-C (then flush and commit, and exit).
    ///
    /// With kafka.brokers = "embedded", an in-process Kafka-protocol broker is started first
    /// and its address printed, so `kcat -b ADDR` can produce to it. The API (health, pipeline
    /// status, Prometheus metrics) listens on api.listen.
    Run(cli::run::RunArgs),
    /// Check a pipelines file and print every problem as file:line:col; exits 1 if any.
    Validate(cli::validate::ValidateArgs),
    /// Run SQL over the lake (DataFusion over the Delta tables, each by its name).
    ///
    /// Time travel: --version N or --as-of TIME reads every table as it was; a single table is
    /// read back in time by quoting it with @: SELECT count(*) FROM "silver_trades@v3", or
    /// "silver_trades@2026-11-27T10:00:00Z". Examples are in queries/ (pass them with -f).
    Query(cli::query::QueryArgs),
    /// Produce simulated market data to a Kafka topic: stock trades (AAPL TSLA GOOGL MSFT AMZN),
    /// crypto prices (BTC ETH BNB ADA SOL) or bank/card transactions with labelled fraud.
    ///
    /// Keys are the symbol or account, so one stays in one partition. Prices follow random walks.
    Produce(cli::produce::ProduceArgs),
    /// Poll a real market-data API and produce its data to Kafka until Ctrl-C.
    ///
    /// coingecko: BTC ETH BNB ADA SOL prices (no key). alpha-vantage: AAPL TSLA GOOGL MSFT AMZN
    /// quotes turned into aggregated trades; needs ALPHAVANTAGE_API_KEY. Timeouts, HTTP errors,
    /// rate limits and malformed bodies are logged and retried with exponential backoff.
    Fetch(cli::produce::FetchArgs),
    /// Replay a CSV in the credit-card fraud data set layout (Time, V1..V28, Amount, Class; the
    /// 284,807-row Kaggle file or a `sample-csv`) into a topic, paced by its Time column.
    ReplayCsv(cli::produce::ReplayCsvArgs),
    /// Write a synthetic sample in the credit-card fraud layout (about 0.5 % Class 1), for
    /// tests and demos. Real accuracy needs the real file.
    SampleCsv(cli::produce::SampleCsvArgs),
    /// Write, build, try and ship plugins: `finlake plugin new|build|test|inspect|deploy|rollback`.
    #[command(subcommand)]
    Plugin(cli::plugin::PluginCommand),
    /// Dead letters: `finlake dlq list` (pending ones) and `finlake dlq replay` (through the
    /// current plugins of the running host, exactly once).
    #[command(subcommand)]
    Dlq(cli::dlq::DlqCommand),
    /// The fraud model: `finlake fraud train` (seeded, on simulated labelled data) and
    /// `finlake fraud eval` (held-out stream, another seed).
    #[command(subcommand)]
    Fraud(cli::fraud::FraudCommand),
    /// Table maintenance on demand: `finlake lake optimize|vacuum|checkpoint|maintain [TABLE]`.
    ///
    /// `finlake run` does the same on a schedule ([maintenance] in pipelines.toml); running
    /// it by hand while `finlake run` writes is safe (Delta resolves the two writers' commits).
    #[command(subcommand)]
    Lake(cli::lake::LakeCommand),
    /// Run only an embedded Kafka-protocol broker (memory only) until Ctrl-C.
    ///
    /// Handy to keep a broker alive while `finlake run` is stopped and restarted.
    Broker(cli::run::BrokerArgs),
}

fn main() -> std::process::ExitCode {
    finlake::allocator::tune();
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
            Command::Run(args) => cli::run::run(args).await,
            Command::Validate(args) => cli::validate::run(args).await,
            Command::Query(args) => cli::query::run(args).await,
            Command::Produce(args) => cli::produce::produce(args).await,
            Command::Fetch(args) => cli::produce::fetch(args).await,
            Command::ReplayCsv(args) => cli::produce::replay_csv(args).await,
            Command::SampleCsv(args) => cli::produce::sample_csv(args),
            Command::Plugin(command) => cli::plugin::run(command).await,
            Command::Dlq(command) => cli::dlq::run(command).await,
            Command::Fraud(command) => tokio::task::block_in_place(|| cli::fraud::run(command)),
            Command::Lake(command) => cli::lake::run(command).await,
            Command::Broker(args) => cli::run::broker(args).await,
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
