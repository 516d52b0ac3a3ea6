//! Host side of the flat batch layout (see `wit/finlake.wit`).

use super::{Batch, BatchResult};

/// Size of one record entry in `Batch::records`.
pub const RECORD_ENTRY: usize = 40;
/// Size of one row entry in `BatchResult::rows`.
pub const ROW_ENTRY: usize = 12;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    i64::from_le_bytes(x)
}

/// Accumulates Kafka records into one [`Batch`] without per-record allocations.
#[derive(Debug)]
pub struct BatchBuilder {
    batch: Batch,
}

impl BatchBuilder {
    pub fn new(topic: &str, capacity: usize) -> Self {
        BatchBuilder {
            batch: Batch {
                topic: topic.to_string(),
                records: Vec::with_capacity(capacity * RECORD_ENTRY),
                data: Vec::with_capacity(capacity * 192),
            },
        }
    }

    /// Appends one record. `headers` are (name, value) pairs.
    pub fn push<'h>(
        &mut self,
        key: Option<&[u8]>,
        value: &[u8],
        headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
        partition: i32,
        offset: i64,
        timestamp_ms: i64,
    ) {
        let b = &mut self.batch;
        b.data.extend_from_slice(key.unwrap_or_default());
        let key_end = b.data.len() as u32;
        b.data.extend_from_slice(value);
        let value_end = b.data.len() as u32;
        for (name, v) in headers {
            b.data.extend_from_slice(&(name.len() as u32).to_le_bytes());
            b.data.extend_from_slice(name.as_bytes());
            b.data.extend_from_slice(&(v.len() as u32).to_le_bytes());
            b.data.extend_from_slice(v);
        }
        let headers_end = b.data.len() as u32;
        let r = &mut b.records;
        r.extend_from_slice(&key_end.to_le_bytes());
        r.extend_from_slice(&value_end.to_le_bytes());
        r.extend_from_slice(&headers_end.to_le_bytes());
        r.extend_from_slice(&u32::from(key.is_some()).to_le_bytes());
        r.extend_from_slice(&partition.to_le_bytes());
        r.extend_from_slice(&0u32.to_le_bytes());
        r.extend_from_slice(&offset.to_le_bytes());
        r.extend_from_slice(&timestamp_ms.to_le_bytes());
    }

    pub fn len(&self) -> usize {
        self.batch.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> usize {
        self.batch.data.len()
    }

    pub fn finish(self) -> Batch {
        self.batch
    }
}

/// Read access to the records of a [`Batch`]. Indices must be `< len()`.
pub trait BatchExt {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn partition(&self, i: usize) -> i32;
    fn offset(&self, i: usize) -> i64;
    fn timestamp(&self, i: usize) -> i64;
    fn key(&self, i: usize) -> Option<&[u8]>;
    fn value(&self, i: usize) -> &[u8];
    fn headers(&self, i: usize) -> Vec<(String, Vec<u8>)>;
}

impl Batch {
    fn entry(&self, i: usize) -> &[u8] {
        &self.records[i * RECORD_ENTRY..(i + 1) * RECORD_ENTRY]
    }

    fn segment_start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { u32_at(self.entry(i - 1), 8) as usize }
    }
}

impl BatchExt for Batch {
    fn len(&self) -> usize {
        self.records.len() / RECORD_ENTRY
    }
    fn partition(&self, i: usize) -> i32 {
        u32_at(self.entry(i), 16) as i32
    }
    fn offset(&self, i: usize) -> i64 {
        i64_at(self.entry(i), 24)
    }
    fn timestamp(&self, i: usize) -> i64 {
        i64_at(self.entry(i), 32)
    }
    fn key(&self, i: usize) -> Option<&[u8]> {
        let e = self.entry(i);
        (u32_at(e, 12) & 1 == 1).then(|| &self.data[self.segment_start(i)..u32_at(e, 0) as usize])
    }
    fn value(&self, i: usize) -> &[u8] {
        let e = self.entry(i);
        &self.data[u32_at(e, 0) as usize..u32_at(e, 4) as usize]
    }
    fn headers(&self, i: usize) -> Vec<(String, Vec<u8>)> {
        let e = self.entry(i);
        let mut rest = &self.data[u32_at(e, 4) as usize..u32_at(e, 8) as usize];
        let mut out = Vec::new();
        let take = |buf: &[u8]| -> Option<usize> {
            let len = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?) as usize;
            (buf.len() >= 4 + len).then_some(4 + len)
        };
        while let Some(end) = take(rest) {
            let name = String::from_utf8_lossy(&rest[4..end]).into_owned();
            rest = &rest[end..];
            let Some(end) = take(rest) else { break };
            out.push((name, rest[4..end].to_vec()));
            rest = &rest[end..];
        }
        out
    }
}

/// Copies records `indices` of `batch` into a new batch (used to split a failing batch).
pub fn select(batch: &Batch, indices: &[usize]) -> Batch {
    let mut out = BatchBuilder::new(&batch.topic, indices.len());
    for &i in indices {
        let headers = batch.headers(i);
        out.push(
            batch.key(i),
            batch.value(i),
            headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())),
            batch.partition(i),
            batch.offset(i),
            batch.timestamp(i),
        );
    }
    out.finish()
}

/// One output row of a [`BatchResult`].
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    pub output: &'a str,
    pub input: usize,
    pub json: &'a [u8],
}

/// Checks a result's layout against its input batch and returns its rows in order.
pub fn rows_of(result: &BatchResult, inputs: usize) -> Result<Vec<RowRef<'_>>, String> {
    if !result.rows.len().is_multiple_of(ROW_ENTRY) {
        return Err(format!("rows is {} bytes, not a multiple of {ROW_ENTRY}", result.rows.len()));
    }
    let mut rows = Vec::with_capacity(result.rows.len() / ROW_ENTRY);
    let mut start = 0usize;
    for (j, e) in result.rows.chunks_exact(ROW_ENTRY).enumerate() {
        let end = u32_at(e, 0) as usize;
        let input = u32_at(e, 4) as usize;
        let output = u16::from_le_bytes([e[8], e[9]]);
        let json =
            result.data.get(start..end).ok_or_else(|| format!("row {j} spans {start}..{end}, outside the data"))?;
        let output = result
            .outputs
            .get(output as usize)
            .ok_or_else(|| format!("row {j} names output #{output}, which is not listed"))?;
        if input >= inputs {
            return Err(format!("row {j} claims input {input} of a batch of {inputs}"));
        }
        rows.push(RowRef { output, input, json });
        start = end;
    }
    for r in &result.rejections {
        if r.input as usize >= inputs {
            return Err(format!("a rejection claims input {} of a batch of {inputs}", r.input));
        }
    }
    Ok(rows)
}

/// Rows one input record may turn into in one call.
pub const MAX_ROWS_PER_INPUT: usize = 1000;
/// A call's row bytes may be this multiple of its input's bytes, plus [`ROW_BYTES_SLACK`].
pub const ROW_BYTES_FACTOR: usize = 64;
pub const ROW_BYTES_SLACK: usize = 16 << 20;
/// Longest output name and rejection reason, in bytes.
pub const MAX_OUTPUT_NAME: usize = 128;
pub const MAX_REASON: usize = 8 << 10;

/// Bounds what a batch result may cost the host, before the host copies anything out of it:
/// every output a row is addressed to must be `declared` (when the stage declares outputs),
/// rows and row bytes are capped relative to the input, and there is at most one rejection per
/// input, each with a reason of bounded length. A result over a bound is refused like a trap.
pub fn check_cost(result: &BatchResult, input: &Batch, declared: Option<&dyn Fn(&str) -> bool>) -> Result<(), String> {
    let inputs = input.len().max(1);
    let rows = result.rows.len() / ROW_ENTRY;
    if rows > inputs * MAX_ROWS_PER_INPUT {
        return Err(format!(
            "{rows} rows from {} input records: over the limit of {MAX_ROWS_PER_INPUT} rows per record",
            input.len()
        ));
    }
    let budget = (input.data.len() + input.records.len()).saturating_mul(ROW_BYTES_FACTOR) + ROW_BYTES_SLACK;
    if result.data.len() > budget {
        return Err(format!(
            "{} bytes of rows from {} bytes of input: over the limit of {budget} bytes",
            result.data.len(),
            input.data.len()
        ));
    }
    let mut used = vec![false; result.outputs.len()];
    for e in result.rows.chunks_exact(ROW_ENTRY) {
        if let Some(u) = used.get_mut(u16::from_le_bytes([e[8], e[9]]) as usize) {
            *u = true;
        }
    }
    for (name, _) in result.outputs.iter().zip(&used).filter(|(_, u)| **u) {
        if name.len() > MAX_OUTPUT_NAME {
            return Err(format!("an output name is {} bytes long (limit {MAX_OUTPUT_NAME})", name.len()));
        }
        if let Some(declared) = declared
            && !declared(name)
        {
            return Err(format!("rows addressed to output {name:?}, which the stage's outputs do not map"));
        }
    }
    if result.rejections.len() > input.len() {
        return Err(format!("{} rejections for {} input records", result.rejections.len(), input.len()));
    }
    let mut rejected = vec![false; input.len()];
    for r in &result.rejections {
        match rejected.get_mut(r.input as usize) {
            Some(seen) if *seen => return Err(format!("input {} is rejected twice", r.input)),
            Some(seen) => *seen = true,
            None => return Err(format!("a rejection claims input {} of a batch of {}", r.input, input.len())),
        }
        if r.reason.len() > MAX_REASON {
            return Err(format!("a rejection reason is {} bytes long (limit {MAX_REASON})", r.reason.len()));
        }
    }
    Ok(())
}
