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
        let k = key.as_bytes();
        if !clean(k) {
            if !self.first {
                self.out.push(b',');
            }
            self.first = false;
            string(self.out, key);
            self.out.push(b':');
            return;
        }
        let mut room = Room::new(self.out, k.len() + 4);
        // SAFETY: at most 1 + 1 + k.len() + 2 bytes, the room asked for.
        unsafe { room.key(k, self.first) };
        room.done();
        self.first = false;
    }

    /// A text field.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        let (k, v) = (key.as_bytes(), value.as_bytes());
        if clean(k) && clean(v) {
            // The usual case, in one reservation: `,"key":"value"`.
            let mut room = Room::new(self.out, k.len() + v.len() + 6);
            // SAFETY: at most k.len() + 4 bytes for the key and v.len() + 2 for the value.
            unsafe {
                room.key(k, self.first);
                room.byte(b'"');
                room.bytes(v);
                room.byte(b'"');
            }
            room.done();
            self.first = false;
        } else {
            self.key(key);
            string(self.out, value);
        }
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
    if clean(s.as_bytes()) {
        let mut room = Room::new(out, s.len() + 2);
        // SAFETY: two quotes and s.len() bytes, the room asked for.
        unsafe {
            room.byte(b'"');
            room.bytes(s.as_bytes());
            room.byte(b'"');
        }
        room.done();
        return;
    }
    out.push(b'"');
    fragment(out, s);
    out.push(b'"');
}

/// Whether no byte of `s` needs escaping, eight bytes at a time (a test per byte was most of
/// the cost of writing a row). The bytes past the last whole word are read as one more word,
/// overlapping the one before (or, under 8 bytes, as overlapping halves): a loop over single
/// bytes, with wasmtime's interruption check on every turn, cost more than the words before it.
#[inline]
fn clean(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Exact for "is there any such byte": a byte below n (n ≤ 128), a byte equal to zero.
    let below = |v: u64, n: u8| v.wrapping_sub(ONES * n as u64) & !v & HIGH;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let bad = |v: u64| below(v, 0x20) | zero(v ^ (ONES * b'"' as u64)) | zero(v ^ (ONES * b'\\' as u64));
    let n = s.len();
    let word = |at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"));
    let half = |at: usize| u64::from(u32::from_le_bytes(s[at..at + 4].try_into().expect("four bytes")));
    match n {
        0 => true,
        // The first, middle and last byte cover all of them; the rest of the word is a clean 'a'.
        1..4 => {
            bad(0x6161_6161_6100_0000 | u64::from(s[0]) | u64::from(s[n / 2]) << 8 | u64::from(s[n - 1]) << 16) == 0
        }
        4..8 => bad(half(0) | half(n - 4) << 32) == 0,
        _ => {
            let (chunks, _) = s.as_chunks::<8>();
            let mut found = bad(word(n - 8));
            for chunk in chunks {
                found |= bad(u64::from_le_bytes(*chunk));
            }
            found == 0
        }
    }
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

/// Appends `bytes` to `out` (see [`Room::bytes`]).
#[inline]
fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut room = Room::new(out, bytes.len());
    // SAFETY: the room is bytes.len() long.
    unsafe { room.bytes(bytes) };
    room.done();
}

/// Room reserved at the end of a row's buffer, written through a raw cursor and committed
/// with one length update. Pushing byte by byte through `&mut Vec` checks the capacity at
/// every byte and, since a byte store may alias the Vec's own fields, reloads its pointer and
/// length after each one: most of the cost of a short field in Wasm.
struct Room<'v> {
    out: &'v mut Vec<u8>,
    at: *mut u8,
    written: usize,
    room: usize,
}

impl<'v> Room<'v> {
    #[inline(always)]
    fn new(out: &'v mut Vec<u8>, room: usize) -> Self {
        out.reserve(room);
        // SAFETY: `reserve` made `room` bytes of capacity past the length.
        let at = unsafe { out.as_mut_ptr().add(out.len()) };
        Room { out, at, written: 0, room }
    }

    /// One byte. Safety: fewer than `room` bytes written so far.
    #[inline(always)]
    unsafe fn byte(&mut self, b: u8) {
        debug_assert!(self.written < self.room);
        unsafe { self.at.add(self.written).write(b) };
        self.written += 1;
    }

    /// `,"key":` (no comma first). Safety: room for `key.len() + 4` more bytes.
    #[inline(always)]
    unsafe fn key(&mut self, key: &[u8], first: bool) {
        unsafe {
            if !first {
                self.byte(b',');
            }
            self.byte(b'"');
            self.bytes(key);
            self.byte(b'"');
            self.byte(b':');
        }
    }

    /// `bytes`. Safety: room for `bytes.len()` more bytes.
    ///
    /// In Wasm a copy whose length is not known when compiling is a `memory.copy`, which
    /// wasmtime carries out as a call into the host: dearer than copying a field name or a
    /// number, the usual fragment. Up to 32 bytes are copied here as at most four overlapping
    /// words, inline.
    #[inline(always)]
    unsafe fn bytes(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        debug_assert!(self.written + n <= self.room);
        let src = bytes.as_ptr();
        // SAFETY (all arms): reads stay within `bytes` and writes within the n bytes at `dst`,
        // which the caller vouches for; read/write_unaligned allow any alignment. Overlapping
        // word stores write equal bytes twice.
        unsafe {
            let dst = self.at.add(self.written);
            let word4 =
                |at: usize| dst.add(at).cast::<u32>().write_unaligned(src.add(at).cast::<u32>().read_unaligned());
            let word8 =
                |at: usize| dst.add(at).cast::<u64>().write_unaligned(src.add(at).cast::<u64>().read_unaligned());
            match n {
                0..4 => {
                    for i in 0..n {
                        dst.add(i).write(*src.add(i));
                    }
                }
                4..8 => {
                    word4(0);
                    word4(n - 4);
                }
                8..=16 => {
                    word8(0);
                    word8(n - 8);
                }
                17..=32 => {
                    word8(0);
                    word8(8);
                    word8(n - 16);
                    word8(n - 8);
                }
                _ => std::ptr::copy_nonoverlapping(src, dst, n),
            }
        }
        self.written += n;
    }

    /// Makes what was written part of the buffer.
    #[inline(always)]
    fn done(self) {
        debug_assert!(self.written <= self.room);
        let len = self.out.len() + self.written;
        // SAFETY: the `written` bytes past the length were initialised above, within the
        // capacity reserved in `new`.
        unsafe { self.out.set_len(len) };
    }
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
        for len in 0..40 {
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
