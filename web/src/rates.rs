//! Records per second from the cumulative counters of the `pipelines` event (sent once a
//! second): the difference between two snapshots over the time between them.

use std::collections::{BTreeMap, VecDeque};

/// Samples kept per pipeline: about the last minute at one event per second.
pub const HISTORY: usize = 60;

/// One pipeline's last counters and its rate history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineRates {
    last: Option<(f64, u64, u64)>,
    /// Records consumed per second, oldest first.
    pub records_in: VecDeque<f64>,
    /// Rows committed per second, oldest first.
    pub rows_out: VecDeque<f64>,
}

impl PipelineRates {
    /// The latest records-in rate (0 before two samples).
    pub fn in_now(&self) -> f64 {
        self.records_in.back().copied().unwrap_or(0.0)
    }

    /// The latest rows-out rate.
    pub fn out_now(&self) -> f64 {
        self.rows_out.back().copied().unwrap_or(0.0)
    }
}

/// The rate of a counter that went from `before` to `after` in `seconds`. A counter that went
/// down (the process restarted, so counting began again) or a non-positive interval gives
/// `None`: no rate is better than a wrong one.
pub fn rate(before: u64, after: u64, seconds: f64) -> Option<f64> {
    if after < before || seconds.is_nan() || seconds <= 0.0 {
        return None;
    }
    Some((after - before) as f64 / seconds)
}

/// Rates of every pipeline, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateBook {
    pub pipelines: BTreeMap<String, PipelineRates>,
}

impl RateBook {
    /// Takes one snapshot of `(name, records_in, rows_out)` seen at `now_ms`. Pipelines absent
    /// from the snapshot are forgotten (removed by a config change).
    pub fn observe<'a>(&mut self, now_ms: f64, counters: impl IntoIterator<Item = (&'a str, u64, u64)>) {
        let mut seen = BTreeMap::new();
        for (name, records_in, rows_out) in counters {
            let mut entry = self.pipelines.remove(name).unwrap_or_default();
            if let Some((t, prev_in, prev_out)) = entry.last {
                let seconds = (now_ms - t) / 1000.0;
                // A counter reset restarts the history's baseline without a bogus sample.
                if let (Some(a), Some(b)) = (rate(prev_in, records_in, seconds), rate(prev_out, rows_out, seconds)) {
                    push(&mut entry.records_in, a);
                    push(&mut entry.rows_out, b);
                }
            }
            entry.last = Some((now_ms, records_in, rows_out));
            seen.insert(name.to_string(), entry);
        }
        self.pipelines = seen;
    }

    pub fn get(&self, name: &str) -> Option<&PipelineRates> {
        self.pipelines.get(name)
    }
}

fn push(history: &mut VecDeque<f64>, value: f64) {
    if history.len() == HISTORY {
        history.pop_front();
    }
    history.push_back(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_from_deltas() {
        assert_eq!(rate(100, 300, 2.0), Some(100.0));
        assert_eq!(rate(100, 100, 1.0), Some(0.0));
        assert_eq!(rate(300, 100, 1.0), None, "a reset counter");
        assert_eq!(rate(1, 2, 0.0), None);
    }

    #[test]
    fn book_keeps_a_minute_per_pipeline() {
        let mut book = RateBook::default();
        book.observe(0.0, [("a", 0, 0), ("b", 10, 0)]);
        assert_eq!(book.get("a").map(PipelineRates::in_now), Some(0.0));
        book.observe(1000.0, [("a", 200, 150), ("b", 20, 5)]);
        book.observe(1500.0, [("a", 300, 150), ("b", 30, 5)]);
        let a = book.get("a").cloned().unwrap_or_default();
        assert_eq!(a.records_in, [200.0, 200.0]);
        assert_eq!(a.rows_out, [150.0, 0.0]);
        assert_eq!(a.out_now(), 0.0);
        for i in 0..100u64 {
            book.observe(2000.0 + i as f64 * 1000.0, [("a", 300 + i * 10, 150)]);
        }
        let a = book.get("a").cloned().unwrap_or_default();
        assert_eq!(a.records_in.len(), HISTORY);
        assert_eq!(a.in_now(), 10.0);
        assert!(book.get("b").is_none(), "a pipeline that went away is dropped");
    }

    #[test]
    fn a_restart_skips_one_sample() {
        let mut book = RateBook::default();
        book.observe(0.0, [("a", 500, 500)]);
        book.observe(1000.0, [("a", 10, 10)]);
        book.observe(2000.0, [("a", 60, 30)]);
        let a = book.get("a").cloned().unwrap_or_default();
        assert_eq!(a.records_in, [50.0]);
        assert_eq!(a.rows_out, [20.0]);
    }
}
