//! Putting records into Kafka: `finlake produce` (simulated), `finlake fetch` (a real market-data
//! API), `finlake replay-csv` (the credit-card fraud layout); and `finlake sample-csv`, which
//! writes a file in that layout.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::signal::{stop_on_signal, stop_on_signal_or_after};
use finlake::kafka;
use finlake::kafka::producer::{ProduceOptions, create_producer};
use finlake::simulate::{Kind, creditcard};

// No doc comments on these argument structs: the `Command` variants carry the help texts.
#[derive(clap::Args)]
pub struct ProduceArgs {
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
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FetchSource {
    Coingecko,
    AlphaVantage,
}

#[derive(clap::Args)]
pub struct FetchArgs {
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
}

#[derive(clap::Args)]
pub struct ReplayCsvArgs {
    file: PathBuf,
    #[arg(short, long)]
    brokers: String,
    #[arg(short, long, default_value = "bank-transactions")]
    topic: String,
    /// Multiplier of the Time column: 1 = real time, 3600 = an hour per second, 0 = as fast
    /// as possible.
    #[arg(long, default_value_t = 0.0)]
    speed: f64,
}

#[derive(clap::Args)]
pub struct SampleCsvArgs {
    #[arg(long, default_value_t = 2000)]
    rows: usize,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// `finlake produce`: simulated records until the count, the duration or Ctrl-C.
pub async fn produce(args: ProduceArgs) -> anyhow::Result<()> {
    let ProduceArgs { kind, brokers, topic, rate, count, malformed_ratio, seed, clock_speed, duration } = args;
    let options = ProduceOptions { kind, topic, rate, count, malformed_ratio, seed, clock_speed };
    if options.rate.is_nan() || options.rate <= 0.0 {
        bail!("--rate must be positive");
    }
    if !(options.clock_speed > 0.0 && options.clock_speed <= 1_000_000.0) {
        bail!("--clock-speed must be in (0, 1000000]");
    }
    let producer = create_producer(&brokers, &Default::default())?;
    let stop_rx = stop_on_signal_or_after(duration.map(Duration::from_secs));
    let started = Instant::now();
    let total = options.count;
    let sent = kafka::producer::produce(&producer, &options, stop_rx, |n| {
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

/// `finlake fetch`: polls a market-data API into a topic until Ctrl-C.
pub async fn fetch(args: FetchArgs) -> anyhow::Result<()> {
    use finlake::sources::{alpha_vantage::AlphaVantage, coingecko::CoinGecko, run};
    let FetchArgs { source, brokers, topic, interval, base_url } = args;
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

/// `finlake replay-csv`: the rows of a credit-card-layout CSV, paced by its Time column.
pub async fn replay_csv(args: ReplayCsvArgs) -> anyhow::Result<()> {
    let ReplayCsvArgs { file, brokers, topic, speed } = args;
    if speed.is_nan() || speed < 0.0 {
        bail!("--speed must be 0 (as fast as possible) or positive");
    }
    let reader =
        std::io::BufReader::new(std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?);
    let producer = create_producer(&brokers, &Default::default())?;
    let stop_rx = stop_on_signal();
    let started = Instant::now();
    let rows = creditcard::read_rows(reader);
    let sent = kafka::producer::replay_csv(&producer, rows, &topic, speed, stop_rx, |n| {
        eprint!("\rreplayed {n} rows ({:.0}/s)   ", n as f64 / started.elapsed().as_secs_f64().max(0.001));
    })
    .await
    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    eprintln!();
    println!("replayed {sent} rows of {} to {topic} in {:.1}s", file.display(), started.elapsed().as_secs_f64());
    Ok(())
}

/// `finlake sample-csv`: a synthetic file in the credit-card fraud layout.
pub fn sample_csv(args: SampleCsvArgs) -> anyhow::Result<()> {
    let SampleCsvArgs { rows, out, seed } = args;
    let mut f =
        std::io::BufWriter::new(std::fs::File::create(&out).with_context(|| format!("creating {}", out.display()))?);
    let frauds = creditcard::write_sample(&mut f, rows, seed)?;
    std::io::Write::flush(&mut f)?;
    println!("wrote {rows} rows ({frauds} with Class 1) to {}", out.display());
    Ok(())
}
