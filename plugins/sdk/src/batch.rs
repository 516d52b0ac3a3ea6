//! Views over the flat batch layout (see `wit/finlake.wit`), and the builder for results.

use crate::bindings::finlake::plugin::types::{Batch, BatchResult, Rejection};

/// Size of one record entry in `Batch::records`.
pub const RECORD_ENTRY: usize = 40;
/// Size of one row entry in `BatchResult::rows`.
pub const ROW_ENTRY: usize = 12;

/// One Kafka record, borrowed from the batch buffers.
pub struct Record<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the Unix epoch (-1 if unknown).
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: &'a [u8],
    headers: &'a [u8],
}

impl<'a> Record<'a> {
    /// The value as UTF-8 text, or a rejection reason.
    pub fn value_str(&self) -> Result<&'a str, String> {
        std::str::from_utf8(self.value).map_err(|e| format!("value is not UTF-8: {e}"))
    }

    /// The key as UTF-8 text, if there is one and it is text.
    pub fn key_str(&self) -> Option<&'a str> {
        self.key.and_then(|k| std::str::from_utf8(k).ok())
    }

    /// The record headers as (name, value) pairs.
    pub fn headers(&self) -> Vec<(&'a str, &'a [u8])> {
        let mut out = Vec::new();
        let mut rest = self.headers;
        while let Some((name, after)) = take_segment(rest) {
            let Some((value, after)) = take_segment(after) else { break };
            out.push((std::str::from_utf8(name).unwrap_or(""), value));
            rest = after;
        }
        out
    }
}

fn take_segment(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    let body = buf.get(4..4 + len)?;
    Some((body, &buf[4 + len..]))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline(always)]
fn u32_le(e: &[u8; RECORD_ENTRY], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&e[at..at + 4]);
    u32::from_le_bytes(x)
}

#[inline(always)]
fn i64_le(e: &[u8; RECORD_ENTRY], at: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&e[at..at + 8]);
    i64::from_le_bytes(x)
}

/// Collects the rows and rejections of one batch.
pub struct Emitter {
    result: BatchResult,
    current: u32,
}

impl Emitter {
    fn new(capacity: usize) -> Self {
        Emitter {
            result: BatchResult {
                outputs: Vec::new(),
                rows: Vec::with_capacity(capacity * ROW_ENTRY),
                data: Vec::with_capacity(capacity * 128),
                rejections: Vec::new(),
            },
            current: 0,
        }
    }

    fn output_index(&mut self, output: &str) -> u16 {
        match self.result.outputs.iter().position(|o| o == output) {
            Some(i) => i as u16,
            None => {
                self.result.outputs.push(output.to_string());
                (self.result.outputs.len() - 1) as u16
            }
        }
    }

    /// Emits a row (any value that serializes to a JSON object) to the named output.
    pub fn emit<T: serde::Serialize + ?Sized>(&mut self, output: &str, row: &T) {
        let start = self.result.data.len();
        if serde_json::to_writer(&mut self.result.data, row).is_err() {
            self.result.data.truncate(start);
            self.reject_current("row could not be serialized to JSON".to_string());
            return;
        }
        self.finish_row(output);
    }

    /// Emits a row written field by field ([`crate::JsonRow`]): the same JSON as [`Emitter::emit`]
    /// of a struct with those fields, for plugins whose rows are their hot path.
    pub fn emit_row(&mut self, output: &str, write: impl FnOnce(&mut crate::JsonRow<'_>)) {
        let mut row = crate::JsonRow::begin(&mut self.result.data);
        write(&mut row);
        row.end();
        self.finish_row(output);
    }

    /// Emits a row that is already a UTF-8 JSON object.
    pub fn emit_json(&mut self, output: &str, json: &[u8]) {
        self.result.data.extend_from_slice(json);
        self.finish_row(output);
    }

    fn finish_row(&mut self, output: &str) {
        let index = self.output_index(output);
        let rows = &mut self.result.rows;
        rows.extend_from_slice(&(self.result.data.len() as u32).to_le_bytes());
        rows.extend_from_slice(&self.current.to_le_bytes());
        rows.extend_from_slice(&index.to_le_bytes());
        rows.extend_from_slice(&[0, 0]);
    }

    fn reject_current(&mut self, reason: String) {
        self.result.rejections.push(Rejection { input: self.current, reason });
    }

    /// Drops the rows emitted since `rows_len` (bytes of `rows`), for a rejected record.
    fn truncate_rows(&mut self, rows_len: usize) {
        let data_len = if rows_len == 0 { 0 } else { u32_at(&self.result.rows, rows_len - ROW_ENTRY) as usize };
        self.result.rows.truncate(rows_len);
        self.result.data.truncate(data_len);
    }
}

/// Drives a per-record function over a batch. Used by [`crate::export_plugin!`].
pub fn run_batch(
    batch: &Batch,
    f: impl FnMut(&Record<'_>, &mut Emitter) -> Result<(), String>,
) -> Result<BatchResult, String> {
    run_parts(&batch.topic, &batch.records, &batch.data, f)
}

/// [`run_batch`] over the batch's parts (the native harness passes the host's buffers).
pub(crate) fn run_parts(
    topic: &str,
    records: &[u8],
    data: &[u8],
    mut f: impl FnMut(&Record<'_>, &mut Emitter) -> Result<(), String>,
) -> Result<BatchResult, String> {
    if !records.len().is_multiple_of(RECORD_ENTRY) {
        return Err(format!("malformed batch: records is {} bytes, not a multiple of {RECORD_ENTRY}", records.len()));
    }
    let (entries, _) = records.as_chunks::<RECORD_ENTRY>();
    let mut out = Emitter::new(entries.len());
    let mut start = 0usize;
    for (i, e) in entries.iter().enumerate() {
        // Fixed-size entries: the field reads below compile to plain loads, no bounds checks.
        let key_end = u32_le(e, 0) as usize;
        let value_end = u32_le(e, 4) as usize;
        let headers_end = u32_le(e, 8) as usize;
        let (Some(key), Some(value), Some(headers)) =
            (data.get(start..key_end), data.get(key_end..value_end), data.get(value_end..headers_end))
        else {
            return Err(format!("malformed batch: segment bounds of record {i} out of range"));
        };
        let record = Record {
            topic,
            partition: u32_le(e, 16) as i32,
            offset: i64_le(e, 24),
            timestamp: i64_le(e, 32),
            key: if u32_le(e, 12) & 1 == 1 { Some(key) } else { None },
            value,
            headers,
        };
        out.current = i as u32;
        let rows_before = out.result.rows.len();
        if let Err(reason) = f(&record, &mut out) {
            // A rejected record must not leave half its rows behind.
            out.truncate_rows(rows_before);
            out.reject_current(reason);
        }
        start = headers_end;
    }
    Ok(out.result)
}
