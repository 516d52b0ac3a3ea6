//! Stock trades: a geometric random walk per symbol.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::Generator;

/// Symbols, starting prices and yearly volatility of the simulated market.
const SYMBOLS: [(&str, f64, f64, &str); 5] = [
    ("AAPL", 190.0, 0.25, "NASDAQ"),
    ("TSLA", 240.0, 0.60, "NASDAQ"),
    ("GOOGL", 140.0, 0.30, "NASDAQ"),
    ("MSFT", 380.0, 0.25, "NASDAQ"),
    ("AMZN", 150.0, 0.35, "NASDAQ"),
];

/// A seeded generator of trades: a geometric random walk per symbol.
pub struct TradeGenerator {
    rng: SmallRng,
    prices: Vec<f64>,
    next_id: u64,
    /// Part of every trade id: a stream with another seed never reuses ids (a silver table with
    /// `unique_key = "trade_id"` would take them for duplicates); the same seed replays them.
    run: u32,
    malformed_ratio: f64,
}

impl TradeGenerator {
    pub fn new(seed: u64, malformed_ratio: f64) -> Self {
        TradeGenerator {
            rng: SmallRng::seed_from_u64(seed),
            prices: SYMBOLS.iter().map(|s| s.1).collect(),
            next_id: 1,
            run: (seed as u32) ^ ((seed >> 32) as u32),
            malformed_ratio,
        }
    }

    fn next_record_inner(&mut self, now_ms: i64) -> (String, String) {
        let i = self.rng.random_range(0..SYMBOLS.len());
        let (symbol, _, vol, exchange) = SYMBOLS[i];
        // One step of a geometric Brownian motion, scaled to roughly one trade per 100 ms.
        let z: f64 = (0..12).map(|_| self.rng.random::<f64>()).sum::<f64>() - 6.0;
        let step = vol / (252.0f64 * 6.5 * 3600.0 * 10.0).sqrt();
        self.prices[i] *= (step * z).exp();
        let price = (self.prices[i] * 100.0).round() / 100.0;
        let quantity = 1 + (self.rng.random::<f64>().powi(3) * 1000.0) as u64;
        let side = if self.rng.random_bool(0.5) { "buy" } else { "sell" };
        let (id, run) = (self.next_id, self.run);
        self.next_id += 1;
        let good = format!(
            r#"{{"trade_id":"T{run:08x}-{id:010}","symbol":"{symbol}","price":{price},"quantity":{quantity},"side":"{side}","exchange":"{exchange}","ts":{now_ms}}}"#
        );
        let value = if self.rng.random_bool(self.malformed_ratio.clamp(0.0, 1.0)) {
            match self.rng.random_range(0..4) {
                0 => good[..good.len() / 2].to_string(),
                1 => good.replace(&format!("\"price\":{price}"), "\"price\":-1"),
                2 => good.replace(&format!("\"side\":\"{side}\""), "\"side\":\"hold\""),
                _ => format!("garbage trade #{id}"),
            }
        } else {
            good
        };
        (symbol.to_string(), value)
    }
}

impl Generator for TradeGenerator {
    /// Key: the symbol. Malformed records are still UTF-8, so bronze keeps them.
    fn next_record(&mut self, now_ms: i64) -> (String, String) {
        self.next_record_inner(now_ms)
    }
}
