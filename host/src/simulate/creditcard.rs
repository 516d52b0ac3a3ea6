//! The public credit-card fraud data set layout (`Time, V1..V28, Amount, Class`: the 284,807-row
//! Kaggle file): a generator of small samples in that layout, and a reader that turns rows into
//! JSON records for `finlake replay-csv`.

use std::io::{BufRead, Write};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::normal;

pub const HEADER: &str = "\"Time\",\"V1\",\"V2\",\"V3\",\"V4\",\"V5\",\"V6\",\"V7\",\"V8\",\"V9\",\"V10\",\"V11\",\"V12\",\"V13\",\"V14\",\"V15\",\"V16\",\"V17\",\"V18\",\"V19\",\"V20\",\"V21\",\"V22\",\"V23\",\"V24\",\"V25\",\"V26\",\"V27\",\"V28\",\"Amount\",\"Class\"";

/// Writes `rows` synthetic rows in the Kaggle layout: PCA-like features around 0, about 0.5 %
/// frauds (Class 1) whose V-features are shifted the way the real frauds' are (V14, V12, V10
/// low; V4, V11 high). Useful for tests and demos; real accuracy needs the real file.
pub fn write_sample(out: &mut impl Write, rows: usize, seed: u64) -> std::io::Result<usize> {
    let mut rng = SmallRng::seed_from_u64(seed);
    writeln!(out, "{HEADER}")?;
    let mut time = 0.0f64;
    let mut frauds = 0;
    for _ in 0..rows {
        time += rng.random_range(0.0..2.0f64).round();
        let fraud = rng.random_bool(0.005);
        frauds += usize::from(fraud);
        let mut v: Vec<f64> = (0..28).map(|_| normal(&mut rng)).collect();
        if fraud {
            for (i, shift) in [(13, -6.0), (11, -5.0), (9, -4.0), (3, 4.0), (10, 3.0), (16, -4.0)] {
                v[i] += shift;
            }
        }
        let amount = if fraud { rng.random_range(0.0..500.0f64) } else { (3.5 + normal(&mut rng)).exp().min(25_000.0) };
        let features: Vec<String> = v.iter().map(|x| format!("{x:.6}")).collect();
        writeln!(out, "{time},{},{amount:.2},\"{}\"", features.join(","), u8::from(fraud))?;
    }
    Ok(frauds)
}

/// One row of the file as a record: (seconds since the first row, key, JSON value).
/// The largest `Time` accepted: about 317 years of seconds, far beyond any real capture.
pub const MAX_TIME_S: f64 = 1e10;

#[derive(Debug)]
pub struct CsvRow {
    pub time: f64,
    pub key: String,
    pub json: String,
}

/// Reads rows in the Kaggle layout. Errors name the line and what is wrong.
pub fn read_rows(input: impl BufRead) -> impl Iterator<Item = Result<CsvRow, String>> {
    let mut lines = input.lines().enumerate();
    let header = lines.next().map(|(_, l)| l);
    let header_ok = match &header {
        Some(Ok(h)) => {
            let cols: Vec<String> = h.split(',').map(|c| c.trim().trim_matches('"').to_string()).collect();
            let expected: Vec<String> = HEADER.split(',').map(|c| c.trim_matches('"').to_string()).collect();
            if cols == expected {
                Ok(())
            } else {
                Err(format!(
                    "line 1: header {:?} is not Time,V1..V28,Amount,Class",
                    h.chars().take(60).collect::<String>()
                ))
            }
        }
        Some(Err(e)) => Err(format!("line 1: {e}")),
        None => Err("the file is empty".to_string()),
    };
    let mut failed = header_ok.err();
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        if let Some(e) = failed.take() {
            done = true;
            return Some(Err(e));
        }
        let (i, line) = lines.next()?;
        let line_no = i + 1;
        Some(line.map_err(|e| format!("line {line_no}: {e}")).and_then(|l| parse_row(&l, line_no)))
    })
}

fn parse_row(line: &str, line_no: usize) -> Result<CsvRow, String> {
    let fields: Vec<&str> = line.split(',').map(|f| f.trim().trim_matches('"')).collect();
    if fields.len() != 31 {
        return Err(format!("line {line_no}: {} fields, expected 31 (Time, V1..V28, Amount, Class)", fields.len()));
    }
    let num = |i: usize, name: &str| -> Result<f64, String> {
        // `inf`, `NaN` and `1e400` parse as floats but are not numbers a record can carry.
        fields[i]
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("line {line_no}: {name} {:?} is not a finite number", fields[i]))
    };
    let time = num(0, "Time")?;
    if !(0.0..=MAX_TIME_S).contains(&time) {
        return Err(format!(
            "line {line_no}: Time {:?} must be seconds from the first row, between 0 and {MAX_TIME_S}",
            fields[0]
        ));
    }
    let v: Vec<f64> = (1..=28).map(|i| num(i, &format!("V{i}"))).collect::<Result<_, _>>()?;
    let amount = num(29, "Amount")?;
    let class = match fields[30] {
        "0" => 0,
        "1" => 1,
        other => return Err(format!("line {line_no}: Class {other:?} is not 0 or 1")),
    };
    let v_json: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    let json = format!(
        r#"{{"row":{},"time":{time},"v":[{}],"amount":{amount},"class":{class}}}"#,
        line_no - 1,
        v_json.join(",")
    );
    Ok(CsvRow { time, key: format!("row-{}", line_no - 1), json })
}
