//! SQL over the lake: DataFusion over the Delta tables, every table registered by its name,
//! at its latest version or back in time (`--version`, `--as-of`, or per table in the SQL as
//! `"silver_trades@v3"` / `"silver_trades@2026-11-27T10:00:00Z"`).
//!
//! Only queries run (no DDL, DML or `SET`), results are cut at `limit` rows after `offset`, and
//! every query has a deadline, so a bad request gets an error instead of a hang.

pub mod format;
pub mod limits;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use deltalake::DeltaTable;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::datafusion::common::{DataFusionError, TableReference};
use deltalake::datafusion::execution::context::SQLOptions;
use deltalake::datafusion::prelude::{SessionConfig, SessionContext};

use crate::lake::CatalogEntry;

fn session_config() -> SessionConfig {
    SessionConfig::new().set_bool("datafusion.execution.parquet.schema_force_view_types", false)
}

/// A DataFusion session configured the way FinLake reads Delta tables (plain Utf8 strings, so
/// results convert to Delta and JSON without view types), with the allocating functions
/// bounded ([`limits`]).
pub fn session() -> SessionContext {
    let ctx = SessionContext::new_with_config(session_config());
    limits::bound_functions(&ctx);
    ctx
}

/// [`session`] with a memory pool of `bytes` and no spilling.
pub fn limited_session(bytes: usize) -> Result<SessionContext, QueryError> {
    let runtime = limits::runtime(bytes).map_err(|e| QueryError::Lake(e.to_string()))?;
    let ctx = SessionContext::new_with_config_rt(session_config(), runtime);
    limits::bound_functions(&ctx);
    Ok(ctx)
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The request is wrong: bad SQL, an unknown table or version, a statement that is not a
    /// query. Shown to the user as is (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    #[error("query did not finish within {0} s; narrow it (WHERE, LIMIT) or raise the timeout")]
    Timeout(u64),
    /// The query needs more memory than one query may use (HTTP 400: narrow it).
    #[error(
        "the query needs more memory than a query may use ({limit_mb} MiB): {message}; narrow it (WHERE, fewer groups, LIMIT)"
    )]
    TooBig { limit_mb: u64, message: String },
    /// Too many queries are running (HTTP 503: try again).
    #[error("{0} queries are already running; try again in a moment")]
    Busy(usize),
    /// The lake could not be read (HTTP 500).
    #[error("{0}")]
    Lake(String),
}

/// What to read and how much of it.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Read every table at this version (unless the SQL names one with `@`).
    pub version: Option<u64>,
    /// Read every table as it was at this time.
    pub as_of: Option<DateTime<Utc>>,
    pub limit: usize,
    pub offset: usize,
    pub timeout: Duration,
    /// The query's memory pool, in MiB.
    pub memory_mb: u64,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            version: None,
            as_of: None,
            limit: 1000,
            offset: 0,
            timeout: Duration::from_secs(60),
            memory_mb: 512,
        }
    }
}

/// Upper bound for `limit`, so one response stays a reasonable size; page with `offset`.
pub const MAX_LIMIT: usize = 100_000;

#[derive(Debug)]
pub struct QueryOutput {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub rows: usize,
    /// More rows follow: ask again with `offset + rows`.
    pub has_more: bool,
    /// The version each table was read at (name as written in the SQL).
    pub versions: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

/// Parses `"2026-11-27T10:00:00Z"` (RFC 3339), `"2026-11-27 10:00:00"` (UTC) or `"2026-11-27"`.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, QueryError> {
    let t = text.trim();
    if let Ok(ts) = DateTime::parse_from_rfc3339(t) {
        return Ok(ts.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(ts) = chrono::NaiveDateTime::parse_from_str(t, format) {
            return Ok(ts.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(QueryError::Invalid(format!(
        "{text:?} is not a timestamp; use RFC 3339 like 2026-11-27T10:00:00Z (or \"2026-11-27 10:00:00\", UTC)"
    )))
}

/// Which state of a table a reference asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum At {
    Latest,
    Version(u64),
    Time(DateTime<Utc>),
}

/// Splits `silver_trades@v3` / `silver_trades@<timestamp>` into the table and the state asked for.
fn split_reference(reference: &str, default: At) -> Result<(&str, At), QueryError> {
    let Some((name, spec)) = reference.split_once('@') else { return Ok((reference, default)) };
    if let Some(v) = spec.strip_prefix('v').and_then(|v| v.parse::<u64>().ok()) {
        return Ok((name, At::Version(v)));
    }
    Ok((name, At::Time(parse_timestamp(spec)?)))
}

async fn open_at(root: &Path, entry: &CatalogEntry, at: At) -> Result<DeltaTable, QueryError> {
    let name = &entry.name;
    let mut table = crate::delta::open(root, &entry.path)
        .await
        .map_err(|e| QueryError::Lake(e.to_string()))?
        .ok_or_else(|| QueryError::Invalid(format!("table {name} has no data yet (no commit so far)")))?;
    let latest = table.version().unwrap_or(0);
    match at {
        At::Latest => {}
        At::Version(v) if v > latest => {
            return Err(QueryError::Invalid(format!(
                "table {name} has no version {v}: its latest version is {latest}"
            )));
        }
        At::Version(v) => table.load_version(v).await.map_err(|e| {
            QueryError::Invalid(format!(
                "table {name}: cannot read version {v} ({e}); old versions disappear after log cleanup"
            ))
        })?,
        At::Time(ts) => table
            .load_with_datetime(ts)
            .await
            .map_err(|e| QueryError::Invalid(format!("table {name} has no version as of {}: {e}", ts.to_rfc3339())))?,
    }
    Ok(table)
}

/// Runs one SQL query over the lake.
pub async fn run(
    catalog: &[CatalogEntry],
    root: &Path,
    sql: &str,
    options: &QueryOptions,
) -> Result<QueryOutput, QueryError> {
    let started = Instant::now();
    if options.version.is_some() && options.as_of.is_some() {
        return Err(QueryError::Invalid("give either a version or an as-of time, not both".into()));
    }
    if options.limit == 0 || options.limit > MAX_LIMIT {
        return Err(QueryError::Invalid(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let default = match (options.version, options.as_of) {
        (Some(v), _) => At::Version(v),
        (_, Some(t)) => At::Time(t),
        _ => At::Latest,
    };
    let ctx = limited_session((options.memory_mb as usize) << 20)?;
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state.sql_to_statement(sql, &dialect).map_err(|e| QueryError::Invalid(e.to_string()))?;
    let references = state.resolve_table_references(&statement).map_err(|e| QueryError::Invalid(e.to_string()))?;

    let mut versions = BTreeMap::new();
    for reference in references {
        let written = reference.table().to_string();
        if versions.contains_key(&written) {
            continue;
        }
        let (name, at) = split_reference(&written, default)?;
        let Some(entry) = catalog.iter().find(|e| e.name == name) else {
            let known: Vec<&str> = catalog.iter().map(|e| e.name.as_str()).collect();
            return Err(QueryError::Invalid(format!("unknown table {name:?}; tables are: {}", known.join(", "))));
        };
        let table = open_at(root, entry, at).await?;
        versions.insert(written.clone(), table.version().unwrap_or(0));
        let provider = table.table_provider().await.map_err(|e| QueryError::Lake(format!("table {name}: {e}")))?;
        ctx.register_table(TableReference::bare(written.clone()), provider)
            .map_err(|e| QueryError::Lake(format!("table {name}: {e}")))?;
    }

    let only_queries = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
    let invalid = |e: DataFusionError| match e.find_root() {
        // A bounded function's refusal says what it would have built.
        DataFusionError::ResourcesExhausted(message) if message.contains(limits::WOULD_BUILD) => {
            QueryError::Invalid(message.clone())
        }
        DataFusionError::ResourcesExhausted(message) => {
            QueryError::TooBig { limit_mb: options.memory_mb, message: message.clone() }
        }
        _ => QueryError::Invalid(e.to_string()),
    };
    let work = async {
        let frame = ctx.sql_with_options(sql, only_queries).await.map_err(invalid)?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        // One row more than asked for tells whether there is another page.
        let frame = frame.limit(options.offset, Some(options.limit + 1)).map_err(invalid)?;
        let batches = frame.collect().await.map_err(invalid)?;
        Ok::<_, QueryError>((schema, batches))
    };
    let (schema, mut batches) = tokio::time::timeout(options.timeout, work)
        .await
        .map_err(|_| QueryError::Timeout(options.timeout.as_secs()))??;
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let has_more = total > options.limit;
    if has_more {
        batches = truncate(batches, options.limit);
    }
    Ok(QueryOutput { schema, rows: total.min(options.limit), batches, has_more, versions, elapsed: started.elapsed() })
}

fn truncate(batches: Vec<RecordBatch>, mut keep: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for b in batches {
        if keep == 0 {
            break;
        }
        let n = b.num_rows().min(keep);
        out.push(b.slice(0, n));
        keep -= n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_timestamps() {
        assert_eq!(split_reference("silver_trades", At::Latest).unwrap(), ("silver_trades", At::Latest));
        assert_eq!(split_reference("silver_trades@v3", At::Latest).unwrap(), ("silver_trades", At::Version(3)));
        let (_, at) = split_reference("t@2026-11-27T10:00:00Z", At::Latest).unwrap();
        assert_eq!(at, At::Time(parse_timestamp("2026-11-27 10:00:00").unwrap()));
        assert!(split_reference("t@yesterday", At::Latest).is_err());
        assert_eq!(parse_timestamp("2026-11-27").unwrap().to_rfc3339(), "2026-11-27T00:00:00+00:00");
    }
}
