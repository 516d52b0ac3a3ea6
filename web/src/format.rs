//! Numbers, sizes, durations and ages as the dashboard prints them. Plain Rust, so the rules
//! are unit-tested natively.

/// A count or amount in at most four significant characters: `950`, `1.2k`, `3.4M`, `5.6G`.
pub fn compact(value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let v = value.abs();
    let (scaled, unit) = if v >= 1e12 {
        (v / 1e12, "T")
    } else if v >= 1e9 {
        (v / 1e9, "G")
    } else if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    if unit.is_empty() {
        // Below a thousand: whole numbers stay whole, fractions keep what matters.
        return format!("{sign}{}", trim_zeros(&format!("{:.*}", if v.fract() == 0.0 { 0 } else { 2 }, v)));
    }
    let digits = if scaled >= 100.0 { 0 } else { 1 };
    let text = format!("{scaled:.digits$}");
    // 999.96k rounds to "1000k": say 1.0M instead.
    if text.starts_with("1000") && unit != "T" {
        let next = match unit {
            "k" => "M",
            "M" => "G",
            _ => "T",
        };
        return format!("{sign}1{next}");
    }
    format!("{sign}{}{unit}", trim_zeros(&text))
}

/// An exact count with thin grouping: `1 234 567`.
pub fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

fn trim_zeros(text: &str) -> String {
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text.to_string() }
}

/// A rate per second: `0`, `12.5/s`, `1.2k/s`.
pub fn rate(per_second: f64) -> String {
    if per_second.abs() < 0.05 {
        return "0/s".into();
    }
    if per_second.abs() < 100.0 {
        return format!("{}/s", trim_zeros(&format!("{per_second:.1}")));
    }
    if per_second.abs() < 1000.0 {
        return format!("{per_second:.0}/s");
    }
    format!("{}/s", compact(per_second))
}

/// A byte size in binary units: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    let digits = if v >= 100.0 { 0 } else { 1 };
    format!("{} {}", trim_zeros(&format!("{v:.digits$}")), UNITS[unit])
}

/// A duration in milliseconds: `0.42 ms`, `850 ms`, `1.2 s`, `3 min 5 s`, `2 h 10 min`.
pub fn duration_ms(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "–".into();
    }
    if ms < 1.0 {
        return format!("{} ms", trim_zeros(&format!("{ms:.2}")));
    }
    if ms < 10.0 {
        return format!("{} ms", trim_zeros(&format!("{ms:.1}")));
    }
    if ms < 1000.0 {
        return format!("{ms:.0} ms");
    }
    let s = ms / 1000.0;
    if s < 60.0 {
        return format!("{} s", trim_zeros(&format!("{s:.1}")));
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    match (h, m, sec) {
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// How long ago `then_ms` was, seen at `now_ms`: `just now`, `5 s ago`, `3 min ago`, `2 h ago`,
/// `4 d ago`. A time slightly ahead (clock skew) reads as `just now`.
pub fn ago(now_ms: f64, then_ms: f64) -> String {
    let s = ((now_ms - then_ms) / 1000.0).floor();
    if s < 1.0 {
        return "just now".into();
    }
    if s < 60.0 {
        return format!("{s:.0} s ago");
    }
    let m = (s / 60.0).floor();
    if m < 60.0 {
        return format!("{m:.0} min ago");
    }
    let h = (m / 60.0).floor();
    if h < 48.0 {
        return format!("{h:.0} h ago");
    }
    format!("{:.0} d ago", (h / 24.0).floor())
}

/// `1 letter`, `3 letters`: a count with its noun.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A fixed number of decimals, for prices and scores.
pub fn fixed(value: f64, decimals: usize) -> String {
    if value.is_finite() { format!("{value:.decimals$}") } else { "–".into() }
}

/// A ratio as a percentage: `0.1234` → `12.3%`.
pub fn percent(ratio: f64) -> String {
    if !ratio.is_finite() {
        return "–".into();
    }
    let p = ratio * 100.0;
    let digits = if p != 0.0 && p.abs() < 1.0 { 2 } else { 1 };
    format!("{p:.digits$}%")
}

/// The start of a hash, enough to tell versions apart.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// A price with as many decimals as its size needs: 4 below 1, 2 below 10 000, none above.
pub fn price(value: f64) -> String {
    let a = value.abs();
    let decimals = if a < 1.0 {
        4
    } else if a < 10_000.0 {
        2
    } else {
        0
    };
    fixed(value, decimals)
}

/// The partitions a host owns, as ranges: `0–2, 5`; "–" before the first assignment and
/// "none" when the group gave this host nothing (more hosts than partitions).
pub fn partitions(owned: Option<&[i32]>) -> String {
    let Some(owned) = owned else { return "–".into() };
    if owned.is_empty() {
        return "none".into();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < owned.len() {
        let mut j = i;
        while j + 1 < owned.len() && owned[j + 1] == owned[j] + 1 {
            j += 1;
        }
        parts.push(if j == i { owned[i].to_string() } else { format!("{}–{}", owned[i], owned[j]) });
        i = j + 1;
    }
    parts.join(", ")
}

/// Every host of a consumer group with its partitions: `h1 0–2 · h2 3–5`.
pub fn group(members: &[finlake_api::GroupMember]) -> String {
    members.iter().map(|m| format!("{} {}", m.host, partitions(Some(&m.partitions)))).collect::<Vec<_>>().join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(12.5), "12.5");
        assert_eq!(compact(1234.0), "1.2k");
        assert_eq!(compact(1000.0), "1k");
        assert_eq!(compact(999_960.0), "1M");
        assert_eq!(compact(3_400_000.0), "3.4M");
        assert_eq!(compact(250_000.0), "250k");
        assert_eq!(compact(5.6e9), "5.6G");
        assert_eq!(compact(-1500.0), "-1.5k");
        assert_eq!(compact(f64::NAN), "–");
    }

    #[test]
    fn grouped_counts() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1234567), "1\u{202f}234\u{202f}567");
    }

    #[test]
    fn rates() {
        assert_eq!(rate(0.0), "0/s");
        assert_eq!(rate(12.54), "12.5/s");
        assert_eq!(rate(200.0), "200/s");
        assert_eq!(rate(179.82), "180/s");
        assert_eq!(rate(1234.0), "1.2k/s");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 + 200 * 1024), "3.2 MiB");
        assert_eq!(bytes(150 * 1024 * 1024 * 1024), "150 GiB");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms(0.42), "0.42 ms");
        assert_eq!(duration_ms(2.5), "2.5 ms");
        assert_eq!(duration_ms(850.0), "850 ms");
        assert_eq!(duration_ms(1200.0), "1.2 s");
        assert_eq!(duration_ms(185_000.0), "3 min 5 s");
        assert_eq!(duration_ms(180_000.0), "3 min");
        assert_eq!(duration_ms(7_800_000.0), "2 h 10 min");
        assert_eq!(duration_ms(-1.0), "–");
    }

    #[test]
    fn ages() {
        let now = 1_000_000_000.0;
        assert_eq!(ago(now, now + 500.0), "just now");
        assert_eq!(ago(now, now - 400.0), "just now");
        assert_eq!(ago(now, now - 5_000.0), "5 s ago");
        assert_eq!(ago(now, now - 180_000.0), "3 min ago");
        assert_eq!(ago(now, now - 7_200_000.0), "2 h ago");
        assert_eq!(ago(now, now - 4.0 * 86_400_000.0), "4 d ago");
    }

    #[test]
    fn fixed_percent_sha_price() {
        assert_eq!(fixed(1.23456, 2), "1.23");
        assert_eq!(count(1, "row", "rows"), "1 row");
        assert_eq!(count(0, "row", "rows"), "0 rows");
        assert_eq!(percent(0.1234), "12.3%");
        assert_eq!(percent(0.0012), "0.12%");
        assert_eq!(percent(0.0), "0.0%");
        assert_eq!(short_sha("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_sha("abc"), "abc");
        assert_eq!(price(0.123456), "0.1235");
        assert_eq!(price(187.456), "187.46");
        assert_eq!(price(64_000.4), "64000");
    }

    #[test]
    fn group_lists_each_host_with_its_ranges() {
        let m = |host: &str, partitions: Vec<i32>| finlake_api::GroupMember {
            host: host.into(),
            partitions,
            ..finlake_api::GroupMember::default()
        };
        assert_eq!(group(&[m("h1", vec![0, 1, 2]), m("h2", vec![3, 5])]), "h1 0–2 · h2 3, 5");
        assert_eq!(group(&[m("h3", vec![])]), "h3 none");
        assert_eq!(group(&[]), "");
    }

    #[test]
    fn partitions_read_as_ranges() {
        assert_eq!(partitions(None), "–");
        assert_eq!(partitions(Some([].as_slice())), "none");
        assert_eq!(partitions(Some([0, 1, 2, 5, 7, 8].as_slice())), "0–2, 5, 7–8");
        assert_eq!(partitions(Some([3].as_slice())), "3");
    }
}
