//! Maps a path into the TOML document (`pipelines[0].stages[1].plugin`) to line:col, so
//! semantic problems point at the text that causes them.

use toml::de::{DeTable, DeValue};

/// One step of a path into the document.
#[derive(Debug, Clone)]
pub enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A parsed document that can answer "where is this?".
pub struct Located<'t> {
    text: &'t str,
    root: Option<toml::Spanned<DeTable<'t>>>,
}

impl<'t> Located<'t> {
    pub fn new(text: &'t str) -> Self {
        Located { text, root: DeTable::parse(text).ok() }
    }

    /// Line and column (1-based) of the deepest existing element on `path`.
    pub fn position(&self, path: &[Step<'_>]) -> (usize, usize) {
        let Some(root) = &self.root else { return (1, 1) };
        let mut span = root.span();
        let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
        let mut value: Option<&DeValue<'_>> = None;
        for step in path {
            let next = match (step, table, value) {
                (Step::Key(k), Some(t), _) => {
                    t.iter().find(|(key, _)| key.get_ref().as_ref() == *k).map(|(key, v)| (key.span(), v))
                }
                (Step::Index(i), _, Some(DeValue::Array(a))) => a.get(*i).map(|v| (v.span(), v)),
                _ => None,
            };
            let Some((key_span, v)) = next else { break };
            // Point at the key for scalars (where the user reads the name), at the element
            // for array items.
            span = if matches!(step, Step::Key(_)) { key_span } else { v.span() };
            value = Some(v.get_ref());
            table = match v.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        line_col(self.text, span.start)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}
