//! The SQL a gold table is computed with, generated from its `[[gold]]` block.

use crate::config::GoldConfig;

/// Name of the view holding the source rows of the windows being computed.
pub const ROWS: &str = "window_rows";
/// Name of the view holding rows that arrived for windows already written.
pub const LATE_ROWS: &str = "late_rows";
/// Name of the table of rows added to the source since the last tick.
pub const NEW_ROWS: &str = "new_rows";

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn interval(window_us: i64) -> String {
    format!("INTERVAL '{} milliseconds'", window_us / 1000)
}

/// Aggregates `ROWS` into one row per group and window: the group columns, `window_start`,
/// `window_end`, then the `select` items.
pub fn windows(g: &GoldConfig) -> String {
    let groups: String = g.group_by.iter().map(|c| format!("{}, ", quote(c))).collect();
    let order: String = g.group_by.iter().map(|c| format!(", {}", quote(c))).collect();
    let every = interval(g.window_us());
    format!(
        "SELECT {groups}window_start, window_start + {every} AS window_end, {selects} \
         FROM (SELECT *, date_bin({every}, {time}) AS window_start FROM {ROWS}) AS w \
         GROUP BY {groups}window_start ORDER BY window_start{order}",
        selects = g.select.join(", "),
        time = quote(&g.event_time),
    )
}

/// Late rows as they are stored: every source column plus the window they belong to.
pub fn late(g: &GoldConfig) -> String {
    format!(
        "SELECT *, date_bin({every}, {time}) AS window_start FROM {LATE_ROWS}",
        every = interval(g.window_us()),
        time = quote(&g.event_time)
    )
}

/// The highest event time among the new rows.
pub fn max_event_time(g: &GoldConfig) -> String {
    format!("SELECT max({}) AS m FROM {NEW_ROWS}", quote(&g.event_time))
}

/// Start of the window holding `t` (windows are aligned to the Unix epoch).
pub fn floor(t: i64, window_us: i64) -> i64 {
    t.div_euclid(window_us) * window_us
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_epoch_aligned_and_grouped() {
        assert_eq!(floor(125_000_000, 60_000_000), 120_000_000);
        assert_eq!(floor(-1, 60_000_000), -60_000_000);
        let text = r#"
            name = "g"
            source = "s"
            window = "1m"
            group_by = ["symbol"]
            select = ["count(*) AS n"]
        "#;
        let g: GoldConfig = toml::from_str(text).unwrap();
        let sql = windows(&g);
        assert!(sql.contains("date_bin(INTERVAL '60000 milliseconds', \"event_time\") AS window_start"), "{sql}");
        assert!(sql.contains("GROUP BY \"symbol\", window_start"), "{sql}");
        assert!(sql.starts_with("SELECT \"symbol\", window_start, window_start + INTERVAL"), "{sql}");
    }
}
