//! `finlake plugin new|build|test|inspect|wit` (local, through the toolkit) and `deploy|shadow|rollback`
//! (sent to the running host, see [`super::remote`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use tokio::task::block_in_place;

use super::remote::{self, Remote};
use finlake::toolkit;

#[derive(clap::Subcommand)]
pub enum PluginCommand {
    /// Create a ready-to-build plugin folder (source, sample input, expected output, README),
    /// anywhere: it carries a copy of its SDK (a Rust plugin vendors the SDK crate under
    /// vendor/finlake-plugin-sdk), so it needs only this binary and the language's toolchain.
    New {
        /// rust, python, js or c
        #[arg(long)]
        lang: String,
        /// Plugin name (lowercase, digits, '-'); also the folder name and the declared name.
        name: String,
        /// Parent folder (the plugin goes to <dir>/<name>).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Build a plugin folder into a Wasm component (language detected from its files), against
    /// the WIT this binary carries (`finlake plugin wit` prints it).
    Build {
        /// The plugin folder.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Where the component goes, as <folder name>.wasm [default: <folder>/dist].
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// Print the plugin interface (WIT) this binary runs plugins against, or write it to
    /// <out>/finlake.wit.
    Wit {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a plugin over sample records through the real host runtime (no Kafka, no Delta) and
    /// print its rows, rejections and time per batch.
    Test {
        /// A plugin name (looked up as <plugins-dir>/<name>.wasm) or a .wasm file.
        plugin: String,
        /// JSON Lines: one record value per line.
        #[arg(short, long)]
        input: PathBuf,
        /// The plugin's config as JSON.
        #[arg(long, default_value = "{}")]
        config: String,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Rows to print.
        #[arg(long, default_value_t = 10)]
        show: usize,
        /// Expected rows (JSON Lines, in order): exit 1 if the output differs.
        #[arg(long)]
        expect: Option<PathBuf>,
        #[arg(long, default_value = "plugins/dist")]
        plugins_dir: PathBuf,
        /// Time limit per call.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
        /// Memory limit per instance.
        #[arg(long, default_value_t = 256)]
        memory_mb: u64,
        #[arg(long, default_value = ".finlake/cache")]
        cache_dir: PathBuf,
    },
    /// Show a component's imports, exports, size and hash, and whether the host accepts it.
    Inspect {
        file: PathBuf,
        #[arg(long, default_value = ".finlake/cache")]
        cache_dir: PathBuf,
    },
    /// Hot-swap a plugin in the running `finlake run`: compiled and tried on live input first,
    /// then swapped at a batch boundary in every stage that uses it (refused with the reason if
    /// it does not load, has another name, fails init or fails the sample).
    ///
    /// With --shadow the new version first runs beside the live one over recorded input (see
    /// `finlake plugin shadow`), and the swap is refused if it fails on a record the live
    /// version handled, or if more than --max-diff rows differ.
    Deploy {
        /// The plugin name (as in pipelines.toml).
        name: String,
        /// The component file.
        file: PathBuf,
        /// Shadow-run it first; refuse on new traps or differences.
        #[arg(long)]
        shadow: bool,
        /// With --shadow: rows allowed to differ.
        #[arg(long, default_value_t = 0, requires = "shadow")]
        max_diff: u64,
        #[command(flatten)]
        range: ShadowRange,
        #[command(flatten)]
        remote: Remote,
    },
    /// See what a new version would change before it goes live: the running `finlake run`
    /// runs FILE and the live version side by side over records the pipelines already consumed
    /// (read back from bronze, through the same upstream stages, with the same limits, off the
    /// hot path) and reports per table the rows only in one version and the rows that differ
    /// (matched by the table's unique_key, or by Kafka coordinates), new rejections and traps,
    /// and ns/record of both. Nothing is swapped or written. Exits 1 when anything differs.
    Shadow {
        /// The plugin name (as in pipelines.toml).
        name: String,
        /// The candidate component file.
        file: PathBuf,
        #[command(flatten)]
        range: ShadowRange,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Make an earlier version of a plugin live again in the running `finlake run`.
    Rollback {
        name: String,
        /// A kept version (its version string or sha256 prefix); default: the previous one.
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
}

/// Which recorded records a shadow run reads (default: the newest --limit).
#[derive(clap::Args, Clone, Default)]
pub struct ShadowRange {
    /// Records the pipeline's bronze table received after this table version.
    #[arg(long, conflicts_with = "since")]
    pub from_version: Option<u64>,
    /// Records produced at or after this time (2026-11-27T10:00:00Z) or this long ago (15m).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many records per pipeline [default: 1000].
    #[arg(long)]
    pub limit: Option<usize>,
}

impl ShadowRange {
    fn query(&self) -> finlake_api::ShadowQuery {
        finlake_api::ShadowQuery { from_version: self.from_version, since: self.since.clone(), limit: self.limit }
    }
}

/// Deploy and rollback talk to the running host; the others run here, off the async workers
/// (they compile and run Wasm).
pub async fn run(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::Deploy { name, file, shadow, max_diff, range, remote } => {
            let q = range.query();
            let query = finlake_api::DeployQuery {
                shadow,
                max_diff: shadow.then_some(max_diff),
                from_version: q.from_version,
                since: q.since,
                limit: q.limit,
            };
            remote::deploy(&remote, &name, &file, &query).await
        }
        PluginCommand::Shadow { name, file, range, json, remote } => {
            remote::shadow(&remote, &name, &file, &range.query(), json).await
        }
        PluginCommand::Rollback { name, to, remote } => remote::rollback(&remote, &name, to).await,
        PluginCommand::New { lang, name, dir } => block_in_place(|| new(&lang, &name, &dir)),
        PluginCommand::Build { path, out_dir } => block_in_place(|| build(&path, out_dir.as_deref())),
        PluginCommand::Wit { out: None } => {
            print!("{}", toolkit::sdk::WIT);
            Ok(())
        }
        PluginCommand::Wit { out: Some(dir) } => {
            let dir = toolkit::sdk::write_wit(&dir)?;
            println!("wrote {} ({})", dir.join("finlake.wit").display(), toolkit::wit_package());
            Ok(())
        }
        PluginCommand::Test {
            plugin,
            input,
            config,
            batch,
            show,
            expect,
            plugins_dir,
            timeout_ms,
            memory_mb,
            cache_dir,
        } => {
            let file = if plugin.ends_with(".wasm") || Path::new(&plugin).is_file() {
                PathBuf::from(&plugin)
            } else {
                plugins_dir.join(format!("{plugin}.wasm"))
            };
            let options = toolkit::trial::TrialOptions {
                plugin: file,
                input,
                config,
                batch_size: batch,
                limits: finlake::plugin::Limits {
                    timeout: Duration::from_millis(timeout_ms),
                    memory_bytes: (memory_mb as usize) << 20,
                    ..finlake::plugin::Limits::default()
                },
                show,
                expect,
                cache_dir,
            };
            block_in_place(|| test(&options))
        }
        PluginCommand::Inspect { file, cache_dir } => block_in_place(|| inspect(&file, &cache_dir)),
    }
}

fn new(lang: &str, name: &str, dir: &Path) -> anyhow::Result<()> {
    let lang = toolkit::build::Lang::parse(lang)
        .ok_or_else(|| anyhow::anyhow!("--lang {lang:?}: use rust, python, js or c"))?;
    let created = toolkit::new::create(lang, name, dir)?;
    println!("created {} — next: finlake plugin build {}", created.display(), created.display());
    Ok(())
}

fn build(path: &Path, out_dir: Option<&Path>) -> anyhow::Result<()> {
    let out = toolkit::build::build(path, out_dir)?;
    println!("built {}", out.display());
    Ok(())
}

fn test(options: &toolkit::trial::TrialOptions) -> anyhow::Result<()> {
    match toolkit::trial::run(options) {
        Ok(report) => print!("{report}"),
        Err(report) => {
            print!("{report}");
            bail!("plugin test failed");
        }
    }
    Ok(())
}

fn inspect(file: &Path, cache_dir: &Path) -> anyhow::Result<()> {
    match toolkit::inspect(file, cache_dir) {
        Ok(report) => print!("{report}"),
        Err(report) => {
            print!("{report}");
            bail!("the host would not accept {}", file.display());
        }
    }
    Ok(())
}
