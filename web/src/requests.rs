//! Turning what the user typed into API requests: time travel for queries, filters for
//! dead letters. Mistakes are reported here, before anything is sent.

use finlake_api::{DeadLetterQuery, paths};

use crate::time;

/// Where a query reads: the latest versions, one version, or the state at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeTravel {
    Latest,
    Version(u64),
    /// RFC 3339, UTC.
    AsOf(String),
}

/// Reads the version and as-of inputs: a version wins when both are filled; an as-of time may
/// be RFC 3339 with any offset, or without one (then UTC), and is sent as RFC 3339 in UTC.
pub fn time_travel(version: &str, as_of: &str) -> Result<TimeTravel, String> {
    let (version, as_of) = (version.trim(), as_of.trim());
    if !version.is_empty() {
        let v = version.trim_start_matches(['v', 'V']);
        return v.parse().map(TimeTravel::Version).map_err(|_| format!("version must be a number, not `{version}`"));
    }
    if !as_of.is_empty() {
        return time::parse_ms(as_of)
            .map(|ms| TimeTravel::AsOf(time::rfc3339(ms)))
            .ok_or_else(|| format!("as of must be a time like 2025-01-31T12:00:00Z, not `{as_of}`"));
    }
    Ok(TimeTravel::Latest)
}

/// `GET /api/dead-letters?…` for a filter; empty fields are left out.
pub fn dead_letters_path(q: &DeadLetterQuery) -> String {
    let mut params: Vec<String> = Vec::new();
    let mut add = |key: &str, value: &Option<String>| {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            params.push(format!("{key}={}", paths::encode(v)));
        }
    };
    add("pipeline", &q.pipeline);
    add("stage", &q.stage);
    add("reason", &q.reason);
    add("since", &q.since);
    add("limit", &q.limit.map(|l| l.to_string()));
    add("offset", &q.offset.map(|o| o.to_string()));
    if q.all {
        params.push("all=true".into());
    }
    if params.is_empty() {
        paths::DEAD_LETTERS.to_string()
    } else {
        format!("{}?{}", paths::DEAD_LETTERS, params.join("&"))
    }
}

/// A filter from form fields: blanks become `None`; a limit that is not a number is an error.
pub fn dead_letter_filter(
    pipeline: &str,
    stage: &str,
    reason: &str,
    since: &str,
    limit: &str,
    all: bool,
) -> Result<DeadLetterQuery, String> {
    let field = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let limit = match limit.trim() {
        "" => None,
        l => Some(l.parse::<u64>().map_err(|_| format!("limit must be a number, not `{l}`"))?),
    };
    Ok(DeadLetterQuery {
        pipeline: field(pipeline),
        since: field(since),
        stage: field(stage),
        reason: field(reason),
        limit,
        offset: None,
        all,
    })
}

/// The part of a filter a replay takes: reason and `all` only narrow the listing.
pub fn replay_filter(q: &DeadLetterQuery) -> DeadLetterQuery {
    DeadLetterQuery { reason: None, all: false, ..q.clone() }
}

/// A value as the inspector shows it: an object or array of JSON indented (keys in their
/// original order), anything else as it is.
pub fn pretty_value(text: &str) -> String {
    let trimmed = text.trim();
    let container = trimmed.starts_with('{') || trimmed.starts_with('[');
    if !container || serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_err() {
        return text.to_string();
    }
    reindent(trimmed)
}

/// Re-indents valid JSON text by two spaces, token by token, so nothing is reordered.
fn reindent(json: &str) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = json.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                // `{}` and `[]` stay on one line.
                if chars.peek().is_some_and(|n| *n == '}' || *n == ']') {
                    if let Some(close) = chars.next() {
                        out.push(close);
                    }
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_travel_inputs() {
        assert_eq!(time_travel("", ""), Ok(TimeTravel::Latest));
        assert_eq!(time_travel(" 3 ", ""), Ok(TimeTravel::Version(3)));
        assert_eq!(time_travel("v7", "2024-05-01T00:00:00Z"), Ok(TimeTravel::Version(7)));
        assert_eq!(time_travel("", "2024-05-01T14:00:00+02:00"), Ok(TimeTravel::AsOf("2024-05-01T12:00:00Z".into())));
        assert_eq!(time_travel("", "2024-05-01 12:00:00"), Ok(TimeTravel::AsOf("2024-05-01T12:00:00Z".into())));
        assert!(time_travel("three", "").is_err());
        assert!(time_travel("", "yesterday").is_err());
    }

    #[test]
    fn dead_letter_paths() {
        assert_eq!(dead_letters_path(&DeadLetterQuery::default()), "/api/dead-letters");
        let q = dead_letter_filter("stock-trades", "", "bad price", "30m", "50", true);
        assert_eq!(
            q.as_ref().map(dead_letters_path),
            Ok("/api/dead-letters?pipeline=stock-trades&reason=bad%20price&since=30m&limit=50&all=true".to_string())
        );
        assert!(dead_letter_filter("", "", "", "", "many", false).is_err());
        let q = dead_letter_filter("p", "s", "r", "1h", "", true).unwrap_or_default();
        let r = replay_filter(&q);
        assert_eq!((r.pipeline.as_deref(), r.stage.as_deref(), r.since.as_deref()), (Some("p"), Some("s"), Some("1h")));
        assert_eq!((r.reason, r.all), (None, false));
    }

    #[test]
    fn values_pretty_printed_when_json() {
        assert_eq!(pretty_value(r#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(
            pretty_value(r#" {"symbol":"NVDA", "price":1,"tags":[],"o":{"k":"a,b:\"c\"}"}, "n":[1,2]} "#),
            "{\n  \"symbol\": \"NVDA\",\n  \"price\": 1,\n  \"tags\": [],\n  \"o\": {\n    \"k\": \"a,b:\\\"c\\\"}\"\n  },\n  \"n\": [\n    1,\n    2\n  ]\n}"
        );
        assert_eq!(pretty_value("{broken"), "{broken");
        assert_eq!(pretty_value("not json {"), "not json {");
        assert_eq!(pretty_value("42"), "42");
    }
}
