//! Gold: event-time windows over a silver table, materialised incrementally from its Delta log.
//!
//! A tick takes the source from the version it last processed (`a`) to a newer one (`b`):
//! - M(b), the highest event time in the source, is M(a) or the highest in the files added
//!   since `a`. The watermark is W = M - allowed_lateness.
//! - Windows whose end passed the watermark between the two ticks (W(a) < end <= W(b)) are
//!   aggregated with SQL over the source at version `b` and appended to the gold table.
//! - Rows added since `a` whose window had already been written (end <= W(a)) are *late*: they
//!   go, with their window, to the late table. A written window never changes.
//!
//! Every row of the source lands in exactly one of the two: in its window if the window was
//! still open at the tick that first saw the row, else in the late table. The tick's inputs are
//! Delta versions, so it gives the same result when repeated. The gold commit stores `b` and
//! M(b) as `txn` markers; the late commit (made first) stores `b` too. After a crash between
//! the two, the next start finishes the gold half of that same tick; a tick whose late rows
//! were never committed is simply done again. Nothing is counted twice or lost.

pub mod sql;
pub mod write;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deltalake::DeltaTable;
use deltalake::arrow::array::{Array, AsArray, RecordBatch, TimestampMicrosecondArray};
use deltalake::arrow::datatypes::{DataType, Field, Schema, TimeUnit, TimestampMicrosecondType};
use deltalake::datafusion::logical_expr::ident;
use deltalake::datafusion::prelude::{SessionContext, lit};
use deltalake::datafusion::scalar::ScalarValue;
use tokio::sync::watch;

use crate::config::{Config, GoldConfig};
use crate::sink::TableSchema;

#[derive(Debug, thiserror::Error)]
pub enum GoldError {
    #[error("gold: {0}")]
    Lake(#[from] crate::delta::DeltaError),
    #[error("gold table {table}: {message}")]
    Delta { table: String, message: String },
    #[error("gold table {table}: SQL: {message}")]
    Sql { table: String, message: String },
    #[error("{message}")]
    Schema { message: String },
}

/// One `[[gold]]` block, ready to run.
#[derive(Debug, Clone)]
pub struct GoldJob {
    pub config: GoldConfig,
    pub root: PathBuf,
    /// The source table's path under the root, and its schema as declared.
    pub source_path: String,
    pub source_schema: TableSchema,
}

impl GoldJob {
    /// The job of one `[[gold]]` block; `None` when its source is not a declared table.
    pub fn new(config: &Config, g: &GoldConfig) -> Option<GoldJob> {
        let source = config.table(&g.source)?;
        Some(GoldJob {
            config: g.clone(),
            root: config.lake.root.clone(),
            source_path: source.relative_path().to_string(),
            source_schema: TableSchema::from_config(source),
        })
    }

    pub fn all(config: &Config) -> Vec<GoldJob> {
        config.gold.iter().filter_map(|g| GoldJob::new(config, g)).collect()
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    fn marker_version(&self) -> String {
        format!("finlake:gold:{}:source-version", self.config.name)
    }

    fn marker_max(&self) -> String {
        format!("finlake:gold:{}:max-event-time-us", self.config.name)
    }

    fn sql_err(&self) -> impl Fn(deltalake::datafusion::error::DataFusionError) -> GoldError + '_ {
        move |e| GoldError::Sql { table: self.config.name.clone(), message: e.to_string() }
    }

    /// Plans the window and late queries against the declared source schema: catches SQL
    /// mistakes in `select` before anything runs, and gives the two tables' schemas.
    pub async fn plan(&self) -> Result<(Schema, Schema), GoldError> {
        let ctx = crate::query::session();
        let empty =
            deltalake::datafusion::datasource::MemTable::try_new(self.source_schema.arrow.clone(), vec![vec![]])
                .map_err(self.sql_err())?;
        let empty = Arc::new(empty);
        ctx.register_table(sql::ROWS, empty.clone()).map_err(self.sql_err())?;
        ctx.register_table(sql::LATE_ROWS, empty).map_err(self.sql_err())?;
        let windows = ctx.sql(&sql::windows(&self.config)).await.map_err(self.sql_err())?;
        let late = ctx.sql(&sql::late(&self.config)).await.map_err(self.sql_err())?;
        let mut late = late.schema().as_arrow().clone();
        let mut fields: Vec<Field> = late.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(watermark_field());
        late = Schema::new(fields);
        Ok((windows.schema().as_arrow().clone(), late))
    }
}

fn watermark_field() -> Field {
    Field::new("watermark", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true)
}

/// A `[[gold]]` block whose SQL does not plan: which block, which `select` item if one alone
/// is at fault, and DataFusion's message.
#[derive(Debug, Clone)]
pub struct SqlProblem {
    pub gold: usize,
    pub select: Option<usize>,
    pub message: String,
}

/// Plans every gold block's SQL against its source's declared schema (for `finlake validate`).
pub async fn check(config: &Config) -> Vec<SqlProblem> {
    let mut problems = Vec::new();
    for (i, g) in config.gold.iter().enumerate() {
        let Some(job) = GoldJob::new(config, g) else { continue };
        let Err(e) = job.plan().await else { continue };
        let mut select = None;
        for (s, item) in g.select.iter().enumerate() {
            let mut one = job.clone();
            one.config.select = vec![item.clone()];
            if one.plan().await.is_err() {
                select = Some(s);
                break;
            }
        }
        problems.push(SqlProblem { gold: i, select, message: e.to_string() });
    }
    problems
}

/// [`check`] as located config problems (`file:line:col`), the way every path into the config
/// (start, `finlake validate`, `PUT /api/config`, a file edit) reports them.
pub async fn located_problems(config: &Config, text: &str, origin: &str) -> Vec<crate::config::Problem> {
    use crate::config::{Located, Step};
    let problems = check(config).await;
    if problems.is_empty() {
        return Vec::new();
    }
    let doc = Located::new(text);
    problems
        .into_iter()
        .map(|p| {
            let mut path = vec![Step::Key("gold"), Step::Index(p.gold), Step::Key("select")];
            path.extend(p.select.map(Step::Index));
            let (line, col) = doc.position(&path);
            crate::config::Problem { origin: origin.to_string(), line, col, message: p.message }
        })
        .collect()
}

/// What one tick produced.
#[derive(Debug, Default, Clone, Copy)]
struct Tick {
    windows: usize,
    late: usize,
}

struct Outputs {
    gold: DeltaTable,
    late: DeltaTable,
}

/// Runs the job until `stop`, on the leading host only ([`Registry::is_lead`]): elsewhere it
/// waits, and a host that loses the lead stops after its current tick (the new leader resumes
/// from the markers in the gold table). Restarts after errors with backoff (1 s … 30 s). Each
/// commit goes on the live feed (`events`) too.
///
/// [`Registry::is_lead`]: crate::pipeline::Registry::is_lead
pub async fn supervise(job: GoldJob, stop: watch::Receiver<bool>, registry: crate::pipeline::Registry) {
    let mut backoff = Duration::from_secs(1);
    let mut waiting_logged = false;
    loop {
        if !registry.is_lead() {
            if !waiting_logged {
                tracing::info!(gold = %job.name(), "another host leads (it owns partition 0 of the first pipeline); this gold job waits");
                waiting_logged = true;
            }
            if sleep_or_stop(1000, &mut stop.clone()).await {
                return;
            }
            continue;
        }
        waiting_logged = false;
        match run(&job, stop.clone(), &registry).await {
            Ok(()) if *stop.borrow() => return,
            Ok(()) => continue,
            Err(e) => {
                tracing::error!(gold = %job.name(), error = %e, retry_in_s = backoff.as_secs(), "gold job failed; restarting")
            }
        }
        let mut stop = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

async fn sleep_or_stop(ms: u64, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(ms)) => false,
        _ = stop.wait_for(|s| *s) => true,
    }
}

/// Runs one gold job until `stop` turns true or this host no longer leads.
pub async fn run(
    job: &GoldJob,
    mut stop: watch::Receiver<bool>,
    registry: &crate::pipeline::Registry,
) -> Result<(), GoldError> {
    let events = &registry.events;
    let name = job.name().to_string();
    let poll = job.config.poll_ms;
    let (window_schema, late_schema) = job.plan().await?;
    let mut source = loop {
        let found = crate::delta::open(&job.root, &job.source_path).await?;
        if let Some(t) = found {
            break t;
        }
        if sleep_or_stop(poll, &mut stop).await {
            return Ok(());
        }
    };
    let gold = write::ensure_table(&job.root, &job.config.relative_path(), &name, &window_schema).await?;
    let late_name = job.config.late_table_name();
    let late = write::ensure_table(&job.root, &job.config.late_relative_path(), &late_name, &late_schema).await?;
    let mut done = write::marker(&gold, &name, &job.marker_version()).await?;
    let mut max_event = write::marker(&gold, &name, &job.marker_max()).await?;
    let mut late_done = write::marker(&late, &late_name, &job.marker_version()).await?;
    let mut out = Outputs { gold, late };
    tracing::info!(gold = %name, source = %job.config.source, source_version = ?done, max_event_us = ?max_event, late_version = ?late_done, "gold job resuming");

    let mut warned = false;
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        if !registry.is_lead() {
            tracing::info!(gold = %name, processed = ?done, "this host no longer leads; the gold job hands over");
            return Ok(());
        }
        crate::delta::refresh(&mut source, &job.config.source)
            .await
            .map_err(|e| GoldError::Delta { table: job.config.source.clone(), message: e.to_string() })?;
        let latest = source.version().unwrap_or(0) as i64;
        // A tick whose late half is committed but whose gold half is not is finished first,
        // at the same source version, so both halves see the same rows.
        let target = match late_done {
            Some(l) if done.is_none_or(|g| l > g) => l,
            _ => latest,
        };
        if done.is_some_and(|g| target <= g) {
            if done.is_some_and(|g| latest < g) && !warned {
                warned = true;
                tracing::error!(gold = %name, source = %job.config.source, source_version = latest, processed = ?done, "the source table is at an older version than this gold table has processed (was it re-created?); delete the gold and late tables to rebuild them");
            }
            if sleep_or_stop(poll, &mut stop).await {
                return Ok(());
            }
            continue;
        }
        // New rows are the data-change adds of the commits since the last tick, read in
        // steps that stop before a compaction: a compacted file holds rows already seen.
        let after = done.map_or(-1, |d| d);
        let (target, new) = if after < 0 {
            (target, None)
        } else {
            let changes =
                crate::delta::changes::data_added(&source, &job.config.source, after as u64, target as u64).await?;
            (changes.upto as i64, Some(changes.added))
        };
        let mut at = source.clone();
        if target != latest {
            at.load_version(target as u64)
                .await
                .map_err(|e| GoldError::Delta { table: job.config.source.clone(), message: e.to_string() })?;
        }
        // The first tick sees every file of the source as new.
        let new = match new {
            Some(new) => new,
            None => at
                .get_file_uris()
                .map_err(|e| GoldError::Delta { table: job.config.source.clone(), message: e.to_string() })?
                .collect(),
        };
        let write_late = late_done.is_none_or(|l| l < target);
        let (tick, next_max) = tick(job, &mut out, &at, &new, max_event, target, write_late).await?;
        done = Some(target);
        late_done = late_done.max(Some(target));
        max_event = next_max;
        metrics::counter!("finlake_gold_windows_total", "table" => name.clone()).increment(tick.windows as u64);
        metrics::counter!("finlake_gold_late_rows_total", "table" => name.clone()).increment(tick.late as u64);
        if let Some(m) = max_event {
            let watermark = (m - job.config.lateness_us()) as f64 / 1e6;
            metrics::gauge!("finlake_gold_watermark_seconds", "table" => name.clone()).set(watermark);
        }
        let writer = format!("gold from {}", job.config.source);
        if tick.late > 0 {
            let version = out.late.version().unwrap_or(0);
            events.committed(&writer, &job.config.late_table_name(), tick.late as u64, version);
        }
        if tick.windows > 0 {
            events.committed(&writer, &name, tick.windows as u64, out.gold.version().unwrap_or(0));
        }
        if tick.windows > 0 || tick.late > 0 {
            tracing::info!(gold = %name, source_version = target, windows = tick.windows, late_rows = tick.late, max_event_us = ?max_event, "gold windows written");
        } else {
            tracing::debug!(gold = %name, source_version = target, "gold tick: nothing closed");
        }
    }
}

fn ts(us: i64) -> ScalarValue {
    ScalarValue::TimestampMicrosecond(Some(us), Some("UTC".into()))
}

async fn collect(ctx: &SessionContext, job: &GoldJob, sql: &str) -> Result<Vec<RecordBatch>, GoldError> {
    ctx.sql(sql).await.map_err(job.sql_err())?.collect().await.map_err(job.sql_err())
}

/// One tick from the version last processed to `target` (see the module docs).
async fn tick(
    job: &GoldJob,
    out: &mut Outputs,
    at: &DeltaTable,
    new: &[String],
    max_before: Option<i64>,
    target: i64,
    write_late: bool,
) -> Result<(Tick, Option<i64>), GoldError> {
    let g = &job.config;
    let (size, lateness) = (g.window_us(), g.lateness_us());
    let time = ident(&g.event_time);
    let ctx = crate::query::session();
    let err = job.sql_err();
    let provider = |files: Option<Vec<String>>| async move {
        let builder = at.table_provider();
        let builder = match files {
            Some(f) => builder.with_file_paths(f),
            None => builder,
        };
        builder.await.map_err(|e| GoldError::Delta { table: g.source.clone(), message: e.to_string() })
    };

    let mut max_after = max_before;
    let mut late_batches = Vec::new();
    // Windows ending at or before `done_below` were written by an earlier tick.
    let done_below = max_before.map(|m| sql::floor(m - lateness, size));
    if !new.is_empty() {
        ctx.register_table(sql::NEW_ROWS, provider(Some(new.to_vec())).await?).map_err(&err)?;
        for batch in collect(&ctx, job, &sql::max_event_time(g)).await? {
            let m = batch.column(0).as_primitive_opt::<TimestampMicrosecondType>();
            if let Some(m) = m.filter(|m| !m.is_empty() && m.is_valid(0)) {
                max_after = max_after.max(Some(m.value(0)));
            }
        }
        if let (Some(below), true) = (done_below, write_late) {
            let frame = ctx.table(sql::NEW_ROWS).await.map_err(&err)?.filter(time.clone().lt(lit(ts(below))));
            ctx.register_table(sql::LATE_ROWS, frame.map_err(&err)?.into_view()).map_err(&err)?;
            let watermark = max_before.unwrap_or_default() - lateness;
            for batch in collect(&ctx, job, &sql::late(g)).await? {
                let n = batch.num_rows();
                let mut columns = batch.columns().to_vec();
                columns.push(Arc::new(TimestampMicrosecondArray::from(vec![watermark; n]).with_timezone("UTC")));
                let mut fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
                fields.push(watermark_field());
                late_batches.push(
                    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
                        .map_err(|e| GoldError::Schema { message: format!("late rows of {}: {e}", g.name) })?,
                );
            }
        }
    }
    let late_rows: usize = late_batches.iter().map(RecordBatch::num_rows).sum();
    let metadata = HashMap::from([
        ("finlake.gold".to_string(), serde_json::Value::from(g.name.clone())),
        ("finlake.source".to_string(), serde_json::json!({"table": g.source, "version": target})),
    ]);
    if write_late && late_rows > 0 {
        let markers = [(job.marker_version(), target)];
        write::commit(&mut out.late, &g.late_table_name(), late_batches, &markers, metadata.clone()).await?;
        tracing::warn!(gold = %g.name, late_rows, late_table = %g.late_table_name(), "rows arrived after their window was written; stored as late");
    }

    // Windows that closed in this tick: [done_below, closes_below).
    let closes_below = max_after.map(|m| sql::floor(m - lateness, size));
    let mut window_batches = Vec::new();
    if let Some(hi) = closes_below
        && done_below.is_none_or(|lo| hi > lo)
    {
        ctx.register_table("source_at_version", provider(None).await?).map_err(&err)?;
        let mut rows = ctx.table("source_at_version").await.map_err(&err)?.filter(time.clone().lt(lit(ts(hi))));
        if let Some(lo) = done_below {
            rows = rows.and_then(|f| f.filter(time.clone().gt_eq(lit(ts(lo)))));
        }
        ctx.register_table(sql::ROWS, rows.map_err(&err)?.into_view()).map_err(&err)?;
        window_batches = collect(&ctx, job, &sql::windows(g)).await?;
    }
    let windows: usize = window_batches.iter().map(RecordBatch::num_rows).sum();
    let mut markers = vec![(job.marker_version(), target)];
    if let Some(m) = max_after {
        markers.push((job.marker_max(), m));
    }
    write::commit(&mut out.gold, &g.name, window_batches, &markers, metadata).await?;
    Ok((Tick { windows, late: late_rows }, max_after))
}
