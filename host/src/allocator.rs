//! The process allocators: their settings, applied before any thread starts, and what they hold.
//!
//! Rust's heap is jemalloc, set to give pages freed for more than a second back to the system
//! from a background thread. With glibc malloc the soak benchmark (xtask/soak.sh) showed the
//! heap in use flat (~100 MiB) while RSS climbed: each burst (a Parquet flush, a compaction)
//! left freed memory inside the arenas that trimming only partly returned (docs/OPERATIONS.md
//! has the runs; mimalloc fragmented worse). The C libraries (librdkafka, zstd) still allocate
//! through glibc, which [`tune`] bounds and [`trim_periodically`] trims.
//!
//! `/metrics` reports both heaps as the allocators see them (`finlake_heap_*`), so growth in RSS
//! can be told apart: bytes handed out (something holds on to memory) versus free bytes an
//! allocator keeps (fragmentation).

#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read by jemalloc at its first allocation (`_RJEM_MALLOC_CONF` in the
/// environment overrides them).
///
/// Dirty pages (freed, still mapped) are purged after 1 s and not kept "muzzy" (lazily
/// freed) either, by a background thread so no allocation pays for it; 4 arenas instead of
/// 4 per core, because our threads are few and a shared arena reuses what another freed.
#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
#[allow(non_upper_case_globals, unsafe_code)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8; 70] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:4\0";

/// Caps glibc's arenas (used by C libraries) at 2 and fixes the size from which a block gets a
/// mapping of its own at 4 MiB, unless `MALLOC_ARENA_MAX` / `MALLOC_MMAP_THRESHOLD_` are set
/// (then glibc already applied them).
///
/// glibc raises that threshold each time a mapped block is freed, up to 32 MiB; large buffers
/// would then live in the arenas, and the holes they leave keep the arenas from shrinking.
#[allow(unsafe_code)]
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            // SAFETY: mallopt only changes allocator parameters; called at the top of main,
            // before any other thread exists.
            unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            // SAFETY: as above.
            unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20) };
        }
    }
}

/// The heap as the allocators account for it (jemalloc for Rust, glibc for C libraries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeapStats {
    /// Bytes handed out to the program and not yet freed.
    pub in_use: u64,
    /// Bytes the allocators hold resident but free: jemalloc's pages not yet purged and
    /// glibc's free chunks inside its arenas.
    pub free: u64,
}

/// The allocators' own accounting, where the platform has it.
#[allow(unsafe_code)]
pub fn stats() -> Option<HeapStats> {
    #[allow(unused_mut)]
    let mut total: Option<HeapStats> = None;
    #[cfg(all(target_os = "linux", not(target_env = "msvc")))]
    {
        use tikv_jemalloc_ctl::{epoch, stats};
        // The counters are a snapshot taken at the last epoch; advance it to read fresh ones.
        if epoch::advance().is_ok()
            && let (Ok(allocated), Ok(resident)) = (stats::allocated::read(), stats::resident::read())
        {
            let t = total.get_or_insert_with(HeapStats::default);
            t.in_use += allocated as u64;
            t.free += resident.saturating_sub(allocated) as u64;
        }
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters (taking each arena's lock).
        let m = unsafe { libc::mallinfo2() };
        let t = total.get_or_insert_with(HeapStats::default);
        t.in_use += (m.uordblks + m.hblkhd) as u64;
        t.free += m.fordblks as u64;
    }
    total
}

/// Gives free memory at the top and in the middle of glibc's arenas back to the system (jemalloc
/// purges its own from its background thread). Returns whether any was released.
#[allow(unsafe_code)]
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only releases free pages; it takes the arena locks itself.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Trims glibc's heap every `every` until `stop`: memory freed inside its arenas is only given
/// back to the system by a trim, and without one the arenas keep every page they ever held.
/// A trim takes a few milliseconds.
pub async fn trim_periodically(every: std::time::Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let started = std::time::Instant::now();
        let before = resident_bytes();
        let released = tokio::task::spawn_blocking(trim).await.unwrap_or(false);
        let freed = before.zip(resident_bytes()).map_or(0, |(b, a)| b.saturating_sub(a));
        metrics::counter!("finlake_heap_trims_total").increment(1);
        metrics::counter!("finlake_heap_trimmed_bytes_total").increment(freed);
        tracing::debug!(released, freed_bytes = freed, ms = started.elapsed().as_millis() as u64, "heap trimmed");
    }
}

/// The process's resident set, from `/proc/self/status`.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Publishes [`stats`] as gauges, for `/metrics`.
pub fn publish() {
    if let Some(s) = stats() {
        metrics::gauge!("finlake_heap_in_use_bytes").set(s.in_use as f64);
        metrics::gauge!("finlake_heap_free_bytes").set(s.free as f64);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn stats_see_a_large_allocation() {
        // A Vec comes from the global allocator (jemalloc): its count moves.
        let before = super::stats().unwrap().in_use;
        let block = std::hint::black_box(vec![1u8; 64 << 20]);
        let during = super::stats().unwrap().in_use;
        assert!(during >= before + (64 << 20) - 4096, "{before} → {during}");
        drop(block);
    }

    #[test]
    #[cfg(all(target_os = "linux", not(target_env = "msvc")))]
    #[allow(unsafe_code)]
    fn jemalloc_took_our_settings() {
        // jemalloc reports the options it parsed: a typo in malloc_conf would leave defaults.
        assert!(tikv_jemalloc_ctl::opt::background_thread::read().unwrap());
        assert_eq!(tikv_jemalloc_ctl::opt::narenas::read().unwrap(), 4);
        // SAFETY: the name is NUL-terminated and opt.dirty_decay_ms is an ssize_t.
        let decay: isize = unsafe { tikv_jemalloc_ctl::raw::read(b"opt.dirty_decay_ms\0") }.unwrap();
        assert_eq!(decay, 1000);
    }
}
