//! Writing a JSON row field by field, straight into the batch's buffer.
//!
//! `Emitter::emit` of a `#[derive(Serialize)]` struct is the simple way to emit a row. For a
//! plugin whose rows are its hot path, [`JsonRow`] writes the same JSON text at a fraction of
//! the cost: each key and each string that needs no escaping is copied in one piece, where
//! serde goes through its map serializer and escapes byte by byte (a third of fraud-score's
//! time per transaction, docs/PERFORMANCE.md). Numbers are formatted by serde_json's own
//! formatter, so the text is the same as `serde_json::to_writer` of the same fields.

use std::{fmt, io};

use serde_json::ser::{CompactFormatter, Formatter};

/// One JSON object being written (see the module docs). Fields appear in the order written;
/// [`JsonRow::end`] closes the object.
///
/// ```
/// let mut buf = Vec::new();
/// let mut row = finlake_plugin_sdk::JsonRow::begin(&mut buf);
/// row.str("symbol", "AAPL").f64("price", 189.5).i64("quantity", 100).opt_str("venue", None);
/// row.end();
/// assert_eq!(buf, br#"{"symbol":"AAPL","price":189.5,"quantity":100,"venue":null}"#);
/// ```
pub struct JsonRow<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> JsonRow<'a> {
    /// Starts an object at the end of `out`.
    pub fn begin(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        JsonRow { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        string(self.out, key);
        self.out.push(b':');
    }

    /// A text field.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        string(self.out, value);
        self
    }

    /// A text field, `null` when absent.
    pub fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.str(key, v),
            None => self.null(key),
        }
    }

    /// A text field written by `Display` (no intermediate `String`).
    pub fn display(&mut self, key: &str, value: impl fmt::Display) -> &mut Self {
        use fmt::Write as _;
        self.key(key);
        self.out.push(b'"');
        // Writing into a Vec cannot fail; a Display impl that errs leaves what it wrote.
        let _ = write!(Fragments(self.out), "{value}");
        self.out.push(b'"');
        self
    }

    /// A number field; `null` when not finite, as serde_json writes it.
    pub fn f64(&mut self, key: &str, value: f64) -> &mut Self {
        self.key(key);
        if value.is_finite() {
            // Writing into a Vec cannot fail.
            let _ = CompactFormatter.write_f64(&mut Put(self.out), value);
        } else {
            self.out.extend_from_slice(b"null");
        }
        self
    }

    /// A number field, `null` when absent.
    pub fn opt_f64(&mut self, key: &str, value: Option<f64>) -> &mut Self {
        match value {
            Some(v) => self.f64(key, v),
            None => self.null(key),
        }
    }

    /// An integer field.
    pub fn i64(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        let _ = CompactFormatter.write_i64(&mut Put(self.out), value);
        self
    }

    /// An unsigned integer field.
    pub fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        let _ = CompactFormatter.write_u64(&mut Put(self.out), value);
        self
    }

    /// A boolean field.
    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        // Two fixed-length copies (one of variable length is a call into the host in Wasm).
        if value {
            self.out.extend_from_slice(b"true");
        } else {
            self.out.extend_from_slice(b"false");
        }
        self
    }

    /// A `null` field.
    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.out.extend_from_slice(b"null");
        self
    }

    /// A field whose value is any serde value (a nested object, a `serde_json::Value`).
    pub fn value<T: serde::Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<&mut Self, String> {
        self.key(key);
        serde_json::to_writer(&mut *self.out, value).map_err(|e| format!("field {key}: {e}"))?;
        Ok(self)
    }

    /// Closes the object.
    pub fn end(self) {
        self.out.push(b'}');
    }
}

/// Whether `b` must be escaped in a JSON string (as serde_json escapes: quote, backslash and
/// control characters; nothing else).
#[inline(always)]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Appends `s` as a JSON string.
fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    fragment(out, s);
    out.push(b'"');
}

/// Whether no byte of `s` needs escaping, eight bytes at a time (a test per byte was most of
/// the cost of writing a row).
#[inline]
fn clean(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Exact for "is there any such byte": a byte below n (n ≤ 128), a byte equal to zero.
    let below = |v: u64, n: u8| v.wrapping_sub(ONES * n as u64) & !v & HIGH;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let (chunks, rest) = s.as_chunks::<8>();
    for chunk in chunks {
        let v = u64::from_le_bytes(*chunk);
        if below(v, 0x20) | zero(v ^ (ONES * b'"' as u64)) | zero(v ^ (ONES * b'\\' as u64)) != 0 {
            return false;
        }
    }
    !rest.iter().any(|&b| needs_escape(b))
}

/// Appends the inside of a JSON string: in one piece unless a byte needs escaping.
#[inline]
fn fragment(out: &mut Vec<u8>, s: &str) {
    if clean(s.as_bytes()) {
        put(out, s.as_bytes());
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&s.as_bytes()[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
}

/// Appends `bytes` to `out`. In Wasm a copy whose length is not known when compiling is a
/// `memory.copy`, which wasmtime carries out as a call into the host: dearer than copying a
/// field name or a number, the usual fragment. Up to 32 bytes are copied here as at most four
/// overlapping words, inline.
#[inline]
fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if !(4..=32).contains(&n) {
        if n > 32 {
            out.extend_from_slice(bytes);
        } else {
            // 0–3 bytes: as many pushes.
            for &b in bytes {
                out.push(b);
            }
        }
        return;
    }
    out.reserve(n);
    let start = out.len();
    let spare = &mut out.spare_capacity_mut()[..n];
    // Each write is a fixed-size store; together they cover 0..n (overlaps write equal bytes).
    let mut store = |at: usize, word: &[u8]| {
        for (slot, &b) in spare[at..at + word.len()].iter_mut().zip(word) {
            slot.write(b);
        }
    };
    if n < 8 {
        store(0, &bytes[..4]);
        store(n - 4, &bytes[n - 4..]);
    } else {
        store(0, &bytes[..8]);
        store(n - 8, &bytes[n - 8..]);
        if n > 16 {
            store(8, &bytes[8..16]);
            store(n - 16, &bytes[n - 16..n - 8]);
        }
    }
    // SAFETY: `reserve(n)` made room for n bytes after `start`, and the stores above wrote
    // every one of them (0..4 and n-4..n cover 0..n for n < 8; likewise 0..8 and n-8..n for
    // n ≤ 16, with 8..16 and n-16..n-8 added above that).
    unsafe { out.set_len(start + n) };
}

/// `io::Write` through [`put`] (numbers are formatted into a buffer and written in one piece).
struct Put<'a>(&'a mut Vec<u8>);

impl io::Write for Put<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        put(self.0, buf);
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        put(self.0, buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `fmt::Write` that escapes what it is given as the inside of a JSON string.
struct Fragments<'a>(&'a mut Vec<u8>);

impl fmt::Write for Fragments<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        fragment(self.0, s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_appends_exactly_the_bytes_at_every_length() {
        let source: Vec<u8> = (0..80u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        for prefix in [0, 1, 7] {
            for n in 0..=source.len() {
                let mut out = vec![b'x'; prefix];
                out.shrink_to_fit();
                put(&mut out, &source[..n]);
                put(&mut out, &source[n..]);
                assert_eq!(out[..prefix], vec![b'x'; prefix][..]);
                assert_eq!(&out[prefix..], &source[..], "prefix {prefix}, split at {n}");
            }
        }
    }

    #[derive(serde::Serialize)]
    struct Row<'a> {
        text: &'a str,
        none: Option<&'a str>,
        x: f64,
        nan: f64,
        big: f64,
        small: f64,
        n: i64,
        u: u64,
        flag: bool,
        shown: String,
    }

    #[test]
    fn writes_what_serde_json_writes() {
        let texts = ["plain", "", "quote \" and \\ back", "ctl \u{1}\u{8}\u{c}\n\r\t\u{1f}", "ünïcødé / ✓ 🦀"];
        for text in texts {
            for x in [0.0, -0.0, 1.0, 0.1, 189.5, 1e21, 1.5e-7, -123456.789] {
                let expected = serde_json::to_vec(&Row {
                    text,
                    none: None,
                    x,
                    nan: f64::NAN,
                    big: f64::INFINITY,
                    small: f64::MIN_POSITIVE,
                    n: i64::MIN,
                    u: u64::MAX,
                    flag: true,
                    shown: format!("{text}|{x}"),
                })
                .unwrap();
                let mut out = b"prefix".to_vec();
                let mut row = JsonRow::begin(&mut out);
                row.str("text", text)
                    .opt_str("none", None)
                    .f64("x", x)
                    .f64("nan", f64::NAN)
                    .f64("big", f64::INFINITY)
                    .f64("small", f64::MIN_POSITIVE)
                    .i64("n", i64::MIN)
                    .u64("u", u64::MAX)
                    .bool("flag", true)
                    .display("shown", format_args!("{text}|{x}"));
                row.end();
                assert_eq!(
                    String::from_utf8_lossy(&out[6..]),
                    String::from_utf8_lossy(&expected),
                    "text {text:?}, x {x}"
                );
            }
        }
    }

    #[test]
    fn the_word_at_a_time_check_finds_every_byte_that_needs_escaping() {
        for len in 0..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    assert_eq!(clean(&s), !needs_escape(b), "byte {b:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn nested_values_and_escaped_keys() {
        let mut out = Vec::new();
        let mut row = JsonRow::begin(&mut out);
        row.value("v", &serde_json::json!({"a": [1, 2]})).unwrap().str("k\"ey", "x");
        row.end();
        assert_eq!(out, br#"{"v":{"a":[1,2]},"k\"ey":"x"}"#);
        let mut empty = Vec::new();
        JsonRow::begin(&mut empty).end();
        assert_eq!(empty, b"{}");
    }
}
