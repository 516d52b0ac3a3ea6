//! Config problems as the host reports them, `file:line:col: message`, and the places in the
//! editor's text they point at.

/// One problem, located when its text says where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: Option<String>,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based.
    pub col: Option<usize>,
    pub message: String,
}

fn digits(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Reads `file:line:col: message` (or `file:line: message`). The file may itself contain
/// colons (`C:\x.toml`), so the first `:<n>:<n>:` (or `:<n>:`) run decides. Text without a
/// place is kept whole as the message.
pub fn parse(text: &str) -> Problem {
    let text = text.trim();
    let unplaced = || Problem { file: None, line: None, col: None, message: text.to_string() };
    for (i, _) in text.match_indices(':') {
        let rest = &text[i + 1..];
        let mut parts = rest.splitn(3, ':');
        let (Some(a), Some(b)) = (parts.next(), parts.next()) else { continue };
        let Some(line) = digits(a) else { continue };
        let (col, message) = match (digits(b), parts.next()) {
            (Some(col), Some(msg)) => (Some(col), msg),
            // `file:line: message`: what follows the line is the message.
            (None, tail) => (
                None,
                match tail {
                    Some(t) => &rest[a.len() + 1..a.len() + 1 + b.len() + 1 + t.len()],
                    None => b,
                },
            ),
            (Some(_), None) => continue,
        };
        if line == 0 {
            continue;
        }
        let file = &text[..i];
        return Problem {
            file: (!file.is_empty()).then(|| file.to_string()),
            line: Some(line),
            col,
            message: message.trim().to_string(),
        };
    }
    unplaced()
}

/// The offset, in UTF-16 code units (what a textarea's selection counts), of `line` (1-based)
/// and `col` (1-based, in characters) in `text`; past the end clamps to the end.
pub fn utf16_offset(text: &str, line: usize, col: usize) -> u32 {
    let mut offset = 0usize;
    for (i, l) in text.split('\n').enumerate() {
        if i + 1 == line {
            let within: usize = l.chars().take(col.saturating_sub(1)).map(char::len_utf16).sum();
            return (offset + within) as u32;
        }
        offset += l.encode_utf16().count() + 1;
    }
    text.encode_utf16().count() as u32
}

/// The 1-based lines of `problems` that have one, sorted, each once.
pub fn marked_lines(problems: &[Problem]) -> Vec<usize> {
    let mut lines: Vec<usize> = problems.iter().filter_map(|p| p.line).collect();
    lines.sort_unstable();
    lines.dedup();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_file_line_col_message() {
        let p = parse("pipelines.toml:12:5: unknown field `topc`, expected `topic`");
        assert_eq!(p.file.as_deref(), Some("pipelines.toml"));
        assert_eq!((p.line, p.col), (Some(12), Some(5)));
        assert_eq!(p.message, "unknown field `topc`, expected `topic`");
    }

    #[test]
    fn colons_in_paths_and_messages() {
        let p = parse(r"C:\cfg\pipelines.toml:3:1: table a: no such table: b");
        assert_eq!(p.file.as_deref(), Some(r"C:\cfg\pipelines.toml"));
        assert_eq!((p.line, p.col), (Some(3), Some(1)));
        assert_eq!(p.message, "table a: no such table: b");
        let p = parse("/etc/finlake/pipelines.toml:7: missing [kafka]");
        assert_eq!((p.line, p.col), (Some(7), None));
        assert_eq!(p.message, "missing [kafka]");
        let p = parse("cfg.toml:7: a: b");
        assert_eq!((p.line, p.col, p.message.as_str()), (Some(7), None, "a: b"));
    }

    #[test]
    fn unplaced_text_is_kept() {
        let p = parse("the config has no pipelines");
        assert_eq!((p.file, p.line, p.col), (None, None, None));
        assert_eq!(p.message, "the config has no pipelines");
        assert_eq!(parse("ratio: 0:1 is odd").line, None);
    }

    #[test]
    fn offsets_count_utf16_units() {
        let text = "a = 1\n# é😀\nb = 2";
        assert_eq!(utf16_offset(text, 1, 1), 0);
        assert_eq!(utf16_offset(text, 2, 1), 6);
        // "# é😀" is 5 units (the emoji takes two) plus its newline.
        assert_eq!(utf16_offset(text, 3, 1), 12);
        assert_eq!(utf16_offset(text, 3, 3), 14);
        assert_eq!(utf16_offset(text, 2, 99), 11);
        assert_eq!(utf16_offset(text, 9, 1), text.encode_utf16().count() as u32);
    }

    #[test]
    fn marked_lines_are_unique() {
        let ps: Vec<Problem> = ["f:3:1: a", "f:1:1: b", "f:3:9: c", "nowhere"].iter().map(|t| parse(t)).collect();
        assert_eq!(marked_lines(&ps), vec![1, 3]);
    }
}
