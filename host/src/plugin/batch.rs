//! Host side of the flat batch layout (see `wit/finlake.wit`).

use super::{Batch, BatchResult};

use finlake_records::layout::{self, ResultParts};
pub use finlake_records::layout::{RECORD_ENTRY, RowRef};

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

fn parts(result: &BatchResult) -> ResultParts<'_> {
    ResultParts { outputs: &result.outputs, rows: &result.rows, data: &result.data }
}

/// Checks a result's layout against its input batch and returns its rows in order.
pub fn rows_of(result: &BatchResult, inputs: usize) -> Result<Vec<RowRef<'_>>, String> {
    layout::rows(parts(result), result.rejections.iter().map(|r| r.input), inputs)
}

/// Bounds what a batch result may cost the host, before anything is copied out of it (see
/// [`finlake_records::layout::check_cost`]): refused like a trap when over.
pub fn check_cost(result: &BatchResult, input: &Batch, declared: Option<&dyn Fn(&str) -> bool>) -> Result<(), String> {
    let rejections = result.rejections.iter().map(|r| (r.input, r.reason.len()));
    layout::check_cost(parts(result), rejections, input.len(), input.data.len() + input.records.len(), declared)
}
