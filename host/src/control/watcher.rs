//! Watches the plugins directory and the config file by polling their size and modification
//! time. Polling, rather than inotify, survives editors that replace a file (a new inode),
//! network and container mounts, and needs no extra dependency; with a handful of files every
//! 500 ms it costs nothing measurable. A change is acted on once it has been stable for one
//! poll, so a file still being copied is not read half-written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::ControlPlane;
use super::plugins::{Source, plugin_names};
use super::reload::ChangeSource;

const POLL: Duration = Duration::from_millis(500);

type Signature = Option<(SystemTime, u64)>;

fn signature(path: &Path) -> Signature {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// One watched file: the signature last seen, and whether it changed since it was acted on.
struct Watched {
    seen: Signature,
    pending: bool,
}

impl Watched {
    fn new(path: &Path) -> Watched {
        Watched { seen: signature(path), pending: false }
    }

    /// True once a change has been stable for one poll.
    fn settled_change(&mut self, path: &Path) -> bool {
        let now = signature(path);
        if now != self.seen {
            self.seen = now;
            self.pending = true;
            return false;
        }
        std::mem::take(&mut self.pending)
    }
}

pub(super) fn spawn(control: Arc<ControlPlane>) {
    tokio::spawn(async move {
        let mut config_file = control.config().source.clone().map(|p| {
            let w = Watched::new(&p);
            (p, w)
        });
        let mut plugins: BTreeMap<PathBuf, (String, Watched)> = BTreeMap::new();
        tracing::info!(config = ?config_file.as_ref().map(|(p, _)| p.display().to_string()), plugins_dir = %control.config().plugins.dir.display(), "watching for plugin and config changes");
        loop {
            tokio::time::sleep(POLL).await;
            if control.is_shut_down() {
                return;
            }
            if let Some((path, watched)) = &mut config_file
                && watched.settled_change(path)
            {
                config_changed(&control, path).await;
            }
            // The set of plugin files follows the config in effect.
            let config = control.config();
            let names = plugin_names(&config);
            plugins.retain(|_, (name, _)| names.contains(name));
            for name in names {
                let path = config.plugin_path(&name);
                let (_, watched) = plugins.entry(path.clone()).or_insert_with(|| (name.clone(), Watched::new(&path)));
                if watched.settled_change(&path) {
                    plugin_changed(&control, &name, &path).await;
                }
            }
        }
    });
}

async fn config_changed(control: &ControlPlane, path: &Path) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "config file unreadable; the running config stays");
            return;
        }
    };
    if hex::encode(Sha256::digest(text.as_bytes())) == control.config_sha() {
        return;
    }
    tracing::info!(path = %path.display(), "config file changed");
    // Refusals are logged and kept for /api/config/status by reload itself.
    let _ = control.reload(text, ChangeSource::File, false).await;
}

async fn plugin_changed(control: &ControlPlane, name: &str, path: &Path) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(plugin = name, path = %path.display(), error = %e, "plugin file unreadable; the live version keeps running");
            return;
        }
    };
    if control.active_sha(name).as_deref() == Some(hex::encode(Sha256::digest(&bytes)).as_str()) {
        return;
    }
    tracing::info!(plugin = name, path = %path.display(), "plugin file changed");
    // Refusals are logged and kept for /api/plugins by deploy itself.
    let _ = control.deploy(name, bytes, Source::File).await;
}
