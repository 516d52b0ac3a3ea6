//! Views over the flat batch layout, and the builder for results.

use crate::bindings::finlake::plugin::types::{Batch, BatchResult, Rejection};

/// One Kafka record, borrowed from the batch buffer.
pub struct Record<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the Unix epoch.
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

/// Collects the rows and rejections of one batch.
pub struct Emitter {
    result: BatchResult,
    current: u32,
}

impl Emitter {
    fn new() -> Self {
        Emitter {
            result: BatchResult {
                outputs: Vec::new(),
                data: Vec::new(),
                row_ends: Vec::new(),
                row_inputs: Vec::new(),
                row_outputs: Vec::new(),
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

    /// Emits a row that is already a UTF-8 JSON object.
    pub fn emit_json(&mut self, output: &str, json: &[u8]) {
        self.result.data.extend_from_slice(json);
        self.finish_row(output);
    }

    fn finish_row(&mut self, output: &str) {
        let index = self.output_index(output);
        self.result.row_ends.push(self.result.data.len() as u32);
        self.result.row_inputs.push(self.current);
        self.result.row_outputs.push(index);
    }

    fn reject_current(&mut self, reason: String) {
        self.result.rejections.push(Rejection { input: self.current, reason });
    }
}

/// Drives a per-record function over a batch. Used by [`crate::export_plugin!`].
pub fn run_batch(
    batch: &Batch,
    mut f: impl FnMut(&Record<'_>, &mut Emitter) -> Result<(), String>,
) -> Result<BatchResult, String> {
    let n = batch.offsets.len();
    if batch.ends.len() != n * 3 {
        return Err(format!("malformed batch: {} records but {} segment ends", n, batch.ends.len()));
    }
    let mut out = Emitter::new();
    out.result.data.reserve(batch.data.len());
    let mut start = 0usize;
    for i in 0..n {
        let key_end = batch.ends[3 * i] as usize;
        let value_end = batch.ends[3 * i + 1] as usize;
        let headers_end = batch.ends[3 * i + 2] as usize;
        let (Some(key), Some(value), Some(headers)) = (
            batch.data.get(start..key_end),
            batch.data.get(key_end..value_end),
            batch.data.get(value_end..headers_end),
        ) else {
            return Err(format!("malformed batch: segment bounds of record {i} out of range"));
        };
        let record = Record {
            topic: &batch.topic,
            partition: batch.partitions[i],
            offset: batch.offsets[i],
            timestamp: batch.timestamps[i],
            key: if batch.has_key[i] { Some(key) } else { None },
            value,
            headers,
        };
        out.current = i as u32;
        let rows_before = out.result.row_ends.len();
        if let Err(reason) = f(&record, &mut out) {
            // A rejected record must not leave half its rows behind.
            let keep = rows_before;
            let data_len = if keep == 0 { 0 } else { out.result.row_ends[keep - 1] as usize };
            out.result.row_ends.truncate(keep);
            out.result.row_inputs.truncate(keep);
            out.result.row_outputs.truncate(keep);
            out.result.data.truncate(data_len);
            out.reject_current(reason);
        }
        start = headers_end;
    }
    Ok(out.result)
}
