//! Host side of the flat batch layout (see `wit/finlake.wit`).

use super::{Batch, BatchResult};

/// Accumulates Kafka records into one [`Batch`] without per-record allocations.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    batch: Option<Batch>,
}

impl BatchBuilder {
    pub fn new(topic: &str, capacity: usize) -> Self {
        BatchBuilder {
            batch: Some(Batch {
                topic: topic.to_string(),
                data: Vec::with_capacity(capacity * 192),
                ends: Vec::with_capacity(capacity * 3),
                has_key: Vec::with_capacity(capacity),
                partitions: Vec::with_capacity(capacity),
                offsets: Vec::with_capacity(capacity),
                timestamps: Vec::with_capacity(capacity),
            }),
        }
    }

    fn b(&mut self) -> &mut Batch {
        self.batch.get_or_insert_with(|| Batch {
            topic: String::new(),
            data: vec![],
            ends: vec![],
            has_key: vec![],
            partitions: vec![],
            offsets: vec![],
            timestamps: vec![],
        })
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
        let b = self.b();
        b.data.extend_from_slice(key.unwrap_or_default());
        b.ends.push(b.data.len() as u32);
        b.data.extend_from_slice(value);
        b.ends.push(b.data.len() as u32);
        for (name, v) in headers {
            b.data.extend_from_slice(&(name.len() as u32).to_le_bytes());
            b.data.extend_from_slice(name.as_bytes());
            b.data.extend_from_slice(&(v.len() as u32).to_le_bytes());
            b.data.extend_from_slice(v);
        }
        b.ends.push(b.data.len() as u32);
        b.has_key.push(key.is_some());
        b.partitions.push(partition);
        b.offsets.push(offset);
        b.timestamps.push(timestamp_ms);
    }

    pub fn len(&self) -> usize {
        self.batch.as_ref().map_or(0, |b| b.offsets.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> usize {
        self.batch.as_ref().map_or(0, |b| b.data.len())
    }

    pub fn finish(mut self) -> Batch {
        self.b();
        self.batch.take().unwrap_or_else(|| unreachable!("b() always fills the batch"))
    }
}

/// Views of one record inside a [`Batch`].
pub fn record_key(batch: &Batch, i: usize) -> Option<&[u8]> {
    let start = if i == 0 { 0 } else { batch.ends[3 * i - 1] as usize };
    batch.has_key[i].then(|| &batch.data[start..batch.ends[3 * i] as usize])
}

pub fn record_value(batch: &Batch, i: usize) -> &[u8] {
    &batch.data[batch.ends[3 * i] as usize..batch.ends[3 * i + 1] as usize]
}

pub fn record_headers(batch: &Batch, i: usize) -> Vec<(String, Vec<u8>)> {
    let mut rest = &batch.data[batch.ends[3 * i + 1] as usize..batch.ends[3 * i + 2] as usize];
    let mut out = Vec::new();
    let take = |buf: &[u8]| -> Option<(usize, usize)> {
        let len = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?) as usize;
        (buf.len() >= 4 + len).then_some((4, 4 + len))
    };
    while let Some((s, e)) = take(rest) {
        let name = String::from_utf8_lossy(&rest[s..e]).into_owned();
        rest = &rest[e..];
        let Some((s, e)) = take(rest) else { break };
        out.push((name, rest[s..e].to_vec()));
        rest = &rest[e..];
    }
    out
}

/// Copies records `indices` of `batch` into a new batch (used to split a failing batch).
pub fn select(batch: &Batch, indices: &[usize]) -> Batch {
    let mut out = BatchBuilder::new(&batch.topic, indices.len());
    for &i in indices {
        let headers = record_headers(batch, i);
        out.push(
            record_key(batch, i),
            record_value(batch, i),
            headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())),
            batch.partitions[i],
            batch.offsets[i],
            batch.timestamps[i],
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
pub fn rows_of<'a>(result: &'a BatchResult, inputs: usize) -> Result<Vec<RowRef<'a>>, String> {
    let n = result.row_ends.len();
    if result.row_inputs.len() != n || result.row_outputs.len() != n {
        return Err(format!(
            "{} row ends, {} row inputs, {} row outputs",
            n,
            result.row_inputs.len(),
            result.row_outputs.len()
        ));
    }
    let mut rows = Vec::with_capacity(n);
    let mut start = 0usize;
    for j in 0..n {
        let end = result.row_ends[j] as usize;
        let input = result.row_inputs[j] as usize;
        let json = result.data.get(start..end).ok_or_else(|| format!("row {j} ends at {end}, outside the data"))?;
        let output = result
            .outputs
            .get(result.row_outputs[j] as usize)
            .ok_or_else(|| format!("row {j} names output #{}, which is not listed", result.row_outputs[j]))?;
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
