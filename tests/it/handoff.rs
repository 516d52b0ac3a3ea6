//! Handing partitions over between hosts (Tansu, several `finlake run` processes): a host whose
//! partitions are revoked commits what it holds for them before it lets go, so the next owner
//! starts after its last record instead of reading the window again; and each host's
//! `/api/pipelines` shows the whole consumer group (announced through the lake).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use finlake::config::Config;
use finlake::kafka::producer::ProduceOptions;
use finlake::simulate::Kind;

use crate::common::*;
use crate::gold::count;
use crate::multihost::{Host, Tansu, repeated_txns, walk_tables};

fn trades(topic: &str, count: u64, seed: u64) -> ProduceOptions {
    ProduceOptions {
        kind: Kind::Trades,
        topic: topic.to_string(),
        rate: 2000.0,
        count: Some(count),
        malformed_ratio: 0.0,
        seed,
        clock_speed: 1.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_host_commits_what_it_holds_and_the_next_owner_reads_nothing_again() {
    let dir = KeptDir::new();
    let tansu = Tansu::start(&dir.path().join("tansu.log"));
    println!("logs of the broker and the hosts in {}", dir.path().display());
    let topic = unique("handoff");
    tansu.create_topic(&topic, 4);
    trades_config(dir.path(), &topic);
    let path = dir.path().join("pipelines.toml");
    let mut config = Config::load(&path).unwrap();
    // Windows of ten minutes: only the first window after a start (within a second) and a
    // hand-over commit during this test.
    config.pipelines[0].flush.max_latency_ms = 600_000;
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let config = Config::load(&path).unwrap();

    let h1 = Host::start("h1", &config, dir.path(), &tansu.addr);
    wait_until(Duration::from_secs(60), "h1 to own every partition", || async {
        h1.partitions().await == Some(vec![0, 1, 2, 3])
    })
    .await;
    assert_eq!(produce_in_background(&tansu.addr, trades(&topic, 500, 1)).await.unwrap().unwrap(), 500);
    wait_until(Duration::from_secs(30), "h1's first window in silver", || async {
        count(&config, "SELECT count(*) FROM silver_trades").await == 500
    })
    .await;
    assert_eq!(produce_in_background(&tansu.addr, trades(&topic, 1000, 2)).await.unwrap().unwrap(), 1000);
    wait_until(Duration::from_secs(30), "h1 to read 1500 records", || async {
        h1.snapshot().await.is_some_and(|s| s.records_in == 1500)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(count(&config, "SELECT count(*) FROM silver_trades").await, 500, "h1 holds its second window");

    let joined = Instant::now();
    let h2 = Host::start("h2", &config, dir.path(), &tansu.addr);
    wait_until(Duration::from_secs(60), "h1 and h2 to share the partitions", || async {
        let (a, b) = (h1.partitions().await.unwrap_or_default(), h2.partitions().await.unwrap_or_default());
        a.len() == 2 && b.len() == 2
    })
    .await;
    // Within the rebalance, not ten minutes later: h1 committed its window before letting go.
    wait_until(Duration::from_secs(20), "every record in silver after the hand-over", || async {
        count(&config, "SELECT count(*) FROM silver_trades").await == 1500
    })
    .await;
    println!("silver whole {:.1} s after h2 started", joined.elapsed().as_secs_f64());
    let log = std::fs::read_to_string(dir.path().join("h1.log")).unwrap();
    assert!(log.contains("committed what this host held, then gave its partitions up"), "h1 says it handed over");
    // h2 started where h1's commit ended: it read nothing again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s2 = h2.snapshot().await.expect("h2 answers");
    assert_eq!(s2.records_in, 0, "h2 re-read records h1 had committed");

    // One host's API shows the whole group, as the hosts announce it in the lake.
    wait_until(Duration::from_secs(20), "h1's API to show both hosts of the group", || async {
        h1.snapshot()
            .await
            .and_then(|s| s.group)
            .is_some_and(|g| g.len() == 2 && g.iter().all(|m| m.partitions.len() == 2))
    })
    .await;
    let s1 = h1.snapshot().await.unwrap();
    let group = s1.group.clone().unwrap();
    let hosts: BTreeSet<&str> = group.iter().map(|m| m.host.as_str()).collect();
    assert_eq!(hosts, BTreeSet::from(["h1", "h2"]), "{group:?}");
    let mut all: Vec<i32> = group.iter().flat_map(|m| m.partitions.clone()).collect();
    all.sort_unstable();
    assert_eq!(all, vec![0, 1, 2, 3], "every partition once: {group:?}");
    let mine = group.iter().find(|m| m.host == "h1").unwrap();
    assert_eq!(Some(mine.partitions.clone()), s1.partitions, "the group view and h1 agree on h1's partitions");
    let theirs = group.iter().find(|m| m.host == "h2").unwrap();
    assert_eq!(Some(theirs.partitions.clone()), h2.partitions().await, "and on h2's");
    println!("group as h1's API shows it: {group:?}");

    drop((h1, h2));
    let lake = config.lake.root.clone();
    for table in ["bronze/trades", "silver/trades"] {
        let rows = kafka_coordinates(&lake.join(table)).await;
        assert_exactly_once(table, &rows);
        assert_eq!(rows.len(), 1500, "{table}: every produced record");
    }
    let repeated: Vec<String> = walk_tables(&lake).iter().flat_map(|t| repeated_txns(t)).collect();
    assert!(repeated.is_empty(), "txn versions written twice: {repeated:?}");
}
