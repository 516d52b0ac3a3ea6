//! Paths a config names: tables under the lake root, files handed to plugins. Both are
//! confined, so an edit (or an API request) cannot make FinLake write outside the lake or hand
//! a plugin a file outside the config's directory.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The largest file `config_files` may name (a model, a lookup table).
pub const MAX_CONFIG_FILE_BYTES: u64 = 16 << 20;

/// A table path as one canonical relative form: `x`, `x/`, `./x` and `x//` are all `x`.
/// Refuses what would leave the lake root: absolute paths, `..`, drive prefixes, empty.
pub fn normalize_table_path(raw: &str) -> Result<String, String> {
    if raw.starts_with(['/', '\\']) || raw.contains(':') {
        return Err(format!("table path {raw:?} must be relative to the lake root (no leading '/', no drive)"));
    }
    let mut parts = Vec::new();
    for part in raw.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => return Err(format!("table path {raw:?} must stay under the lake root (no '..')")),
            p if p.chars().any(char::is_control) => {
                return Err(format!("table path {raw:?} contains control characters"));
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(format!("table path {raw:?} names no directory under the lake root"));
    }
    Ok(parts.join("/"))
}

/// Why a `config_files` entry cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("{path} is outside the config's directory {base}; config_files must name files beside pipelines.toml")]
    Outside { path: String, base: String },
    #[error("{path} is not a regular file")]
    NotAFile { path: String },
    #[error("{path} is {bytes} bytes; config_files are limited to {limit} bytes")]
    TooLarge { path: String, bytes: u64, limit: u64 },
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Whether a `config_files` path, as written, stays under the config's directory.
pub fn config_file_path_ok(path: &Path) -> bool {
    path.is_relative() && path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Reads a `config_files` entry: a regular file under `base` (symlinks resolved), at most
/// [`MAX_CONFIG_FILE_BYTES`]. A FIFO, a device or a file elsewhere is refused before it is
/// opened for reading, so neither `/dev/zero` nor a secret can reach a plugin.
pub fn read_config_file(path: &Path, base: &Path) -> Result<String, ConfigFileError> {
    let shown = path.display().to_string();
    let io = |source| ConfigFileError::Io { path: shown.clone(), source };
    let base_real: PathBuf = base.canonicalize().map_err(io)?;
    let real = path.canonicalize().map_err(io)?;
    if !real.starts_with(&base_real) {
        return Err(ConfigFileError::Outside { path: shown, base: base_real.display().to_string() });
    }
    let meta = std::fs::metadata(&real).map_err(io)?;
    if !meta.is_file() {
        return Err(ConfigFileError::NotAFile { path: shown });
    }
    if meta.len() > MAX_CONFIG_FILE_BYTES {
        return Err(ConfigFileError::TooLarge { path: shown, bytes: meta.len(), limit: MAX_CONFIG_FILE_BYTES });
    }
    let mut text = String::new();
    // The file may grow between the check and the read: read no more than the limit allows.
    std::fs::File::open(&real).map_err(io)?.take(MAX_CONFIG_FILE_BYTES + 1).read_to_string(&mut text).map_err(io)?;
    if text.len() as u64 > MAX_CONFIG_FILE_BYTES {
        return Err(ConfigFileError::TooLarge { path: shown, bytes: text.len() as u64, limit: MAX_CONFIG_FILE_BYTES });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_paths_normalise_and_stay_inside() {
        for same in ["x", "x/", "./x", "x//", "./x/."] {
            assert_eq!(normalize_table_path(same).unwrap(), "x", "{same}");
        }
        assert_eq!(normalize_table_path("gold/a").unwrap(), "gold/a");
        for bad in ["..", "../x", "a/../../x", "/tmp/x", "", ".", "C:/x", "\\\\srv\\x"] {
            assert!(normalize_table_path(bad).is_err(), "{bad} accepted");
        }
        assert!(config_file_path_ok(Path::new("models/m.json")));
        assert!(!config_file_path_ok(Path::new("../secret")));
        assert!(!config_file_path_ok(Path::new("/dev/zero")));
    }

    #[test]
    fn config_files_are_regular_files_under_the_base() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.json"), "{}").unwrap();
        assert_eq!(read_config_file(&dir.path().join("m.json"), dir.path()).unwrap(), "{}");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(matches!(read_config_file(&dir.path().join("sub"), dir.path()), Err(ConfigFileError::NotAFile { .. })));
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        assert!(matches!(read_config_file(&dir.path().join("link"), dir.path()), Err(ConfigFileError::Outside { .. })));
        assert!(matches!(read_config_file(Path::new("/dev/zero"), dir.path()), Err(ConfigFileError::Outside { .. })));
    }
}
