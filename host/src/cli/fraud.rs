//! `finlake fraud train|eval`.

use std::path::PathBuf;

use anyhow::Context;

use finlake::fraud::{self, StreamSpec};

/// Which record layout a model is for.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// The bank/card transaction stream (per-account features).
    Bank,
    /// The public credit-card data set layout (`Time, V1..V28, Amount, Class`).
    Creditcard,
}

#[derive(clap::Subcommand)]
pub enum FraudCommand {
    /// Train the fraud model on a labelled, seeded simulated bank stream and write it as JSON
    /// (the fraud-score plugin loads it from its config; retraining changes no code).
    Train {
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Transactions to simulate (80 % train, 20 % choose the threshold).
        #[arg(long, default_value_t = 200_000)]
        records: usize,
        /// Simulated time between transactions (the demo stream: 100/s at 1440× = 14400 ms).
        #[arg(long, default_value_t = 14_400)]
        ms_per_record: i64,
        #[arg(long, default_value = "models/fraud-lr.json")]
        out: PathBuf,
        /// `creditcard`: train on the credit-card layout instead (the synthetic sample of
        /// `--records` rows from `--seed`, or `--csv`; real accuracy needs the real file).
        #[arg(long, value_enum, default_value = "bank")]
        layout: Layout,
        /// A CSV in the credit-card layout to train on (with `--layout creditcard`).
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// Evaluate a model on a held-out stream simulated with another seed: ROC-AUC, and
    /// precision, recall and F1 at the model's threshold, as a table.
    Eval {
        #[arg(long, default_value = "models/fraud-lr.json")]
        model: PathBuf,
        #[arg(long, default_value_t = 99)]
        seed: u64,
        #[arg(long, default_value_t = 100_000)]
        records: usize,
        #[arg(long, default_value_t = 14_400)]
        ms_per_record: i64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[arg(long, value_enum, default_value = "bank")]
        layout: Layout,
        /// A CSV in the credit-card layout to evaluate on (with `--layout creditcard`).
        #[arg(long)]
        csv: Option<PathBuf>,
    },
}

pub fn run(command: FraudCommand) -> anyhow::Result<()> {
    match command {
        FraudCommand::Train { seed, records, ms_per_record, out, layout, csv } => {
            let started = std::time::Instant::now();
            let model = if layout == Layout::Creditcard {
                eprintln!(
                    "training the credit-card-layout model on {}…",
                    csv.as_ref().map_or(format!("the synthetic sample ({records} rows, seed {seed})"), |c| c
                        .display()
                        .to_string())
                );
                let data = fraud::creditcard_dataset(csv.as_deref(), seed, records).map_err(anyhow::Error::msg)?;
                fraud::train_creditcard(&data, &format!("cc-lr-seed{seed}-{}k", data.xs.len() / 1000))
            } else {
                eprintln!("simulating {records} labelled transactions (seed {seed}) and training…");
                fraud::train(StreamSpec { seed, records, ms_per_record })
            };
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&out, serde_json::to_string_pretty(&model)? + "\n")
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {} (model {}, threshold {:.4}) in {:.1} s — evaluate: finlake fraud eval --model {}",
                out.display(),
                model.version,
                model.threshold,
                started.elapsed().as_secs_f64(),
                out.display()
            );
        }
        FraudCommand::Eval { model, seed, records, ms_per_record, json, layout, csv } => {
            let text = std::fs::read_to_string(&model)
                .with_context(|| format!("reading {} (train one: finlake fraud train)", model.display()))?;
            let model: fraud_model::Model =
                serde_json::from_str(&text).with_context(|| format!("{} is not a fraud model", model.display()))?;
            let eval = if layout == Layout::Creditcard {
                let data = fraud::creditcard_dataset(csv.as_deref(), seed, records).map_err(anyhow::Error::msg)?;
                fraud::evaluate_dataset(&model, &data, seed)
            } else {
                fraud::evaluate(&model, StreamSpec { seed, records, ms_per_record })
            };
            if json {
                println!("{}", serde_json::to_string(&eval)?);
            } else {
                println!("{eval}");
            }
        }
    }
    Ok(())
}
