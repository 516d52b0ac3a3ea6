//! Bank/card transactions of a population of accounts, with injected and labelled fraud.
//!
//! Normal behaviour per account: a home city, a usual amount (log-normal around it), three usual
//! merchant categories, daytime hours. Fraud patterns (`fraud_pattern`, `is_fraud = true`):
//! - `card_testing`: a burst of 3–6 small charges (0.50–3.00) on one account;
//! - `large_amount`: 10–50 × the account's usual amount;
//! - `impossible_travel`: a charge in a far-away city right after one at home;
//! - `odd_hours`: a charge between 02:00 and 04:59 UTC;
//! - `new_category`: a charge in a category the account never uses (jewelry, crypto, gambling…).
//!
//! The label is for evaluation only: it stays in bronze and must never reach a scorer.

use std::collections::VecDeque;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{Generator, normal};

const CITIES: [(&str, &str, f64, f64); 10] = [
    ("New York", "US", 40.71, -74.01),
    ("Chicago", "US", 41.88, -87.63),
    ("London", "GB", 51.51, -0.13),
    ("Paris", "FR", 48.86, 2.35),
    ("Berlin", "DE", 52.52, 13.40),
    ("Tokyo", "JP", 35.68, 139.69),
    ("Sydney", "AU", -33.87, 151.21),
    ("São Paulo", "BR", -23.55, -46.63),
    ("Lagos", "NG", 6.52, 3.38),
    ("Singapore", "SG", 1.35, 103.82),
];
const CURRENCY: [&str; 10] = ["USD", "USD", "GBP", "EUR", "EUR", "JPY", "AUD", "BRL", "NGN", "SGD"];
const EVERYDAY: [&str; 8] =
    ["grocery", "restaurant", "fuel", "pharmacy", "transport", "clothing", "electronics", "utilities"];
const RARE: [&str; 4] = ["jewelry", "crypto", "gambling", "money_transfer"];

struct Account {
    id: String,
    home: usize,
    usual_amount: f64,
    categories: [usize; 3],
}

pub struct BankGenerator {
    rng: SmallRng,
    accounts: Vec<Account>,
    fraud_ratio: f64,
    malformed_ratio: f64,
    /// Records already decided (bursts, travel pairs) waiting to be emitted.
    queue: VecDeque<(String, String)>,
    next_id: u64,
    /// Derived from the seed: transaction ids of different runs never collide (silver
    /// deduplicates on txn_id), the same seed reproduces the same ids.
    run: u32,
}

impl BankGenerator {
    pub fn new(seed: u64, malformed_ratio: f64, fraud_ratio: f64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let accounts = (0..1000)
            .map(|i| Account {
                id: format!("ACC{i:05}"),
                home: rng.random_range(0..CITIES.len()),
                usual_amount: (3.0 + 0.8 * normal(&mut rng)).exp().clamp(2.0, 2_000.0),
                categories: [
                    rng.random_range(0..EVERYDAY.len()),
                    rng.random_range(0..EVERYDAY.len()),
                    rng.random_range(0..EVERYDAY.len()),
                ],
            })
            .collect();
        BankGenerator {
            rng,
            accounts,
            fraud_ratio,
            malformed_ratio,
            queue: VecDeque::new(),
            next_id: 1,
            run: (seed as u32) ^ ((seed >> 32) as u32),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn txn(
        &mut self,
        a: usize,
        amount: f64,
        category: &str,
        city: usize,
        ts: i64,
        pattern: Option<&str>,
    ) -> (String, String) {
        let acc = &self.accounts[a];
        let (name, country, lat, lon) = CITIES[city];
        let (id, run) = (self.next_id, self.run);
        self.next_id += 1;
        let amount = (amount * 100.0).round() / 100.0;
        let value = format!(
            r#"{{"txn_id":"TX{run:08x}-{id:010}","account":"{}","amount":{amount},"currency":"{}","merchant_category":"{category}","city":"{name}","country":"{country}","lat":{lat},"lon":{lon},"ts":{ts},"is_fraud":{},"fraud_pattern":{}}}"#,
            acc.id,
            CURRENCY[city],
            pattern.is_some(),
            pattern.map_or("null".to_string(), |p| format!("\"{p}\""))
        );
        (acc.id.clone(), value)
    }

    fn daytime(&mut self, now_ms: i64) -> i64 {
        // Normal activity happens 07:00–22:59 UTC. Outside that band, move the event time back
        // into the most recent band (never into the future).
        const DAY: i64 = 86_400_000;
        const HOUR: i64 = 3_600_000;
        let day = now_ms - now_ms.rem_euclid(DAY);
        let hour = now_ms.rem_euclid(DAY) / HOUR;
        let minute = now_ms.rem_euclid(HOUR);
        match hour {
            7..23 => now_ms,
            0..7 => day - DAY + self.rng.random_range(7..23) * HOUR + minute,
            _ => day + self.rng.random_range(7..23) * HOUR + minute,
        }
    }
}

impl Generator for BankGenerator {
    /// Key: the account id, so an account's history stays in one partition, in order.
    fn next_record(&mut self, now_ms: i64) -> (String, String) {
        if let Some(r) = self.queue.pop_front() {
            return r;
        }
        let a = self.rng.random_range(0..self.accounts.len());
        let (home, usual, cats) = (self.accounts[a].home, self.accounts[a].usual_amount, self.accounts[a].categories);
        let ts = self.daytime(now_ms);
        let everyday = EVERYDAY[cats[self.rng.random_range(0..3)]];
        if self.rng.random_bool(self.malformed_ratio.clamp(0.0, 1.0)) {
            let acc = self.accounts[a].id.clone();
            return (acc.clone(), format!(r#"{{"txn_id":"BAD","account":"{acc}","amount":"lots"}}"#));
        }
        if !self.rng.random_bool(self.fraud_ratio.clamp(0.0, 1.0)) {
            let amount = usual * (0.35 * normal(&mut self.rng)).exp();
            return self.txn(a, amount, everyday, home, ts, None);
        }
        match self.rng.random_range(0..5) {
            0 => {
                let n = self.rng.random_range(3..=6);
                for k in 0..n {
                    let amount = self.rng.random_range(0.5..3.0);
                    let cat = if k % 2 == 0 { "digital_goods" } else { "online_services" };
                    let r = self.txn(a, amount, cat, home, ts + k * 20_000, Some("card_testing"));
                    self.queue.push_back(r);
                }
                self.queue.pop_front().unwrap_or_else(|| unreachable!("n >= 3"))
            }
            1 => {
                let amount = usual * self.rng.random_range(10.0..50.0);
                self.txn(a, amount, everyday, home, ts, Some("large_amount"))
            }
            2 => {
                let legit = self.txn(a, usual, everyday, home, ts, None);
                let far = (home + 5) % CITIES.len();
                let fraud = self.txn(a, usual * 2.0, everyday, far, ts + 15 * 60_000, Some("impossible_travel"));
                self.queue.push_back(fraud);
                legit
            }
            3 => {
                // 02:00–04:59 UTC of the most recent night before `now_ms`.
                let day = now_ms - now_ms.rem_euclid(86_400_000);
                let night = if now_ms - day >= 5 * 3_600_000 { day } else { day - 86_400_000 };
                let odd = night + self.rng.random_range(2..5) * 3_600_000 + self.rng.random_range(0..3_600_000);
                self.txn(a, usual * 1.5, everyday, home, odd, Some("odd_hours"))
            }
            _ => {
                let cat = RARE[self.rng.random_range(0..RARE.len())];
                self.txn(a, usual * 3.0, cat, home, ts, Some("new_category"))
            }
        }
    }
}
