//! Mapping data to pixels and choosing axis ticks.

/// A linear map from a data domain to a pixel range (the range may run backwards, as a y axis
/// does: larger values higher up, smaller pixel numbers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linear {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Linear {
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Self {
        Linear { d0: domain.0, d1: domain.1, r0: range.0, r1: range.1 }
    }

    /// The pixel of `v`; a domain of zero width maps everything to the middle of the range.
    pub fn map(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span == 0.0 || !span.is_finite() {
            return (self.r0 + self.r1) / 2.0;
        }
        self.r0 + (v - self.d0) / span * (self.r1 - self.r0)
    }
}

/// The smallest and largest finite value, or `None` when there is none.
pub fn extent(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values.into_iter().filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Widens `(lo, hi)` by `fraction` of its span on both sides (a flat series gets ±1% of its
/// value, or ±1 around zero), so lines do not touch the frame.
pub fn pad(domain: (f64, f64), fraction: f64) -> (f64, f64) {
    let (lo, hi) = domain;
    let span = hi - lo;
    if span == 0.0 {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.01 };
        return (lo - d, hi + d);
    }
    (lo - span * fraction, hi + span * fraction)
}

/// A step of 1, 2 or 5 × 10ⁿ that cuts `span` into about `count` pieces (d3's rule: the
/// candidate closest to the raw step on a log scale).
pub fn nice_step(span: f64, count: usize) -> f64 {
    if !(span.is_finite() && span > 0.0) || count == 0 {
        return 1.0;
    }
    let raw = span / count as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let nice = if norm >= 50f64.sqrt() {
        10.0
    } else if norm >= 10f64.sqrt() {
        5.0
    } else if norm >= 2f64.sqrt() {
        2.0
    } else {
        1.0
    };
    nice * magnitude
}

/// Round values within `[lo, hi]`, about `count` of them.
pub fn nice_ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi < lo {
        return vec![];
    }
    if hi == lo {
        return vec![lo];
    }
    let step = nice_step(hi - lo, count);
    // Decimals the step needs, to print-round away float noise (0.15000000000000002 → 0.15).
    let scale = 10f64.powi((1 - step.log10().floor() as i32).max(0));
    let first = (lo / step).ceil() * step;
    let mut ticks = Vec::new();
    let mut i = 0.0;
    loop {
        let t = first + i * step;
        if t > hi + step * 1e-9 {
            break;
        }
        let t = (t * scale).round() / scale;
        ticks.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        i += 1.0;
    }
    ticks
}

/// Tick instants (ms since the epoch) at round wall-clock steps (1 s … 1 week) within
/// `[lo, hi]`, about `count` of them. Steps are aligned in local time (`offset_min` east of
/// UTC), so an hourly tick reads `14:00`, not `14:00` in London only.
pub fn time_ticks(lo: f64, hi: f64, count: usize, offset_min: i64) -> Vec<f64> {
    const STEPS_S: [f64; 18] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0,
        43200.0, 86400.0,
    ];
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || count == 0 {
        return vec![];
    }
    let raw_s = (hi - lo) / 1000.0 / count as f64;
    let step_s = STEPS_S.iter().copied().find(|s| *s >= raw_s).unwrap_or(604_800.0);
    let step = step_s * 1000.0;
    let shift = offset_min as f64 * 60_000.0;
    let first = ((lo + shift) / step).ceil() * step - shift;
    let mut ticks = Vec::new();
    let mut t = first;
    while t <= hi {
        ticks.push(t);
        t += step;
    }
    ticks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_maps_both_directions() {
        let x = Linear::new((0.0, 10.0), (0.0, 100.0));
        assert_eq!(x.map(5.0), 50.0);
        let y = Linear::new((0.0, 10.0), (200.0, 0.0));
        assert_eq!(y.map(0.0), 200.0);
        assert_eq!(y.map(10.0), 0.0);
        assert_eq!(y.map(2.5), 150.0);
        let flat = Linear::new((3.0, 3.0), (0.0, 100.0));
        assert_eq!(flat.map(3.0), 50.0);
    }

    #[test]
    fn extent_skips_non_finite() {
        assert_eq!(extent([3.0, f64::NAN, -1.0, 7.0]), Some((-1.0, 7.0)));
        assert_eq!(extent(Vec::<f64>::new()), None);
        assert_eq!(extent([f64::INFINITY]), None);
    }

    #[test]
    fn padding() {
        assert_eq!(pad((0.0, 10.0), 0.1), (-1.0, 11.0));
        assert_eq!(pad((0.0, 0.0), 0.1), (-1.0, 1.0));
        assert_eq!(pad((100.0, 100.0), 0.1), (99.0, 101.0));
    }

    #[test]
    fn nice_ticks_are_round() {
        assert_eq!(nice_ticks(0.0, 100.0, 5), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(nice_ticks(0.0, 1.0, 4), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(187.3, 189.9, 5), vec![187.5, 188.0, 188.5, 189.0, 189.5]);
        assert_eq!(nice_ticks(0.1, 0.35, 5), vec![0.1, 0.15, 0.2, 0.25, 0.3, 0.35]);
        assert_eq!(nice_ticks(-3.0, 3.0, 3), vec![-2.0, 0.0, 2.0]);
        assert_eq!(nice_ticks(5.0, 5.0, 5), vec![5.0]);
        assert!(nice_ticks(5.0, 1.0, 5).is_empty());
    }

    #[test]
    fn time_ticks_fall_on_round_minutes() {
        // 12:00:30 .. 12:15:00 UTC, about 5 ticks: every 5 minutes from 12:05.
        let lo = 1_714_564_830_000.0;
        let hi = 1_714_565_700_000.0;
        let ticks = time_ticks(lo, hi, 5, 0);
        assert_eq!(ticks, vec![1_714_565_100_000.0, 1_714_565_400_000.0, 1_714_565_700_000.0]);
        // Hourly ticks line up with local hours at a +05:30 offset.
        let day = time_ticks(0.0, 86_400_000.0, 4, 330);
        assert!(day.iter().all(|t| ((t + 330.0 * 60_000.0) % 21_600_000.0) == 0.0), "{day:?}");
        assert!(time_ticks(10.0, 10.0, 5, 0).is_empty());
    }
}
