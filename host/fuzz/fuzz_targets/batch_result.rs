//! A plugin's batch result, as hostile as a plugin can make it → the host's layout decoding
//! and cost bounds: no panic, and whatever is accepted points inside the data and the batch.
#![no_main]

use finlake_records::layout::{ResultParts, check_cost, rows};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    inputs: u8,
    input_bytes: u16,
    outputs: Vec<String>,
    rows: Vec<u8>,
    data: Vec<u8>,
    rejections: Vec<(u32, u16)>,
}

fuzz_target!(|input: Input| {
    let inputs = input.inputs as usize;
    let parts = ResultParts { outputs: &input.outputs, rows: &input.rows, data: &input.data };
    let declared = |name: &str| name == "out";
    let rejections = input.rejections.iter().map(|(i, len)| (*i, *len as usize));
    let cost = check_cost(parts, rejections, inputs, input.input_bytes as usize, Some(&declared));
    let decoded = rows(parts, input.rejections.iter().map(|(i, _)| *i), inputs);
    if let Ok(decoded) = decoded {
        for row in &decoded {
            assert!(row.input < inputs);
            assert!(input.outputs.iter().any(|o| o == row.output));
            let start = row.json.as_ptr() as usize - input.data.as_ptr() as usize;
            assert!(start + row.json.len() <= input.data.len());
            if cost.is_ok() {
                assert_eq!(row.output, "out", "an undeclared output passed the bounds");
            }
        }
    }
});
