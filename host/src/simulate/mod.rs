//! Simulated market data: stock trades, crypto prices, bank/card transactions with labelled
//! fraud. Every generator is seeded (same seed, same stream) and keys its records so that one
//! symbol or account always lands in one partition.

mod bank;
pub mod creditcard;
mod crypto;
mod trades;

pub use bank::BankGenerator;
pub use crypto::CryptoGenerator;
pub use trades::TradeGenerator;

/// A source of (key, value) records.
pub trait Generator: Send {
    fn next_record(&mut self, now_ms: i64) -> (String, String);
}

/// Which stream to simulate (declared with the config, which names it).
pub use crate::config::Kind;

/// One standard normal draw (sum of 12 uniforms; plenty for a simulator).
pub(crate) fn normal(rng: &mut impl rand::Rng) -> f64 {
    (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0
}

pub fn generator(kind: Kind, seed: u64, malformed_ratio: f64) -> Box<dyn Generator> {
    match kind {
        Kind::Trades => Box::new(TradeGenerator::new(seed, malformed_ratio)),
        Kind::Crypto => Box::new(CryptoGenerator::new(seed, malformed_ratio)),
        Kind::Bank => Box::new(BankGenerator::new(seed, malformed_ratio, 0.02)),
    }
}

#[cfg(test)]
mod tests;
