//! `finlake plugin new|build|test|inspect` (local, through the toolkit) and `deploy|rollback`
//! (sent to the running host, see [`super::remote`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use tokio::task::block_in_place;

use super::remote::{self, Remote};
use finlake::toolkit;

#[derive(clap::Subcommand)]
pub enum PluginCommand {
    /// Create a ready-to-build plugin folder (source, sample input, expected output, README).
    New {
        /// rust, python, js or c
        #[arg(long)]
        lang: String,
        /// Plugin name (lowercase, digits, '-'); also the folder name and the declared name.
        name: String,
        /// Parent folder.
        #[arg(long, default_value = "plugins")]
        dir: PathBuf,
    },
    /// Build a plugin folder into a Wasm component (language detected from its files).
    Build {
        /// The plugin folder.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Where the component goes, as <folder name>.wasm.
        #[arg(long, default_value = "plugins/dist")]
        out_dir: PathBuf,
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
    Deploy {
        /// The plugin name (as in pipelines.toml).
        name: String,
        /// The component file.
        file: PathBuf,
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

/// Deploy and rollback talk to the running host; the others run here, off the async workers
/// (they compile and run Wasm).
pub async fn run(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::Deploy { name, file, remote } => remote::deploy(&remote, &name, &file).await,
        PluginCommand::Rollback { name, to, remote } => remote::rollback(&remote, &name, to).await,
        PluginCommand::New { lang, name, dir } => block_in_place(|| new(&lang, &name, &dir)),
        PluginCommand::Build { path, out_dir } => block_in_place(|| build(&path, &out_dir)),
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
    let created = toolkit::new::create(lang, name, dir).map_err(anyhow::Error::msg)?;
    println!("created {} — next: finlake plugin build {}", created.display(), created.display());
    Ok(())
}

fn build(path: &Path, out_dir: &Path) -> anyhow::Result<()> {
    let out = toolkit::build::build(path, out_dir).map_err(anyhow::Error::msg)?;
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
