//! The process allocator's settings, applied before any thread starts.
//!
//! glibc malloc gives each thread that contends an arena of its own (up to 8 per core). Under
//! the soak benchmark (xtask/soak.sh) the tokio workers, DataFusion, Parquet writers and
//! maintenance spread short-lived buffers over many arenas that are never given back, and RSS
//! climbed past 1 GiB in ten minutes; with two arenas it levels off (docs/OPERATIONS.md has
//! both runs). mimalloc was tried and fragmented worse.

/// Caps glibc's arenas at 2, unless `MALLOC_ARENA_MAX` is set (then glibc already applied it).
#[allow(unsafe_code)]
pub fn tune_allocator() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    // SAFETY: mallopt only changes allocator parameters; called at the top of main, before
    // any other thread exists.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
