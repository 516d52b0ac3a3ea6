//! What one query may cost: a memory pool (no spilling, so a query over budget fails instead
//! of filling the disk), and bounds on the functions that allocate their whole result inside
//! one call — before the pool sees it, and during planning when constant folding evaluates
//! them (`SELECT cardinality(range(4000000000))`, `repeat('x', 1000000000)`).
//!
//! The bounded functions wrap DataFusion's own: same name, signature and results, with the
//! size of the result checked from the arguments first.

use std::sync::Arc;

use deltalake::arrow::array::{Array, ArrayRef, AsArray};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType, FieldRef, IntervalMonthDayNanoType, TimeUnit};
use deltalake::datafusion::common::{DataFusionError, Result};
use deltalake::datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use deltalake::datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use deltalake::datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use deltalake::datafusion::prelude::SessionContext;

/// Array elements one call of `range`, `generate_series` or `array_repeat` may build (over
/// all rows of the batch it is called on).
pub const MAX_ELEMENTS: i128 = 10_000_000;
/// The words of a bounded function's refusal (how the query module tells it from the pool's).
pub const WOULD_BUILD: &str = "would build";
/// Bytes one call of `repeat`, `lpad` or `rpad` may build.
pub const MAX_BYTES: i128 = 64 << 20;

/// A runtime whose memory pool holds `bytes`; spilling to disk is off.
pub fn runtime(bytes: usize) -> Result<Arc<RuntimeEnv>> {
    RuntimeEnvBuilder::new()
        .with_memory_limit(bytes, 1.0)
        .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled))
        .build_arc()
}

/// Replaces the allocating functions of `ctx` with bounded ones.
pub fn bound_functions(ctx: &SessionContext) {
    use deltalake::datafusion::functions as f;
    use deltalake::datafusion::functions_nested as n;
    let wrap = |inner: Arc<ScalarUDF>, kind| ScalarUDF::new_from_impl(Bounded { inner: inner.as_ref().clone(), kind });
    ctx.register_udf(wrap(n::range::range_udf(), Kind::Series { inclusive: false }));
    ctx.register_udf(wrap(n::range::gen_series_udf(), Kind::Series { inclusive: true }));
    ctx.register_udf(wrap(n::repeat::array_repeat_udf(), Kind::ArrayRepeat));
    ctx.register_udf(wrap(f::string::repeat(), Kind::Repeat));
    ctx.register_udf(wrap(f::unicode::lpad(), Kind::Pad));
    ctx.register_udf(wrap(f::unicode::rpad(), Kind::Pad));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Series { inclusive: bool },
    ArrayRepeat,
    Repeat,
    Pad,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Bounded {
    inner: ScalarUDF,
    kind: Kind,
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows.max(1);
        let arrays: Vec<ArrayRef> = args.args.iter().map(|a| a.to_array(rows)).collect::<Result<_>>()?;
        let (size, limit, unit) = match self.kind {
            Kind::Series { inclusive } => (series_size(&arrays, inclusive)?, MAX_ELEMENTS, "elements"),
            Kind::ArrayRepeat => (sum_of(arrays.get(1))?, MAX_ELEMENTS, "elements"),
            Kind::Repeat => (repeat_bytes(&arrays)?, MAX_BYTES, "bytes"),
            // Up to 4 bytes per character of the padded result.
            Kind::Pad => (sum_of(arrays.get(1))?.saturating_mul(4), MAX_BYTES, "bytes"),
        };
        if size > limit {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{}(...) {WOULD_BUILD} {size} {unit} in one call; a query may build at most {limit}",
                self.name()
            )));
        }
        self.inner.invoke_with_args(args)
    }
}

fn ints(array: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let a = cast(array, &DataType::Int64)?;
    let a = a.as_primitive::<deltalake::arrow::datatypes::Int64Type>();
    Ok((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))).collect())
}

fn sum_of(array: Option<&ArrayRef>) -> Result<i128> {
    let Some(array) = array else { return Ok(0) };
    Ok(ints(array)?.into_iter().flatten().map(|n| i128::from(n.max(0))).sum())
}

fn repeat_bytes(arrays: &[ArrayRef]) -> Result<i128> {
    let (Some(text), Some(times)) = (arrays.first(), arrays.get(1)) else { return Ok(0) };
    let text = cast(text, &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let times = ints(times)?;
    Ok((0..text.len())
        .map(|i| {
            let len = if text.is_valid(i) { text.value(i).len() as i128 } else { 0 };
            len * i128::from(times.get(i).copied().flatten().unwrap_or(0).max(0))
        })
        .sum())
}

/// Elements `range` / `generate_series` would make over every row: integer series exactly,
/// date and timestamp series from the span over the step (a month counted as 28 days).
fn series_size(arrays: &[ArrayRef], inclusive: bool) -> Result<i128> {
    let temporal = arrays
        .first()
        .is_some_and(|a| matches!(a.data_type(), DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)));
    let rows = arrays.first().map_or(0, |a| a.len());
    let mut total: i128 = 0;
    if temporal {
        let (Some(start), Some(stop), Some(step)) = (arrays.first(), arrays.get(1), arrays.get(2)) else {
            return Ok(0);
        };
        let (start, stop) = (nanos(start)?, nanos(stop)?);
        let Some(step) = step.as_primitive_opt::<IntervalMonthDayNanoType>() else { return Ok(0) };
        for i in 0..rows {
            let (Some(a), Some(b)) = (start[i], stop[i]) else { continue };
            if !step.is_valid(i) {
                continue;
            }
            let s = step.value(i);
            let step_ns = i128::from(s.months) * 28 * 86_400_000_000_000
                + i128::from(s.days) * 86_400_000_000_000
                + i128::from(s.nanoseconds);
            if step_ns != 0 {
                total += ((b - a) / step_ns).max(0) + 1;
            }
        }
        return Ok(total);
    }
    let columns: Vec<Vec<Option<i64>>> = arrays.iter().map(ints).collect::<Result<_>>()?;
    for i in 0..rows {
        let at = |c: usize| columns.get(c).and_then(|c| c[i]);
        let (start, stop, step) = match columns.len() {
            1 => (Some(0), at(0), Some(1)),
            2 => (at(0), at(1), Some(1)),
            _ => (at(0), at(1), at(2)),
        };
        let (Some(a), Some(b), Some(s)) = (start, stop, step) else { continue };
        if s == 0 {
            continue;
        }
        let span = i128::from(b) - i128::from(a);
        let n = span / i128::from(s) + i128::from(inclusive);
        total += n.max(0) + 1;
    }
    Ok(total)
}

/// A date or timestamp column as nanoseconds since the epoch.
fn nanos(array: &ArrayRef) -> Result<Vec<Option<i128>>> {
    let scale: i128 = match array.data_type() {
        DataType::Date32 => 86_400_000_000_000,
        DataType::Date64 | DataType::Timestamp(TimeUnit::Millisecond, _) => 1_000_000,
        DataType::Timestamp(TimeUnit::Second, _) => 1_000_000_000,
        DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000,
        _ => 1,
    };
    Ok(ints(array)?.into_iter().map(|v| v.map(|v| i128::from(v) * scale)).collect())
}
