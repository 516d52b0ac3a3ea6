//! Shaping gold-table rows for the Markets page: OHLC/VWAP series per symbol and volume per
//! asset class over a time range.

use std::collections::BTreeMap;

use crate::charts::layout::Candle;
use crate::rows::{self, Row};

/// The time range picker. Ranges count back from the newest window in the data rather than
/// from the browser's clock, so a lake whose writer stopped still shows its last hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    M15,
    H1,
    H6,
    H24,
    All,
}

impl Range {
    pub const ALL: [Range; 5] = [Range::M15, Range::H1, Range::H6, Range::H24, Range::All];

    pub fn label(self) -> &'static str {
        match self {
            Range::M15 => "15m",
            Range::H1 => "1h",
            Range::H6 => "6h",
            Range::H24 => "24h",
            Range::All => "all",
        }
    }

    pub fn minutes(self) -> Option<i64> {
        match self {
            Range::M15 => Some(15),
            Range::H1 => Some(60),
            Range::H6 => Some(360),
            Range::H24 => Some(1440),
            Range::All => None,
        }
    }

    /// Rows to ask for when each covers one minute of `per_minute` series: the whole range,
    /// capped by the query API's page limit.
    pub fn row_limit(self, per_minute: u64) -> u64 {
        let minutes = self.minutes().map_or(100_000, |m| m as u64 + 1);
        (minutes * per_minute.max(1)).min(100_000)
    }
}

/// One minute of one symbol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub candle: Candle,
    pub vwap: f64,
    pub volume: f64,
    pub trades: f64,
}

/// Bars from `gold_trades_1m` rows (`window_start, open, high, low, close, vwap, volume,
/// trades`), oldest first, within `range` of the newest; rows missing a time or a price are
/// skipped.
pub fn bars(rows: &[Row], range: Range) -> Vec<Bar> {
    let mut out: Vec<Bar> = rows
        .iter()
        .filter_map(|r| {
            let t = rows::time_ms(r, "window_start")? as f64;
            let candle = Candle {
                t_ms: t,
                open: rows::num(r, "open")?,
                high: rows::num(r, "high")?,
                low: rows::num(r, "low")?,
                close: rows::num(r, "close")?,
            };
            Some(Bar {
                candle,
                vwap: rows::num(r, "vwap").unwrap_or(f64::NAN),
                volume: rows::num(r, "volume").unwrap_or(0.0),
                trades: rows::num(r, "trades").unwrap_or(0.0),
            })
        })
        .collect();
    out.sort_by(|a, b| a.candle.t_ms.total_cmp(&b.candle.t_ms));
    if let (Some(minutes), Some(newest)) = (range.minutes(), out.last().map(|b| b.candle.t_ms)) {
        let from = newest - (minutes as f64 - 1.0) * 60_000.0;
        out.retain(|b| b.candle.t_ms >= from);
    }
    out
}

/// Volume and notional per asset class, summed over the windows of `range` (rows of
/// `gold_volume_by_asset_class_1m`: `window_start, asset_class, volume, notional`), largest
/// volume first.
pub fn volume_by_class(rows: &[Row], range: Range) -> Vec<(String, f64, f64)> {
    let newest = rows.iter().filter_map(|r| rows::time_ms(r, "window_start")).max();
    let from = match (range.minutes(), newest) {
        (Some(m), Some(n)) => Some(n - (m - 1) * 60_000),
        _ => None,
    };
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for r in rows {
        let t = rows::time_ms(r, "window_start");
        if from.is_some_and(|f| t.is_none_or(|t| t < f)) {
            continue;
        }
        let class = rows::text(r, "asset_class").unwrap_or_else(|| "(none)".into());
        let e = sums.entry(class).or_default();
        e.0 += rows::num(r, "volume").unwrap_or(0.0);
        e.1 += rows::num(r, "notional").unwrap_or(0.0);
    }
    let mut out: Vec<(String, f64, f64)> = sums.into_iter().map(|(k, (v, n))| (k, v, n)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows(v: serde_json::Value) -> Vec<Row> {
        v.as_array().into_iter().flatten().filter_map(|r| r.as_object().cloned()).collect()
    }

    #[test]
    fn bars_sorted_and_cut_to_range() {
        let mut data = vec![];
        for m in 0..30 {
            data.push(json!({"window_start": format!("2024-05-01T12:{m:02}:00Z"), "open": 1.0, "high": 2.0,
                             "low": 0.5, "close": 1.5, "vwap": 1.2, "volume": 10, "trades": 3}));
        }
        data.reverse();
        data.push(json!({"window_start": null, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5}));
        data.push(json!({"window_start": "2024-05-01T11:00:00Z", "open": null, "high": 2.0, "low": 0.5, "close": 1.5}));
        let data = rows(serde_json::Value::Array(data));
        let all = bars(&data, Range::All);
        assert_eq!(all.len(), 30);
        assert!(all.windows(2).all(|w| w[0].candle.t_ms < w[1].candle.t_ms));
        let last15 = bars(&data, Range::M15);
        assert_eq!(last15.len(), 15);
        assert_eq!(last15[0].candle.t_ms, crate::time::parse_ms("2024-05-01T12:15:00Z").unwrap_or(0) as f64);
        assert_eq!(last15[0].vwap, 1.2);
        assert_eq!(last15[0].volume, 10.0);
    }

    #[test]
    fn volume_summed_per_class_within_range() {
        let data = rows(json!([
            {"window_start": "2024-05-01T12:00:00Z", "asset_class": "equity", "volume": 100, "notional": 1000.0},
            {"window_start": "2024-05-01T12:30:00Z", "asset_class": "equity", "volume": 50, "notional": 500.0},
            {"window_start": "2024-05-01T12:30:00Z", "asset_class": "etf", "volume": 70, "notional": 70.0},
            {"window_start": "2024-05-01T12:29:00Z", "asset_class": "etf", "volume": 5, "notional": 5.0},
        ]));
        assert_eq!(
            volume_by_class(&data, Range::All),
            vec![("equity".to_string(), 150.0, 1500.0), ("etf".to_string(), 75.0, 75.0)]
        );
        assert_eq!(
            volume_by_class(&data, Range::M15),
            vec![("etf".to_string(), 75.0, 75.0), ("equity".to_string(), 50.0, 500.0)]
        );
    }

    #[test]
    fn row_limits() {
        assert_eq!(Range::M15.row_limit(1), 16);
        assert_eq!(Range::H24.row_limit(5), 7205);
        assert_eq!(Range::All.row_limit(1), 100_000);
    }
}
