//! Chart geometry from data: SVG paths, candle bodies and wicks, bars, histogram bins.

use super::scale::{Linear, extent, pad};

/// One OHLC window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    /// Window start, ms since the epoch.
    pub t_ms: f64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

/// Where one candle is drawn, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandleShape {
    /// Centre of the candle.
    pub x: f64,
    pub body_width: f64,
    pub body_top: f64,
    pub body_height: f64,
    pub wick_top: f64,
    pub wick_bottom: f64,
    /// Closed at or above its open (drawn as the "up" colour).
    pub rising: bool,
}

/// Lays out candles of `slot_ms` windows: the body fills 70% of a slot (at least 1 px), the
/// wick spans low..high, and a flat body is still 1 px tall so it stays visible.
pub fn candle_layout(candles: &[Candle], x: &Linear, y: &Linear, slot_ms: f64) -> Vec<CandleShape> {
    let slot_px = (x.map(slot_ms) - x.map(0.0)).abs();
    let body_width = (slot_px * 0.7).max(1.0);
    candles
        .iter()
        .filter(|c| [c.t_ms, c.open, c.high, c.low, c.close].iter().all(|v| v.is_finite()))
        .map(|c| {
            let (top, bottom) = (y.map(c.open.max(c.close)), y.map(c.open.min(c.close)));
            CandleShape {
                x: x.map(c.t_ms + slot_ms / 2.0),
                body_width,
                body_top: top.min(bottom),
                body_height: (bottom - top).abs().max(1.0),
                wick_top: y.map(c.high).min(y.map(c.low)),
                wick_bottom: y.map(c.high).max(y.map(c.low)),
                rising: c.close >= c.open,
            }
        })
        .collect()
}

/// The y domain covering every candle's low and high, padded 5%.
pub fn candle_domain(candles: &[Candle]) -> Option<(f64, f64)> {
    extent(candles.iter().flat_map(|c| [c.low, c.high])).map(|d| pad(d, 0.05))
}

/// An SVG path through `points` (data units); a non-finite point breaks the line.
pub fn line_path(points: &[(f64, f64)], x: &Linear, y: &Linear) -> String {
    let mut out = String::new();
    let mut pen_down = false;
    for &(px, py) in points {
        if !(px.is_finite() && py.is_finite()) {
            pen_down = false;
            continue;
        }
        let cmd = if pen_down { 'L' } else { 'M' };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("{cmd}{:.1},{:.1}", x.map(px), y.map(py)));
        pen_down = true;
    }
    out
}

/// A sparkline path of evenly spaced `values` in a `width` × `height` box (zero at the bottom
/// when every value is non-negative, so a quiet pipeline reads as a flat line at the floor).
pub fn sparkline_path(values: &[f64], width: f64, height: f64) -> String {
    if values.is_empty() {
        return String::new();
    }
    let (lo, hi) = extent(values.iter().copied()).unwrap_or((0.0, 0.0));
    let lo = if lo >= 0.0 { 0.0 } else { lo };
    let hi = if hi == lo { lo + 1.0 } else { hi };
    let x = Linear::new((0.0, (values.len().max(2) - 1) as f64), (0.0, width));
    let y = Linear::new((lo, hi), (height - 1.0, 1.0));
    let points: Vec<(f64, f64)> = values.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect();
    line_path(&points, &x, &y)
}

/// One bar, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarShape {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// Vertical bars for `values` side by side across `width`, growing up from `height`, the
/// tallest touching 0; `gap` is the fraction of each slot left empty.
pub fn bar_layout(values: &[f64], width: f64, height: f64, gap: f64) -> Vec<BarShape> {
    if values.is_empty() {
        return vec![];
    }
    let max = values.iter().copied().filter(|v| v.is_finite()).fold(0.0, f64::max);
    let slot = width / values.len() as f64;
    let bar_width = (slot * (1.0 - gap)).max(1.0);
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let h = if max > 0.0 && v.is_finite() && *v > 0.0 { v / max * height } else { 0.0 };
            BarShape { x: i as f64 * slot + (slot - bar_width) / 2.0, y: height - h, width: bar_width, height: h }
        })
        .collect()
}

/// Counts per bin from `(bin index, count)` rows (as `GROUP BY floor(score * n)` returns them):
/// `n` bins, an index of `n` (a score of exactly 1.0) joins the last bin, others out of range
/// are dropped.
pub fn histogram_bins(rows: &[(f64, u64)], n: usize) -> Vec<u64> {
    let mut bins = vec![0; n];
    for &(index, count) in rows {
        if !index.is_finite() || index < 0.0 || n == 0 {
            continue;
        }
        let i = index.floor() as usize;
        let i = if i == n { n - 1 } else { i };
        if let Some(b) = bins.get_mut(i) {
            *b += count;
        }
    }
    bins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candles_fill_their_slot_and_span_low_to_high() {
        let x = Linear::new((0.0, 600_000.0), (0.0, 100.0)); // ten 1-minute slots of 10 px
        let y = Linear::new((90.0, 110.0), (200.0, 0.0));
        let c = [
            Candle { t_ms: 0.0, open: 100.0, high: 105.0, low: 95.0, close: 102.0 },
            Candle { t_ms: 60_000.0, open: 102.0, high: 103.0, low: 98.0, close: 99.0 },
            Candle { t_ms: 120_000.0, open: 99.0, high: 99.0, low: 99.0, close: 99.0 },
            Candle { t_ms: 180_000.0, open: f64::NAN, high: 1.0, low: 1.0, close: 1.0 },
        ];
        let s = candle_layout(&c, &x, &y, 60_000.0);
        assert_eq!(s.len(), 3, "the candle with a NaN is skipped");
        assert_eq!(s[0].x, 5.0);
        assert!((s[0].body_width - 7.0).abs() < 1e-9);
        assert!(s[0].rising && !s[1].rising);
        assert_eq!(s[0].body_top, 80.0); // close 102
        assert_eq!(s[0].body_height, 20.0); // open 100
        assert_eq!((s[0].wick_top, s[0].wick_bottom), (50.0, 150.0));
        assert_eq!(s[2].body_height, 1.0, "a flat candle stays visible");
        assert_eq!(candle_domain(&c[..2]), Some((94.5, 105.5)));
    }

    #[test]
    fn line_paths_break_at_gaps() {
        let x = Linear::new((0.0, 2.0), (0.0, 20.0));
        let y = Linear::new((0.0, 10.0), (10.0, 0.0));
        assert_eq!(line_path(&[(0.0, 0.0), (1.0, 10.0), (2.0, 5.0)], &x, &y), "M0.0,10.0 L10.0,0.0 L20.0,5.0");
        assert_eq!(line_path(&[(0.0, 0.0), (1.0, f64::NAN), (2.0, 5.0)], &x, &y), "M0.0,10.0 M20.0,5.0");
        assert_eq!(line_path(&[], &x, &y), "");
    }

    #[test]
    fn sparklines_sit_on_the_floor() {
        assert_eq!(sparkline_path(&[0.0, 0.0], 10.0, 11.0), "M0.0,10.0 L10.0,10.0");
        assert_eq!(sparkline_path(&[0.0, 5.0, 10.0], 20.0, 11.0), "M0.0,10.0 L10.0,5.5 L20.0,1.0");
        assert_eq!(sparkline_path(&[3.0], 20.0, 11.0), "M0.0,1.0");
        assert_eq!(sparkline_path(&[], 20.0, 11.0), "");
    }

    #[test]
    fn bars_scale_to_the_tallest() {
        let b = bar_layout(&[1.0, 2.0, 0.0], 30.0, 100.0, 0.2);
        assert_eq!(b.len(), 3);
        assert_eq!(b[1].height, 100.0);
        assert_eq!(b[1].y, 0.0);
        assert_eq!(b[0].height, 50.0);
        assert_eq!(b[2].height, 0.0);
        assert!((b[0].width - 8.0).abs() < 1e-9);
        assert!((b[0].x - 1.0).abs() < 1e-9);
        assert!(bar_layout(&[], 30.0, 100.0, 0.2).is_empty());
    }

    #[test]
    fn histogram_bins_clamp_the_top_edge() {
        let rows = [(0.0, 5), (3.0, 2), (19.0, 1), (20.0, 4), (25.0, 9), (-1.0, 9), (f64::NAN, 9)];
        let bins = histogram_bins(&rows, 20);
        assert_eq!(bins.len(), 20);
        assert_eq!((bins[0], bins[3], bins[19]), (5, 2, 5));
        assert_eq!(bins.iter().sum::<u64>(), 12);
    }
}
