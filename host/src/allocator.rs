//! The process allocator: its settings, applied before any thread starts, and what it holds.
//!
//! glibc malloc gives each thread that contends an arena of its own (up to 8 per core). Under
//! the soak benchmark (xtask/soak.sh) the tokio workers, DataFusion, Parquet writers and
//! maintenance spread short-lived buffers over many arenas that are never given back, and RSS
//! climbed past 1 GiB in ten minutes; with two arenas it levels off (docs/OPERATIONS.md has
//! both runs). mimalloc was tried and fragmented worse.
//!
//! `/metrics` reports the heap as the allocator sees it (`finlake_heap_*`), so growth in RSS
//! can be told apart: bytes handed out (something holds on to memory) versus free bytes the
//! allocator keeps (fragmentation).

/// Caps glibc's arenas at 2 and fixes the size from which a block gets a mapping of its own
/// at 4 MiB, unless `MALLOC_ARENA_MAX` / `MALLOC_MMAP_THRESHOLD_` are set (then glibc already
/// applied them).
///
/// glibc raises that threshold each time a mapped block is freed, up to 32 MiB; after a few
/// Parquet writes every column buffer then lives in the arenas, and the holes they leave keep
/// the arenas from shrinking. Fixed, large buffers are mapped and unmapped again.
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

/// The heap as the allocator accounts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes handed out to the program and not yet freed (arena chunks plus mmapped blocks).
    pub in_use: u64,
    /// Bytes the allocator holds free inside its arenas.
    pub free: u64,
    /// Bytes in blocks mapped on their own (large allocations).
    pub mmapped: u64,
}

/// The allocator's own accounting, where the platform has it (glibc).
#[allow(unsafe_code)]
pub fn stats() -> Option<HeapStats> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters (taking each arena's lock).
        let m = unsafe { libc::mallinfo2() };
        Some(HeapStats { in_use: (m.uordblks + m.hblkhd) as u64, free: m.fordblks as u64, mmapped: m.hblkhd as u64 })
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// Gives free memory at the top and in the middle of the arenas back to the system. Returns
/// whether any was released.
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

/// Trims the heap every `every` until `stop`: memory freed inside the arenas is only given
/// back to the system by a trim, and without one the arenas keep every page they ever held
/// (the soak's RSS climbed with the heap in use flat). A trim takes a few milliseconds.
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
        metrics::gauge!("finlake_heap_mmapped_bytes").set(s.mmapped as f64);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn stats_see_a_large_allocation() {
        let before = super::stats().unwrap().in_use;
        let block = std::hint::black_box(vec![1u8; 64 << 20]);
        let during = super::stats().unwrap().in_use;
        assert!(during >= before + (64 << 20) - 4096, "{before} → {during}");
        drop(block);
    }
}
