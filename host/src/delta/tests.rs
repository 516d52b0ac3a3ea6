//! The access layer on real Delta tables in a temporary directory.

use std::collections::{BTreeMap, HashMap};

use super::maintenance::{self, Policy, Retention, Steps};
use super::{DeltaError, progress};
use crate::sink::{SinkError, TableSink};

fn policy() -> Policy {
    Policy {
        target_file_bytes: 128 << 20,
        small_file_bytes: 16 << 20,
        min_small_files: 2,
        time_travel_ms: 0,
        checkpoint_every: 10,
        dead_letter_retention_ms: 0,
        state_snapshots: 2,
    }
}

async fn sink(root: &std::path::Path, pipeline: &str) -> TableSink {
    TableSink::open(root, "t", "t", crate::sink::dead_letter_schema(), pipeline, "cluster/topic", &[0]).await.unwrap()
}

fn log_entries(root: &std::path::Path) -> usize {
    std::fs::read_dir(root.join("t/_delta_log"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".json"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_and_log_cleanup_bound_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = sink(dir.path(), "p").await;
    let meta = HashMap::new();
    for offset in 0..120 {
        s.commit(&BTreeMap::from([(0, offset)]), &meta).await.unwrap();
    }
    let table = super::open(dir.path(), "t").await.unwrap().unwrap();
    assert_eq!(table.version(), Some(120));
    // A checkpoint every 25 commits (fewer than delta.checkpointInterval), written beside
    // the commits; 99 is the last before 120.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while maintenance::last_checkpoint(&table).await != Some(99) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(maintenance::last_checkpoint(&table).await, Some(99));
    assert_eq!(log_entries(dir.path()), 121);
    // Ours: the retention properties (version 121), a checkpoint there (22 commits since 99 ≥
    // 10), then the log it covers is dropped (a zero horizon here; the config's is at least a
    // minute).
    // Log cleanup takes entries modified before now minus the horizon: 120 commits fit in a
    // second now, so let the newest entries' times fall clearly before the cutoff.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let report = maintenance::run(table, "t", Retention::None, &policy(), Steps::ALL).await.unwrap();
    assert_eq!(report.error, None);
    assert_eq!(report.checkpoint, Some(121));
    assert!(report.log_entries_removed >= 100, "{report:?}");
    assert!(log_entries(dir.path()) <= 2, "{} log entries left", log_entries(dir.path()));
    // The table opens from the checkpoint with its progress intact.
    let reopened = sink(dir.path(), "p").await;
    assert_eq!(reopened.committed(0), Some(119));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_of_the_same_progress_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let meta = HashMap::new();
    let mut first = sink(dir.path(), "p").await;
    first.commit(&BTreeMap::from([(0, 10)]), &meta).await.unwrap();
    // A second process opens the same table for the same pipeline, then both write.
    let mut second = sink(dir.path(), "p").await;
    assert_eq!(second.committed(0), Some(10));
    first.commit(&BTreeMap::from([(0, 20)]), &meta).await.unwrap();
    let err = second.commit(&BTreeMap::from([(0, 15)]), &meta).await.unwrap_err();
    let SinkError::Lake(DeltaError::AnotherWriter { found, expected, .. }) = &err else {
        panic!("expected AnotherWriter, got {err}");
    };
    assert_eq!((*expected, *found), (Some(15), Some(20)));
    assert!(err.to_string().contains("another writer"), "{err}");
    // The table holds the first writer's progress only.
    let table = super::open(dir.path(), "t").await.unwrap().unwrap();
    let stored = progress::stored(&table, "t", &progress::app_id("p", "cluster/topic", 0)).await.unwrap();
    assert_eq!(stored, Some(20));
    // A different pipeline's progress in the same table is no conflict.
    let mut other = sink(dir.path(), "q").await;
    other.commit(&BTreeMap::from([(0, 5)]), &meta).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_rereads_progress_only_where_the_table_moved() {
    let dir = tempfile::tempdir().unwrap();
    let meta = HashMap::new();
    let open =
        || TableSink::open(dir.path(), "t", "t", crate::sink::dead_letter_schema(), "p", "cluster/topic", &[0, 1]);
    let mut a = open().await.unwrap();
    a.commit(&BTreeMap::from([(0, 10)]), &meta).await.unwrap();
    // Nothing moved: what this writer committed stands.
    a.refresh(&[0, 1]).await.unwrap();
    assert_eq!((a.committed(0), a.committed(1)), (Some(10), None));
    // Another host takes partition 1 over and commits it; the first writer, refreshed after
    // the rebalance, sees it (and still its own partition 0).
    let mut b = open().await.unwrap();
    assert_eq!(b.committed(0), Some(10));
    b.commit(&BTreeMap::from([(1, 5)]), &meta).await.unwrap();
    a.refresh(&[0, 1]).await.unwrap();
    assert_eq!((a.committed(0), a.committed(1)), (Some(10), Some(5)));
    // And once partition 0 moves under it too.
    b.commit(&BTreeMap::from([(0, 12)]), &meta).await.unwrap();
    a.refresh(&[0, 1]).await.unwrap();
    assert_eq!((a.committed(0), a.committed(1)), (Some(12), Some(5)));
    a.commit(&BTreeMap::from([(0, 13)]), &meta).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_the_newest_state_snapshots_per_stage() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut s = TableSink::open(root, "st", "st", crate::sink::state::state_schema(), "p", "c/t", &[0]).await.unwrap();
    for i in 0..5u8 {
        for stage in ["a", "b"] {
            crate::sink::state::append_snapshot(s.buffer_mut(), stage, "plugin", "1.0.0", vec![i; 4]);
        }
        s.commit(&BTreeMap::from([(0, i as i64)]), &HashMap::new()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let table = super::open(root, "st").await.unwrap().unwrap();
    let report = maintenance::run(table, "st", Retention::StateSnapshots, &policy(), Steps::ALL).await.unwrap();
    assert_eq!(report.error, None);
    assert_eq!(report.rows_deleted, 6, "{report:?}");
    let table = super::open(root, "st").await.unwrap().unwrap();
    let rows: usize = super::scan(&table, &[]).await.unwrap().iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 4);
    let latest = crate::sink::state::latest_snapshots(&table, "st").await.unwrap();
    assert_eq!(latest["a"].bytes, vec![4; 4]);
    assert_eq!(latest["b"].bytes, vec![4; 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_properties_follow_the_horizon_and_writers_commit_on_top() {
    let dir = tempfile::tempdir().unwrap();
    let meta = HashMap::new();
    let mut s = sink(dir.path(), "p").await;
    s.commit(&BTreeMap::from([(0, 1)]), &meta).await.unwrap();
    let policy = Policy { time_travel_ms: 300_000, ..policy() };
    // Maintenance works on its own handle; the sink's loaded state is now one version behind.
    let table = super::open(dir.path(), "t").await.unwrap().unwrap();
    let table = maintenance::horizon_properties(table, "t", &policy).await.unwrap();
    let config = table.snapshot().unwrap().metadata().configuration().clone();
    assert_eq!(config.get("delta.deletedFileRetentionDuration").map(String::as_str), Some("interval 300 seconds"));
    assert_eq!(config.get("delta.logRetentionDuration").map(String::as_str), Some("interval 300 seconds"));
    let version = table.version();
    // Unchanged settings make no commit.
    let table = maintenance::horizon_properties(table, "t", &policy).await.unwrap();
    assert_eq!(table.version(), version);
    // The writer's commit lost the race to a metadata change and is made again on top of it.
    s.commit(&BTreeMap::from([(0, 2)]), &meta).await.unwrap();
    let table = super::open(dir.path(), "t").await.unwrap().unwrap();
    assert_eq!(table.version(), version.map(|v| v + 1));
    let stored = progress::stored(&table, "t", &progress::app_id("p", "cluster/topic", 0)).await.unwrap();
    assert_eq!(stored, Some(2));
}

#[test]
fn table_urls_under_local_and_object_storage_roots() {
    use std::path::Path;
    let s3 = super::table_url(Path::new("s3://bucket/lake"), "silver/trades").unwrap();
    assert_eq!(s3.as_str(), "s3://bucket/lake/silver/trades/");
    let slash = super::table_url(Path::new("s3://bucket/lake/"), "dead_letters").unwrap();
    assert_eq!(slash.as_str(), "s3://bucket/lake/dead_letters/");
    let hdfs = super::table_url(Path::new("hdfs://namenode:8020/finlake"), "gold/x").unwrap();
    assert_eq!(hdfs.as_str(), "hdfs://namenode:8020/finlake/gold/x/");
    let local = super::table_url(Path::new("/var/lake"), "silver/trades").unwrap();
    assert_eq!(local.as_str(), "file:///var/lake/silver/trades/");
    assert!(super::root_url(Path::new("/var/lake")).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_of_different_partitions_append_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let meta = HashMap::new();
    // Two hosts of one pipeline, each owning one partition of the topic.
    let mut a = sink(dir.path(), "p").await;
    let mut b = sink(dir.path(), "p").await;
    for i in 1..=3 {
        a.commit(&BTreeMap::from([(0, i * 10)]), &meta).await.unwrap();
        b.commit(&BTreeMap::from([(1, i * 10)]), &meta).await.unwrap();
    }
    let table = super::open(dir.path(), "t").await.unwrap().unwrap();
    for p in [0, 1] {
        let stored = progress::stored(&table, "t", &progress::app_id("p", "cluster/topic", p)).await.unwrap();
        assert_eq!(stored, Some(30), "partition {p}");
    }
    // The group gives partition 0 to b, which re-reads the table first: it goes on from a's.
    b.refresh(&[0, 1]).await.unwrap();
    assert_eq!(b.committed(0), Some(30));
    b.commit(&BTreeMap::from([(0, 40)]), &meta).await.unwrap();
    // a has not noticed (cut off): its next commit of partition 0 is refused, nothing twice.
    let err = a.commit(&BTreeMap::from([(0, 45)]), &meta).await.unwrap_err();
    assert!(matches!(err, SinkError::Lake(DeltaError::AnotherWriter { .. })), "{err}");
    let table = super::open(dir.path(), "t").await.unwrap().unwrap();
    let stored = progress::stored(&table, "t", &progress::app_id("p", "cluster/topic", 0)).await.unwrap();
    assert_eq!(stored, Some(40));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_lived_writer_commits_at_a_cost_that_does_not_grow_with_the_log() {
    // A handle moved forward commit by commit replayed every commit since it was loaded: the
    // mean commit went from 23 ms (commits 50–99) to 111 ms (commits 550–599) here. Loaded
    // afresh after each checkpoint (`delta::rebase_when_due`), 21 ms to 27 ms.
    commits_stay_cheap(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_commit_whose_upkeep_is_skipped_still_commits_at_a_cost_that_does_not_grow() {
    // A pipeline's window commits through begin_commit / run / finish_commit and is meant to
    // call `Committed::rebase` after announcing the commit; one that does not must not bring
    // back the growth (the sink runs the upkeep before its next commit).
    commits_stay_cheap(true).await;
}

/// 600 commits of one file each; means over 50 commits, and a 2.5x bound, keep this
/// machine's noise out of it. `windowed`: through [`TableSink::begin_commit`] with
/// `Committed::rebase` never called.
async fn commits_stay_cheap(windowed: bool) {
    let dir = tempfile::tempdir().unwrap();
    let meta = HashMap::new();
    let schema = crate::sink::state::state_schema();
    let mut s = TableSink::open(dir.path(), "st", "st", schema, "p", "c/t", &[0]).await.unwrap();
    let mut ms = Vec::new();
    for offset in 0..600 {
        // Each commit adds a file: replaying the log is replaying its adds.
        crate::sink::state::append_snapshot(s.buffer_mut(), "a", "plugin", "1.0.0", vec![1; 4]);
        let processed = BTreeMap::from([(0, offset)]);
        let started = std::time::Instant::now();
        if windowed {
            let job = s.begin_commit(&processed, &meta).unwrap().expect("rows to commit");
            let done = job.run().await.unwrap();
            s.finish_commit(done);
        } else {
            s.commit(&processed, &meta).await.unwrap();
        }
        ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let mean = |r: std::ops::Range<usize>| ms[r.clone()].iter().sum::<f64>() / r.len() as f64;
    let (early, late) = (mean(50..100), mean(550..600));
    assert!(late < 2.5 * early, "commits 50-99 took {early:.1} ms on average, commits 550-599 {late:.1} ms");
    assert_eq!(s.committed(0), Some(599));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_stopped_by_a_property_change_is_refused_when_another_writer_set_its_progress_after() {
    let dir = tempfile::tempdir().unwrap();
    let meta = HashMap::new();
    let mut first = sink(dir.path(), "p").await;
    let mut second = sink(dir.path(), "p").await;
    // Maintenance changes the table's properties, then the second writer commits partition 0
    // on top of that (its own retry past the change): both after the first writer's version.
    let table = super::open(dir.path(), "t").await.unwrap().unwrap();
    let policy = Policy { time_travel_ms: 300_000, ..policy() };
    maintenance::horizon_properties(table, "t", &policy).await.unwrap();
    second.commit(&BTreeMap::from([(0, 20)]), &meta).await.unwrap();
    // delta-rs stops at the property change and checks nothing after it; the commit made
    // again on top must still see the second writer's progress.
    let err = first.commit(&BTreeMap::from([(0, 15)]), &meta).await.unwrap_err();
    let SinkError::Lake(DeltaError::AnotherWriter { found, expected, .. }) = &err else {
        panic!("expected AnotherWriter, got {err}");
    };
    assert_eq!((*expected, *found), (Some(15), Some(20)));
    let table = super::open(dir.path(), "t").await.unwrap().unwrap();
    assert_eq!(table.version(), Some(2), "nothing committed after the second writer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_racing_to_create_a_table_create_it_once() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let opens = (0..4).map(|_| {
            let root = dir.path().to_path_buf();
            tokio::spawn(async move {
                let new = super::NewTable {
                    name: "t".into(),
                    columns: crate::sink::schema::delta_fields(&crate::sink::dead_letter_schema()),
                    partition_by: Vec::new(),
                    comment: "race".into(),
                };
                super::open_or_create(&root, "t", new).await.map(|(_, created)| created)
            })
        });
        let created: Vec<bool> =
            futures::future::join_all(opens).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
        assert_eq!(created.iter().filter(|&&c| c).count(), 1, "round {round}: {created:?}");
        // One commit, one metadata action: a loser's create is not committed again on top.
        assert_eq!(log_entries(dir.path()), 1, "round {round}");
    }
}
