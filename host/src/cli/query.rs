//! `finlake query`: SQL over the lake, run in this process (no running host needed).

use std::path::PathBuf;

use anyhow::{Context, bail};

use finlake::config::Config;
use finlake::query::{self, QueryOptions, format as fmt};

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

// No doc comment: the `Command` variant carries the help text.
#[derive(clap::Args)]
pub struct QueryArgs {
    /// The SQL (or use --file).
    #[arg(required_unless_present = "file")]
    sql: Option<String>,
    /// Read the SQL from this file.
    #[arg(short, long, conflicts_with = "sql")]
    file: Option<PathBuf>,
    #[arg(short, long, default_value = "pipelines.toml", env = "FINLAKE_CONFIG")]
    config: PathBuf,
    /// Read every table at this Delta version.
    #[arg(long, conflicts_with = "as_of")]
    version: Option<u64>,
    /// Read every table as of this time (RFC 3339, or "YYYY-MM-DD HH:MM:SS" in UTC).
    #[arg(long)]
    as_of: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Print at most this many rows.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// Skip this many rows first (paging).
    #[arg(long, default_value_t = 0)]
    offset: usize,
}

/// Prints the rows on stdout and a summary (rows, time, versions read, paging) on stderr.
pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let QueryArgs { sql, file, config, version, as_of, format, limit, offset } = args;
    let sql = match (sql, file) {
        (Some(sql), _) => sql,
        (None, Some(f)) => std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?,
        (None, None) => bail!("give the SQL, or --file"),
    };
    let config = Config::load(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let as_of = as_of.as_deref().map(query::parse_timestamp).transpose()?;
    let options = QueryOptions { version, as_of, limit, offset, ..QueryOptions::default() };
    let catalog = finlake::lake::catalog(&config);
    let out = query::run(&catalog, &config.lake.root, &sql, &options).await?;
    match format {
        Format::Table => println!("{}", fmt::table(&out.batches)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&fmt::json_rows(&out.batches))?),
        Format::Csv => print!("{}", fmt::csv(&out.schema, &out.batches)),
    }
    let versions: Vec<String> = out.versions.iter().map(|(t, v)| format!("{t} v{v}")).collect();
    eprintln!(
        "{} row(s) in {} ms ({}){}",
        out.rows,
        out.elapsed.as_millis(),
        versions.join(", "),
        if out.has_more { format!("; more rows follow: --offset {}", offset + out.rows) } else { String::new() }
    );
    Ok(())
}
