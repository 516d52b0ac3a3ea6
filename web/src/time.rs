//! Timestamps: the API's RFC 3339 text to milliseconds since the epoch and back to what a
//! person reads. Display takes the browser's UTC offset as a number, so this module needs no
//! JavaScript and is tested natively.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn number(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Milliseconds since the epoch of `2024-05-01T12:34:56.789Z`, `…+02:00`, or the same without
/// an offset (read as UTC, as Arrow prints zoneless timestamps) and with a space for the `T`.
pub fn parse_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.len() < 19 || !text.is_char_boundary(10) || !text.is_char_boundary(19) {
        return None;
    }
    let (date, rest) = text.split_at(10);
    let mut parts = date.split('-');
    let (y, mo, d) = (number(parts.next()?)?, number(parts.next()?)?, number(parts.next()?)?);
    if parts.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (clock, mut tail) = rest.split_at(8);
    let mut hms = clock.split(':');
    let (h, mi, s) = (number(hms.next()?)?, number(hms.next()?)?, number(hms.next()?)?);
    if hms.next().is_some() || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut millis = 0;
    if let Some(frac) = tail.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let first3: String = frac[..digits].chars().chain("000".chars()).take(3).collect();
        millis = number(&first3)?;
        tail = &frac[digits..];
    }
    let offset_min = match tail {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match tail.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hhmm = tail[1..].replace(':', "");
            if hhmm.len() != 4 || !hhmm.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            sign * (number(&hhmm[..2])? * 60 + number(&hhmm[2..])?)
        }
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 24 + h) * 60 + mi - offset_min) * 60_000 + s * 1000 + millis)
}

/// A wall-clock reading of an instant at a UTC offset.
struct Civil {
    y: i64,
    mo: i64,
    d: i64,
    h: i64,
    mi: i64,
    s: i64,
}

fn civil(ms: i64, offset_min: i64) -> Civil {
    let local = ms.div_euclid(1000) + offset_min * 60;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    Civil { y, mo, d, h: secs / 3600, mi: secs / 60 % 60, s: secs % 60 }
}

/// `2024-05-01 14:34:56` at `offset_min` minutes east of UTC.
pub fn date_time(ms: i64, offset_min: i64) -> String {
    let c = civil(ms, offset_min);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", c.y, c.mo, c.d, c.h, c.mi, c.s)
}

/// `14:34`, or `05-01 14:34` when the axis spans days (`with_date`).
pub fn axis_label(ms: i64, offset_min: i64, with_date: bool) -> String {
    let c = civil(ms, offset_min);
    if with_date { format!("{:02}-{:02} {:02}:{:02}", c.mo, c.d, c.h, c.mi) } else { format!("{:02}:{:02}", c.h, c.mi) }
}

/// RFC 3339 in UTC, as the API takes times (`as_of`); milliseconds only when there are some.
pub fn rfc3339(ms: i64) -> String {
    let c = civil(ms, 0);
    let frac = match ms.rem_euclid(1000) {
        0 => String::new(),
        m => format!(".{m:03}"),
    };
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{frac}Z", c.y, c.mo, c.d, c.h, c.mi, c.s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_query_api_prints() {
        assert_eq!(parse_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_ms("2024-05-01T12:34:56Z"), Some(1_714_566_896_000));
        assert_eq!(parse_ms("2024-05-01T12:34:56.789Z"), Some(1_714_566_896_789));
        assert_eq!(parse_ms("2024-05-01T12:34:56.789123Z"), Some(1_714_566_896_789));
        assert_eq!(parse_ms("2024-05-01T12:34:56.5Z"), Some(1_714_566_896_500));
        assert_eq!(parse_ms("2024-05-01 12:34:56"), Some(1_714_566_896_000));
        assert_eq!(parse_ms("2024-05-01T14:34:56+02:00"), Some(1_714_566_896_000));
        assert_eq!(parse_ms("2024-05-01T10:04:56-0230"), Some(1_714_566_896_000));
        assert_eq!(parse_ms("1969-12-31T23:59:59Z"), Some(-1000));
    }

    #[test]
    fn refuses_what_is_not_a_timestamp() {
        let bad =
            ["", "yesterday", "2024-13-01T00:00:00Z", "2024-05-01", "2024-05-01T25:00:00Z", "2024-05-01T12:34:56+2"];
        for bad in bad.into_iter().chain(["2024-05-01T12:34:56+1\u{e9}2", "2024-05-01T12:34:5\u{e9}"]) {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn prints_local_wall_clock() {
        let t = 1_714_566_896_000;
        assert_eq!(date_time(t, 0), "2024-05-01 12:34:56");
        assert_eq!(date_time(t, 120), "2024-05-01 14:34:56");
        assert_eq!(date_time(t, -780), "2024-04-30 23:34:56");
        assert_eq!(axis_label(t, 0, false), "12:34");
        assert_eq!(axis_label(t, 0, true), "05-01 12:34");
        assert_eq!(rfc3339(t), "2024-05-01T12:34:56Z");
        assert_eq!(rfc3339(t + 7), "2024-05-01T12:34:56.007Z");
        assert_eq!(date_time(-1000, 0), "1969-12-31 23:59:59");
    }

    #[test]
    fn round_trips_over_leap_years() {
        for t in [0i64, 951_782_400_000, 1_709_164_800_000, 4_107_542_400_000, 1_714_566_896_789, -1] {
            assert_eq!(parse_ms(&rfc3339(t)), Some(t));
        }
        assert_eq!(rfc3339(1_709_164_800_000), "2024-02-29T00:00:00Z");
    }
}
