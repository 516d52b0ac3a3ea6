//! Fraud features per transaction and a logistic-regression model over them.
//!
//! One crate, two users: the `fraud-score` plugin (compiled to Wasm) scores a stream with it,
//! and the host's `finlake fraud train|eval` trains and evaluates with it. So the features a
//! model is trained on are computed by exactly the code that computes them when scoring.
//!
//! Features need history per account ([`FeatureState`]): velocity, the account's usual amount,
//! where and when it was last used, the categories it uses. The state is plain data
//! (serde), so the plugin can snapshot it and the host can store it next to the offsets it
//! corresponds to.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

mod accounts;
pub use accounts::{Accounts, same};

/// Names of the features, in the order of a feature vector.
pub const FEATURES: [&str; 13] = [
    "log_amount",
    // The amount against the account's usual, split in two: fraud sits at both ends (large
    // charges, and card-testing micro charges), which one linear weight could not express.
    "amount_above_usual",
    "amount_below_usual",
    "txns_last_10m",
    "small_txns_last_10m",
    "spend_last_1h_vs_usual",
    "km_from_last",
    "speed_kmh_from_last",
    "minutes_since_last",
    "odd_hour",
    "new_category",
    "first_txn",
    "history_len",
];
pub const N: usize = FEATURES.len();
/// Index of `history_len` (ln(1 + transactions seen before) of the account).
pub const HISTORY_LEN: usize = 12;

/// The fields of a transaction the features use.
#[derive(Debug, Clone, Deserialize)]
pub struct Txn {
    pub account: String,
    pub amount: f64,
    pub merchant_category: String,
    pub lat: f64,
    pub lon: f64,
    /// Event time, ms since the epoch.
    pub ts: i64,
}

/// What is remembered about one account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AccountState {
    pub count: u64,
    /// Exponentially weighted mean of ln(amount).
    pub log_amount_mean: f64,
    pub last_ts: i64,
    pub last_lat: f64,
    pub last_lon: f64,
    /// (event time, amount) of the transactions of the last hour.
    pub recent: VecDeque<(i64, f64)>,
    /// Categories used, most recent last (at most 16).
    pub categories: VecDeque<String>,
}

/// Per-account history of a stream (the state a scorer carries).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FeatureState {
    pub accounts: Accounts,
    /// Transactions observed.
    pub observed: u64,
}

const MINUTE: i64 = 60_000;
const CATEGORY_MEMORY: usize = 16;
const RECENT_MAX: usize = 256;

fn km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    if lat1 == lat2 && lon1 == lon2 {
        // Exactly what the formula gives (every term is a sine of zero), without its six
        // libm calls.
        return 0.0;
    }
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let (dp, dl) = ((lat2 - lat1).to_radians(), (lon2 - lon1).to_radians());
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    6371.0 * 2.0 * a.sqrt().asin()
}

/// A transaction's fields as the features read them, borrowed (the scorer parses rows without
/// copying their text).
#[derive(Debug, Clone, Copy)]
pub struct TxnRef<'a> {
    pub account: &'a str,
    pub amount: f64,
    pub merchant_category: &'a str,
    pub lat: f64,
    pub lon: f64,
    pub ts: i64,
}

impl<'a> From<&'a Txn> for TxnRef<'a> {
    fn from(t: &'a Txn) -> Self {
        TxnRef {
            account: &t.account,
            amount: t.amount,
            merchant_category: &t.merchant_category,
            lat: t.lat,
            lon: t.lon,
            ts: t.ts,
        }
    }
}

impl FeatureState {
    /// The features of `t` given the account's history so far, then `t` is added to it.
    pub fn observe(&mut self, t: &Txn) -> [f64; N] {
        self.observe_ref(TxnRef::from(t))
    }

    /// [`FeatureState::observe`] over borrowed fields. Runs once per scored transaction, so it
    /// allocates only for an account or category seen for the first time.
    pub fn observe_ref(&mut self, t: TxnRef<'_>) -> [f64; N] {
        self.observe_counted(t).0
    }

    /// [`FeatureState::observe_ref`], with the number of the account's transactions seen
    /// before `t` (the `history_len` a scorer reports, without undoing its logarithm).
    pub fn observe_counted(&mut self, t: TxnRef<'_>) -> ([f64; N], u64) {
        self.observed += 1;
        let acc = self.accounts.entry(t.account);
        let before = acc.count;
        (observe_account(acc, t), before)
    }
}

/// The features of `t` given its account's history, then `t` is added to the history.
fn observe_account(acc: &mut AccountState, t: TxnRef<'_>) -> [f64; N] {
    let amount = t.amount.max(0.01);
    let log_amount = amount.ln();
    let first = acc.count == 0;
    // Events can arrive out of event-time order: windows are taken around `t.ts`. One pass
    // over the account's last hour (up to RECENT_MAX entries: the hot loop of scoring)
    // gives every window figure, and whether anything has left the hour. Branch-free, so
    // it compiles to straight-line code in Wasm too.
    let (mut count_10m, mut small_10m, mut spend_1h) = (0u32, 0u32, 0.0f64);
    let (mut newest, mut oldest) = (t.ts, t.ts);
    let (front, back) = acc.recent.as_slices();
    for &(ts, a) in front.iter().chain(back) {
        let gap = (t.ts - ts).abs();
        let in_10m = u32::from(gap <= 10 * MINUTE);
        count_10m += in_10m;
        small_10m += in_10m & u32::from(a < 5.0);
        spend_1h += if gap <= 60 * MINUTE { a } else { 0.0 };
        newest = newest.max(ts);
        oldest = oldest.min(ts);
    }
    let (dist, minutes) = if first {
        (0.0, 0.0)
    } else {
        (km(acc.last_lat, acc.last_lon, t.lat, t.lon), ((t.ts - acc.last_ts).abs() as f64 / MINUTE as f64))
    };
    let speed = dist / (minutes.max(1.0) / 60.0);
    // Shortcuts that give the same bits as the full formulas, for the usual transaction (same
    // place as the last one, nothing else spent in the hour): ln_1p(0) is 0, whatever the
    // divisor. They skip ten of the thirteen libm calls per transaction, which in Wasm are
    // software routines (docs/PERFORMANCE.md, ninth round).
    let spend_ratio = if first || spend_1h == 0.0 { 0.0 } else { (spend_1h / acc.log_amount_mean.exp()).ln_1p() };
    let (dist_feature, speed_feature) = if dist == 0.0 { (0.0, 0.0) } else { (dist.ln_1p(), speed.ln_1p()) };
    let hour = t.ts.rem_euclid(86_400_000) / 3_600_000;
    let known_category = acc.categories.iter().any(|c| same(c, t.merchant_category));
    let new_category = !first && !known_category;
    let vs_usual = if first { 0.0 } else { log_amount - acc.log_amount_mean };
    let x = [
        log_amount,
        vs_usual.max(0.0),
        (-vs_usual).max(0.0),
        f64::from(count_10m),
        f64::from(small_10m),
        spend_ratio,
        dist_feature,
        speed_feature,
        minutes.ln_1p(),
        f64::from(u8::from((2..5).contains(&hour))),
        f64::from(u8::from(new_category)),
        f64::from(u8::from(first)),
        (acc.count as f64).ln_1p(),
    ];
    // Update the account.
    acc.log_amount_mean = if first { log_amount } else { 0.9 * acc.log_amount_mean + 0.1 * log_amount };
    acc.count += 1;
    if t.ts >= acc.last_ts || first {
        acc.last_ts = t.ts;
        acc.last_lat = t.lat;
        acc.last_lon = t.lon;
    }
    acc.recent.push_back((t.ts, amount));
    // Most calls find nothing past the hour: only then walk the list again.
    if newest - oldest > 60 * MINUTE {
        acc.recent.retain(|(ts, _)| newest - ts <= 60 * MINUTE);
    }
    // Bounded whatever the input: a flood of one account's transactions (or a replay of the
    // same ones) keeps the most recent only.
    while acc.recent.len() > RECENT_MAX {
        acc.recent.pop_front();
    }
    if !known_category {
        acc.categories.push_back(t.merchant_category.to_string());
        if acc.categories.len() > CATEGORY_MEMORY {
            acc.categories.pop_front();
        }
    }
    x
}

/// Features of the public credit-card data set layout (`V1..V28` are already PCA components;
/// the amount is log-scaled). Stateless: that layout has no account to keep history for.
pub const CREDITCARD_FEATURES: [&str; 29] = [
    "V1",
    "V2",
    "V3",
    "V4",
    "V5",
    "V6",
    "V7",
    "V8",
    "V9",
    "V10",
    "V11",
    "V12",
    "V13",
    "V14",
    "V15",
    "V16",
    "V17",
    "V18",
    "V19",
    "V20",
    "V21",
    "V22",
    "V23",
    "V24",
    "V25",
    "V26",
    "V27",
    "V28",
    "log_amount",
];

/// The feature vector of one credit-card-layout row.
pub fn creditcard_features(v: &[f64], amount: f64) -> Result<Vec<f64>, String> {
    if v.len() != 28 {
        return Err(format!("expected 28 V-features, got {}", v.len()));
    }
    let mut x = v.to_vec();
    x.push(amount.max(0.0).ln_1p());
    Ok(x)
}

/// A trained logistic regression over standardized features, with its decision threshold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Model {
    /// Identifies the model in every scored row (e.g. `lr-2026-11-27-seed7`).
    pub version: String,
    pub features: Vec<String>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub weights: Vec<f64>,
    pub bias: f64,
    /// Scores at or above this are alerts (chosen on validation data).
    pub threshold: f64,
    /// How it was trained (seed, rows, positives), for the record.
    pub trained_on: BTreeMap<String, String>,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The strongest positive contributions to one score, strongest first (see [`Model::explain`]).
#[derive(Debug, Clone, Copy)]
pub struct Top<const K: usize> {
    entries: [(usize, f64); K],
    len: usize,
}

impl<const K: usize> Top<K> {
    fn offer(&mut self, index: usize, contribution: f64) {
        if contribution <= 0.0 {
            return;
        }
        // Insertion into a K-long sorted array: K is 3 in practice, so this beats any heap.
        // Written last (in place of the weakest when full), then swapped up past every
        // weaker entry: ties keep the earlier feature first. Swaps, not `copy_within`, whose
        // variable length is a `memory.copy` call into the host in Wasm.
        if K == 0 || (self.len == K && self.entries[K - 1].1 >= contribution) {
            return;
        }
        let mut at = self.len.min(K - 1);
        self.entries[at] = (index, contribution);
        while at > 0 && self.entries[at - 1].1 < contribution {
            self.entries.swap(at - 1, at);
            at -= 1;
        }
        self.len = (self.len + 1).min(K);
    }

    /// (feature index, contribution in logit), strongest first.
    pub fn iter(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.entries[..self.len].iter().copied()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Model {
    fn contribution(&self, j: usize, v: f64) -> f64 {
        (v - self.mean[j]) / self.std[j] * self.weights[j]
    }

    /// Probability of fraud.
    pub fn score(&self, x: &[f64]) -> f64 {
        let z: f64 = x.iter().enumerate().map(|(j, v)| self.contribution(j, *v)).sum::<f64>() + self.bias;
        sigmoid(z)
    }

    /// The score and the `K` features that pushed it up the most, in one pass and without
    /// allocating (the scorer calls it per transaction).
    pub fn explain<const K: usize>(&self, x: &[f64]) -> (f64, Top<K>) {
        let mut top = Top { entries: [(0, 0.0); K], len: 0 };
        let mut z = 0.0;
        for (j, v) in x.iter().enumerate() {
            let c = self.contribution(j, *v);
            z += c;
            top.offer(j, c);
        }
        // Bias last, in the order `score` sums: the two agree to the bit.
        (sigmoid(z + self.bias), top)
    }

    /// The `k` features that pushed the score up the most, with their contribution (logit).
    pub fn reasons(&self, x: &[f64], k: usize) -> Vec<(String, f64)> {
        let mut c: Vec<(String, f64)> = x
            .iter()
            .enumerate()
            .map(|(j, v)| (self.features[j].clone(), self.contribution(j, *v)))
            .filter(|(_, c)| *c > 0.0)
            .collect();
        c.sort_by(|a, b| b.1.total_cmp(&a.1));
        c.truncate(k);
        c
    }

    /// Fits by Newton's method (IRLS) with a small L2 penalty; `xs` rows are raw features.
    pub fn train(version: &str, names: &[&str], xs: &[Vec<f64>], ys: &[bool], l2: f64) -> Model {
        let d = names.len();
        let n = xs.len().max(1) as f64;
        let mean: Vec<f64> = (0..d).map(|j| xs.iter().map(|x| x[j]).sum::<f64>() / n).collect();
        let std: Vec<f64> =
            (0..d).map(|j| (xs.iter().map(|x| (x[j] - mean[j]).powi(2)).sum::<f64>() / n).sqrt().max(1e-6)).collect();
        let z: Vec<Vec<f64>> = xs
            .iter()
            .map(|x| {
                let mut r: Vec<f64> = (0..d).map(|j| (x[j] - mean[j]) / std[j]).collect();
                r.push(1.0);
                r
            })
            .collect();
        let mut w = vec![0.0; d + 1];
        for _ in 0..25 {
            let mut grad = vec![0.0; d + 1];
            let mut hess = vec![vec![0.0; d + 1]; d + 1];
            for (row, y) in z.iter().zip(ys) {
                let p = sigmoid(row.iter().zip(&w).map(|(a, b)| a * b).sum());
                let r = p - f64::from(u8::from(*y));
                let s = (p * (1.0 - p)).max(1e-9);
                for i in 0..=d {
                    grad[i] += r * row[i];
                    for j in 0..=d {
                        hess[i][j] += s * row[i] * row[j];
                    }
                }
            }
            for i in 0..d {
                grad[i] += l2 * w[i];
                hess[i][i] += l2;
            }
            let step = solve(hess, grad);
            let size: f64 = step.iter().map(|s| s.abs()).sum();
            for (wi, si) in w.iter_mut().zip(&step) {
                *wi -= si;
            }
            if size < 1e-8 {
                break;
            }
        }
        Model {
            version: version.to_string(),
            features: names.iter().map(|s| s.to_string()).collect(),
            mean,
            std,
            bias: w[d],
            weights: w[..d].to_vec(),
            threshold: 0.5,
            trained_on: BTreeMap::new(),
        }
    }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting.
// Index loops read as the textbook algorithm; iterator forms would hide the row/column roles.
#[allow(clippy::needless_range_loop)]
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs())).unwrap_or(col);
        a.swap(col, pivot);
        b.swap(col, pivot);
        let p = if a[col][col].abs() < 1e-12 { 1e-12 } else { a[col][col] };
        for row in col + 1..n {
            let f = a[row][col] / p;
            for k in col..n {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[i][k] * x[k]).sum();
        let p = if a[i][i].abs() < 1e-12 { 1e-12 } else { a[i][i] };
        x[i] = (b[i] - s) / p;
    }
    x
}

/// Area under the ROC curve (probability a random positive scores above a random negative;
/// ties count half).
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut pairs: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (pos, neg) = (labels.iter().filter(|l| **l).count() as f64, labels.iter().filter(|l| !**l).count() as f64);
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    // Sum of the ranks of the positives (average rank for ties).
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i;
        while j < pairs.len() && pairs[j].0 == pairs[i].0 {
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += pairs[i..j].iter().filter(|p| p.1).count() as f64 * avg_rank;
        i = j;
    }
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Precision, recall and F1 at a threshold.
pub fn precision_recall_f1(scores: &[f64], labels: &[bool], threshold: f64) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for (s, l) in scores.iter().zip(labels) {
        match (*s >= threshold, *l) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fn_ += 1.0,
            _ => {}
        }
    }
    let p = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let r = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
    let f = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
    (p, r, f)
}

/// The threshold with the best F1 among the scores seen.
pub fn best_threshold(scores: &[f64], labels: &[bool]) -> f64 {
    let mut candidates: Vec<f64> = scores.to_vec();
    candidates.sort_by(f64::total_cmp);
    candidates.dedup();
    let step = (candidates.len() / 400).max(1);
    candidates
        .iter()
        .step_by(step)
        .map(|t| (*t, precision_recall_f1(scores, labels, *t).2))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0.5, |(t, _)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(account: &str, amount: f64, cat: &str, lat: f64, ts: i64) -> Txn {
        Txn { account: account.into(), amount, merchant_category: cat.into(), lat, lon: 0.0, ts }
    }

    #[test]
    fn the_shortcuts_give_the_bits_of_the_full_formulas() {
        // km's early return for one place against the haversine formula it skips.
        let formula = |lat1: f64, lon1: f64, lat2: f64, lon2: f64| {
            let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
            let (dp, dl) = ((lat2 - lat1).to_radians(), (lon2 - lon1).to_radians());
            let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
            6371.0 * 2.0 * a.sqrt().asin()
        };
        for (lat, lon) in [(0.0, 0.0), (52.52, 13.405), (-33.87, 151.21), (89.9, -179.9), (-0.0, 1e-300)] {
            assert_eq!(km(lat, lon, lat, lon).to_bits(), formula(lat, lon, lat, lon).to_bits(), "{lat}, {lon}");
        }
        // No spend in the hour and no distance: ln_1p of a zero, whatever it is divided by.
        for usual in [0.01f64, 1.0, 1e6] {
            assert_eq!((0.0 / usual).ln_1p().to_bits(), 0f64.to_bits());
        }
        assert_eq!((0.0f64 / (90.0f64.max(1.0) / 60.0)).ln_1p().to_bits(), 0f64.to_bits());
    }

    #[test]
    fn features_follow_the_account_history() {
        let mut s = FeatureState::default();
        let first = s.observe(&txn("a", 20.0, "grocery", 0.0, 10 * 3_600_000));
        assert_eq!(first[11], 1.0);
        let x = s.observe(&txn("a", 1.0, "crypto", 10.0, 10 * 3_600_000 + 5 * MINUTE));
        assert_eq!((x[3], x[4], x[10], x[11]), (1.0, 0.0, 1.0, 0.0));
        assert!(x[2] > 2.0 && x[1] == 0.0, "far below usual: {x:?}");
        assert!(x[6] > 6.0, "~1100 km away: {}", x[6]);
        assert_eq!(x[HISTORY_LEN], 1f64.ln_1p());
        // Snapshots round-trip.
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<FeatureState>(&json).unwrap(), s);
    }

    #[test]
    fn snapshots_list_accounts_sorted_whatever_the_hash_order() {
        let mut s = FeatureState::default();
        let ids: Vec<String> = (0..200).map(|i| format!("ACC-{:05}", (i * 7919) % 1000)).collect();
        for (i, id) in ids.iter().enumerate() {
            s.observe(&txn(id, 10.0 + i as f64, "grocery", 0.0, i as i64 * MINUTE));
        }
        // The snapshot is exactly what earlier versions, with an ordered map, wrote and read.
        #[derive(Serialize, Deserialize)]
        struct Earlier {
            accounts: BTreeMap<String, AccountState>,
            observed: u64,
        }
        let text = serde_json::to_string(&s).unwrap();
        let earlier: Earlier = serde_json::from_str(&text).unwrap();
        assert_eq!(earlier.accounts.len(), 200);
        let at: Vec<usize> = earlier.accounts.keys().map(|k| text.find(&format!("\"{k}\":")).unwrap()).collect();
        assert!(at.is_sorted(), "accounts not written in order");
        // Restored, every account is back. The computed mean is compared to within a few units
        // in the last place: serde_json's default float parsing (the host's too; its exact mode
        // costs every JSON float the host parses about twice) may be one unit off for 17 digits.
        let restored = serde_json::from_str::<FeatureState>(&text).unwrap();
        assert_eq!(restored.observed, s.observed);
        assert_eq!(restored.accounts.len(), s.accounts.len());
        for (id, was) in s.accounts.iter() {
            let mut now = restored.accounts.get(id).unwrap().clone();
            assert!(
                (now.log_amount_mean - was.log_amount_mean).abs() <= 4.0 * f64::EPSILON * was.log_amount_mean.abs(),
                "{id}"
            );
            now.log_amount_mean = was.log_amount_mean;
            assert_eq!(&now, was, "{id}");
        }
    }

    #[test]
    fn top_keeps_the_largest_positive_contributions_in_order() {
        let mut top = Top::<3> { entries: [(0, 0.0); 3], len: 0 };
        for (j, c) in [(0, 0.5), (1, -1.0), (2, 2.0), (3, 0.1), (4, 1.0), (5, 0.7), (6, 3.0)] {
            top.offer(j, c);
        }
        assert_eq!(top.iter().collect::<Vec<_>>(), vec![(6, 3.0), (2, 2.0), (4, 1.0)]);
        let mut few = Top::<3> { entries: [(0, 0.0); 3], len: 0 };
        few.offer(1, 0.2);
        few.offer(2, 0.4);
        assert_eq!(few.iter().collect::<Vec<_>>(), vec![(2, 0.4), (1, 0.2)]);
        // Ties keep the earlier feature first, full or not.
        let mut ties = Top::<3> { entries: [(0, 0.0); 3], len: 0 };
        for j in 0..5 {
            ties.offer(j, 1.0);
        }
        ties.offer(5, 2.0);
        assert_eq!(ties.iter().collect::<Vec<_>>(), vec![(5, 2.0), (0, 1.0), (1, 1.0)]);
    }

    #[test]
    fn logistic_regression_separates_and_auc_counts_pairs() {
        let xs: Vec<Vec<f64>> = (0..400).map(|i| vec![(i % 20) as f64, ((i * 7) % 13) as f64]).collect();
        let ys: Vec<bool> = xs.iter().map(|x| x[0] > 14.0).collect();
        let m = Model::train("t", &["a", "b"], &xs, &ys, 1e-3);
        let scores: Vec<f64> = xs.iter().map(|x| m.score(x)).collect();
        assert!(roc_auc(&scores, &ys) > 0.99);
        assert_eq!(m.reasons(&[19.0, 6.0], 1)[0].0, "a");
        // explain agrees with score and reasons.
        for x in &xs {
            let (score, top) = m.explain::<3>(x);
            assert_eq!(score, m.score(x));
            let names: Vec<String> = top.iter().map(|(j, _)| m.features[j].clone()).collect();
            let expected: Vec<String> = m.reasons(x, 3).into_iter().map(|(n, _)| n).collect();
            assert_eq!(names, expected);
        }
        assert_eq!(roc_auc(&[0.1, 0.2, 0.3, 0.4], &[false, true, false, true]), 0.75);
        let (p, r, _) = precision_recall_f1(&[0.9, 0.8, 0.1], &[true, false, true], 0.5);
        assert_eq!((p, r), (0.5, 0.5));
    }
}
