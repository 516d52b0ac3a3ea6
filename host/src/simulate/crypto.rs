//! Crypto prices: a volatile random walk per coin, with a 24 h volume.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{Generator, normal};

/// Coins, starting prices (USD) and typical 24 h volume.
const COINS: [(&str, f64, f64); 5] = [
    ("BTC", 64_000.0, 3.0e10),
    ("ETH", 3_200.0, 1.5e10),
    ("BNB", 580.0, 1.8e9),
    ("ADA", 0.45, 4.0e8),
    ("SOL", 145.0, 2.5e9),
];

pub struct CryptoGenerator {
    rng: SmallRng,
    prices: Vec<f64>,
    malformed_ratio: f64,
}

impl CryptoGenerator {
    pub fn new(seed: u64, malformed_ratio: f64) -> Self {
        CryptoGenerator {
            rng: SmallRng::seed_from_u64(seed),
            prices: COINS.iter().map(|c| c.1).collect(),
            malformed_ratio,
        }
    }
}

impl Generator for CryptoGenerator {
    /// Key: the coin symbol.
    fn next_record(&mut self, now_ms: i64) -> (String, String) {
        let i = self.rng.random_range(0..COINS.len());
        let (symbol, _, volume) = COINS[i];
        // ~80 % yearly volatility, one step per second.
        self.prices[i] *= (0.8 / (365.0f64 * 86_400.0).sqrt() * normal(&mut self.rng)).exp();
        let digits = if self.prices[i] < 10.0 { 1e4 } else { 1e2 };
        let price = (self.prices[i] * digits).round() / digits;
        let vol = (volume * (1.0 + 0.1 * normal(&mut self.rng))).max(0.0).round();
        let value = if self.rng.random_bool(self.malformed_ratio.clamp(0.0, 1.0)) {
            format!(r#"{{"symbol":"{symbol}","price":"n/a","ts":{now_ms}}}"#)
        } else {
            format!(r#"{{"symbol":"{symbol}","price":{price},"volume_24h":{vol},"ts":{now_ms}}}"#)
        };
        (symbol.to_string(), value)
    }
}
