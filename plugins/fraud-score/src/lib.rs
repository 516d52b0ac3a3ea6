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
use finlake_plugin_sdk::{Config, Emitter, Plugin, Record, export_plugin};
use fraud_model::{FeatureState, Model, Txn};

struct FraudScore {
    model: Model,
    threshold: f64,
    state: FeatureState,
    /// `"bank"` (default): transactions with per-account history; `"creditcard"`: rows of the
    /// public credit-card data set layout (`finlake replay-csv`), scored without history.
    creditcard: bool,
}

/// A row as `finlake replay-csv` sends it (its `class` label is not read).
#[derive(serde::Deserialize)]
struct CardRow {
    row: u64,
    v: Vec<f64>,
    amount: f64,
}

#[derive(serde::Deserialize)]
struct Input {
    txn_id: String,
    #[serde(flatten)]
    txn: Txn,
    amount_usd: Option<f64>,
    country: Option<String>,
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
        Ok(FraudScore { model, threshold, state: FeatureState::default(), creditcard })
    }

    fn process(&mut self, record: &Record<'_>, out: &mut Emitter) -> Result<(), String> {
        if self.creditcard {
            let row: CardRow =
                serde_json::from_slice(record.value).map_err(|e| format!("not a credit-card row: {e}"))?;
            let x = fraud_model::creditcard_features(&row.v, row.amount)?;
            let score = self.model.score(&x);
            let mut reasons: Vec<String> = self.model.reasons(&x, 3).into_iter().map(|(name, _)| name).collect();
            // Test variant (xtask/build-plugins.sh): `FRAUD_SCORE_VARIANT=tagged` adds a reason, so
            // a shadow run shows every row changed, with the history each version scored with.
            if option_env!("FRAUD_SCORE_VARIANT") == Some("tagged") {
                reasons.push("shadow".into());
            }
            let alert = score >= self.threshold;
            let out_row = serde_json::json!({
                "row": row.row,
                "amount": row.amount,
                "score": (score * 1e6).round() / 1e6,
                "alert": alert,
                "reasons": reasons.join(","),
                "model_version": self.model.version,
            });
            if alert {
                out.emit("alerts", &out_row);
            }
            out.emit("scored", &out_row);
            return Ok(());
        }
        let input: Input =
            serde_json::from_slice(record.value).map_err(|e| format!("not a transaction for scoring: {e}"))?;
        let x = self.state.observe(&input.txn);
        let score = self.model.score(&x);
        let mut reasons: Vec<String> = self.model.reasons(&x, 3).into_iter().map(|(name, _)| name).collect();
        // Test variant (xtask/build-plugins.sh): `FRAUD_SCORE_VARIANT=tagged` adds a reason, so
        // a shadow run shows every row changed, with the history each version scored with.
        if option_env!("FRAUD_SCORE_VARIANT") == Some("tagged") {
            reasons.push("shadow".into());
        }
        let alert = score >= self.threshold;
        let row = serde_json::json!({
            "txn_id": input.txn_id,
            "account": input.txn.account,
            "amount": input.txn.amount,
            "amount_usd": input.amount_usd,
            "merchant_category": input.txn.merchant_category,
            "country": input.country,
            "score": (score * 1e6).round() / 1e6,
            "alert": alert,
            "reasons": reasons.join(","),
            "model_version": self.model.version,
            "history_len": x[fraud_model::HISTORY_LEN].exp_m1().round() as i64,
            "event_time": input.txn.ts,
        });
        if alert {
            out.emit("alerts", &row);
        }
        out.emit("scored", &row);
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
