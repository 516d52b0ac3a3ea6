//! Fraud scoring with a trained model and per-account history.
//!
//! Input: a transaction as `txn-screen` forwards it for scoring (no label):
//! `{"txn_id", "account", "amount", "amount_usd", "merchant_category", "country", "lat", "lon", "ts"}`.
//! Output `scored`: the transaction with `score` (probability of fraud), `model_version`,
//! `reasons` (the features that raised the score most) and `alert`; output `alerts`: the same
//! for scores at or above the model's threshold (or config `threshold`).
//!
//! Config: `{"model": {...}}` — the model file written by `finlake fraud train`; the stage sets
//! `config_files = { model = "models/fraud-lr.json" }` and the host inlines it, so retraining
//! changes no code. The per-account history is the plugin's state: the host snapshots it with
//! every commit and restores it after a restart or a swap to a new version.
use std::borrow::Cow;

use finlake_plugin_sdk::{Config, Emitter, JsonRow, Plugin, Record, export_plugin};
use fraud_model::{FeatureState, Model, Top, TxnRef};

struct FraudScore {
    model: Model,
    threshold: f64,
    state: FeatureState,
    /// `"bank"` (default): transactions with per-account history; `"creditcard"`: rows of the
    /// public credit-card data set layout (`finlake replay-csv`), scored without history.
    creditcard: bool,
    /// The row being built and its reasons (kept to reuse their allocations).
    row: Vec<u8>,
    reasons: String,
}

/// A row as `finlake replay-csv` sends it (its `class` label is not read).
#[derive(serde::Deserialize)]
struct CardRow {
    row: u64,
    v: Vec<f64>,
    amount: f64,
}

/// A transaction for scoring, its text borrowed from the record (copied only where the JSON
/// escapes it). Fields listed one by one: `#[serde(flatten)]` would buffer every field first.
#[derive(serde::Deserialize)]
struct Input<'a> {
    #[serde(borrow)]
    txn_id: Cow<'a, str>,
    #[serde(borrow)]
    account: Cow<'a, str>,
    amount: f64,
    #[serde(borrow)]
    merchant_category: Cow<'a, str>,
    lat: f64,
    lon: f64,
    ts: i64,
    amount_usd: Option<f64>,
    #[serde(borrow)]
    country: Option<Cow<'a, str>>,
}

/// The `reasons` column into `out`: the names of the top features, joined by commas. Built as
/// text and written as one field: through `fmt::Display` it cost a call per piece.
fn reasons<const K: usize>(out: &mut String, names: &[String], top: &Top<K>) {
    out.clear();
    for (i, (j, _)) in top.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&names[j]);
    }
    // Test variant (xtask/build-plugins.sh): `FRAUD_SCORE_VARIANT=tagged` adds a reason, so
    // a shadow run shows every row changed, with the history each version scored with.
    if option_env!("FRAUD_SCORE_VARIANT") == Some("tagged") {
        out.push_str(if top.is_empty() { "shadow" } else { ",shadow" });
    }
}

impl Plugin for FraudScore {
    const NAME: &'static str = "fraud-score";
    // `FRAUD_SCORE_VERSION` at build time gives a second version for swap tests.
    const VERSION: &'static str = match option_env!("FRAUD_SCORE_VERSION") {
        Some(v) => v,
        None => env!("CARGO_PKG_VERSION"),
    };

    fn new(config: Config) -> Result<Self, String> {
        let model = config
            .get("model")
            .ok_or("config has no model (set config_files = { model = \"models/fraud-lr.json\" })")?;
        let model: Model =
            serde_json::from_value(model.clone()).map_err(|e| format!("the model is not a fraud model: {e}"))?;
        let creditcard = match config.get("layout").and_then(|v| v.as_str()).unwrap_or("bank") {
            "bank" => false,
            "creditcard" => true,
            other => return Err(format!("layout {other:?}: use \"bank\" or \"creditcard\"")),
        };
        let expected: &[&str] = if creditcard { &fraud_model::CREDITCARD_FEATURES } else { &fraud_model::FEATURES };
        if model.weights.len() != expected.len()
            || model.features.iter().map(String::as_str).ne(expected.iter().copied())
        {
            return Err(format!(
                "model {} was trained on features {:?}; this layout computes {:?}",
                model.version, model.features, expected
            ));
        }
        let threshold = config.get("threshold").and_then(|v| v.as_f64()).unwrap_or(model.threshold);
        Ok(FraudScore {
            model,
            threshold,
            state: FeatureState::default(),
            creditcard,
            row: Vec::new(),
            reasons: String::new(),
        })
    }

    fn process(&mut self, record: &Record<'_>, out: &mut Emitter) -> Result<(), String> {
        // One serialization per row into a buffer kept across calls, copied to each output.
        let mut row = std::mem::take(&mut self.row);
        row.clear();
        let alert = if self.creditcard {
            let card: CardRow =
                serde_json::from_slice(record.value).map_err(|e| format!("not a credit-card row: {e}"))?;
            let x = fraud_model::creditcard_features(&card.v, card.amount)?;
            let (score, top) = self.model.explain::<3>(&x);
            let alert = score >= self.threshold;
            let mut w = JsonRow::begin(&mut row);
            w.u64("row", card.row)
                .f64("amount", card.amount)
                .f64("score", (score * 1e6).round() / 1e6)
                .bool("alert", alert)
                .str("reasons", {
                    reasons(&mut self.reasons, &self.model.features, &top);
                    &self.reasons
                })
                .str("model_version", &self.model.version);
            w.end();
            alert
        } else {
            // The value is checked to be UTF-8 once, whole: parsed from bytes, serde_json would
            // check each string and key on its own (a call per field, dear in Wasm).
            let input: Input<'_> =
                serde_json::from_str(record.value_str()?).map_err(|e| format!("not a transaction for scoring: {e}"))?;
            let (x, history_len) = self.state.observe_counted(TxnRef {
                account: &input.account,
                amount: input.amount,
                merchant_category: &input.merchant_category,
                lat: input.lat,
                lon: input.lon,
                ts: input.ts,
            });
            let (score, top) = self.model.explain::<3>(&x);
            let alert = score >= self.threshold;
            // Written field by field (JsonRow): the same JSON as a derived Serialize struct,
            // at a third of the cost — serialising was a third of the time per transaction.
            let mut w = JsonRow::begin(&mut row);
            w.str("txn_id", &input.txn_id)
                .str("account", &input.account)
                .f64("amount", input.amount)
                .opt_f64("amount_usd", input.amount_usd)
                .str("merchant_category", &input.merchant_category)
                .opt_str("country", input.country.as_deref())
                .f64("score", (score * 1e6).round() / 1e6)
                .bool("alert", alert)
                .str("reasons", {
                    reasons(&mut self.reasons, &self.model.features, &top);
                    &self.reasons
                })
                .str("model_version", &self.model.version)
                .u64("history_len", history_len)
                .i64("event_time", input.ts);
            w.end();
            alert
        };
        if alert {
            out.emit_json("alerts", &row);
        }
        out.emit_json("scored", &row);
        self.row = row;
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(&self.state).unwrap_or_default()
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), String> {
        self.state = serde_json::from_slice(snapshot).map_err(|e| format!("snapshot is not fraud-score state: {e}"))?;
        Ok(())
    }
}

export_plugin!(FraudScore);
