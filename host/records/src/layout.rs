//! Decoding the flat layout of a batch result (see `wit/finlake.wit`), and the bounds a result
//! must keep before the host copies anything out of it. Works on the parts of a result as
//! slices, whatever type carries them (the host's are the Wasm bindings').

/// Size of one record entry in a batch's `records`.
pub const RECORD_ENTRY: usize = 40;
/// Size of one row entry in a result's `rows`.
pub const ROW_ENTRY: usize = 12;

/// Rows one input record may turn into in one call.
pub const MAX_ROWS_PER_INPUT: usize = 1000;
/// A call's row bytes may be this multiple of its input's bytes, plus [`ROW_BYTES_SLACK`].
pub const ROW_BYTES_FACTOR: usize = 64;
pub const ROW_BYTES_SLACK: usize = 16 << 20;
/// Longest output name and rejection reason, in bytes.
pub const MAX_OUTPUT_NAME: usize = 128;
pub const MAX_REASON: usize = 8 << 10;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// One output row of a result.
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    pub output: &'a str,
    pub input: usize,
    pub json: &'a [u8],
}

/// The parts of a batch result the checks look at.
#[derive(Debug, Clone, Copy)]
pub struct ResultParts<'a> {
    pub outputs: &'a [String],
    pub rows: &'a [u8],
    pub data: &'a [u8],
}

/// Checks the row entries against the data and the input batch and returns the rows in order.
/// `rejected` are the input indices of the rejections.
pub fn rows<'a>(
    result: ResultParts<'a>,
    rejected: impl IntoIterator<Item = u32>,
    inputs: usize,
) -> Result<Vec<RowRef<'a>>, String> {
    if !result.rows.len().is_multiple_of(ROW_ENTRY) {
        return Err(format!("rows is {} bytes, not a multiple of {ROW_ENTRY}", result.rows.len()));
    }
    let mut out = Vec::with_capacity(result.rows.len() / ROW_ENTRY);
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
        out.push(RowRef { output, input, json });
        start = end;
    }
    for r in rejected {
        if r as usize >= inputs {
            return Err(format!("a rejection claims input {r} of a batch of {inputs}"));
        }
    }
    Ok(out)
}

/// Bounds what a result may cost the host: every output a row is addressed to must be
/// `declared` (when the stage declares outputs), rows and row bytes are capped relative to the
/// input (`inputs` records of `input_bytes`), and there is at most one rejection per input,
/// each with a reason of bounded length (`rejections`: input index, reason length). A result
/// over a bound is refused like a trap.
pub fn check_cost(
    result: ResultParts<'_>,
    rejections: impl ExactSizeIterator<Item = (u32, usize)>,
    inputs: usize,
    input_bytes: usize,
    declared: Option<&dyn Fn(&str) -> bool>,
) -> Result<(), String> {
    let rows = result.rows.len() / ROW_ENTRY;
    if rows > inputs.max(1) * MAX_ROWS_PER_INPUT {
        return Err(format!(
            "{rows} rows from {inputs} input records: over the limit of {MAX_ROWS_PER_INPUT} rows per record"
        ));
    }
    let budget = input_bytes.saturating_mul(ROW_BYTES_FACTOR).saturating_add(ROW_BYTES_SLACK);
    if result.data.len() > budget {
        return Err(format!(
            "{} bytes of rows from {input_bytes} bytes of input: over the limit of {budget} bytes",
            result.data.len()
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
    if rejections.len() > inputs {
        return Err(format!("{} rejections for {inputs} input records", rejections.len()));
    }
    let mut rejected = vec![false; inputs];
    for (input, reason_len) in rejections {
        match rejected.get_mut(input as usize) {
            Some(seen) if *seen => return Err(format!("input {input} is rejected twice")),
            Some(seen) => *seen = true,
            None => return Err(format!("a rejection claims input {input} of a batch of {inputs}")),
        }
        if reason_len > MAX_REASON {
            return Err(format!("a rejection reason is {reason_len} bytes long (limit {MAX_REASON})"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(end: u32, input: u32, output: u16) -> Vec<u8> {
        let mut e = end.to_le_bytes().to_vec();
        e.extend(input.to_le_bytes());
        e.extend(output.to_le_bytes());
        e.extend([0, 0]);
        e
    }

    #[test]
    fn rows_are_checked_against_data_outputs_and_inputs() {
        let outputs = vec!["out".to_string()];
        let data = br#"{"a":1}{"b":2}"#;
        let mut rows_bytes = entry(7, 0, 0);
        rows_bytes.extend(entry(14, 1, 0));
        let parts = ResultParts { outputs: &outputs, rows: &rows_bytes, data };
        let decoded = rows(parts, [], 2).unwrap();
        assert_eq!(decoded[1].json, br#"{"b":2}"#);
        assert!(rows(parts, [], 1).is_err(), "input 1 of a batch of 1");
        assert!(rows(ResultParts { data: b"{}", ..parts }, [], 2).is_err(), "outside the data");
        assert!(rows(parts, [5], 2).is_err(), "rejection outside the batch");
        let only_out = |n: &str| n == "out";
        assert!(check_cost(parts, [].into_iter(), 2, 10, Some(&only_out)).is_ok());
        let other = |n: &str| n == "other";
        assert!(check_cost(parts, [].into_iter(), 2, 10, Some(&other)).unwrap_err().contains("do not map"));
        assert!(check_cost(parts, [(0, 5), (0, 5)].into_iter(), 2, 10, None).unwrap_err().contains("twice"));
    }
}
