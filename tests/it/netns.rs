//! Faults as in a real network: three hosts, each `finlake run` in its own network namespace
//! (`ip netns` + veth into a bridge, iproute2), the Tansu broker on the bridge with a durable
//! log (sqlite). (1) One host's link goes down for longer than the session timeout while it
//! can still reach the lake, then comes back: its partitions move, its stale commits are
//! refused. (2) The broker is killed and started again mid-stream. (3) One host is killed
//! (SIGKILL) mid-stream and a fourth host joins. After each, every produced record is in bronze
//! and silver exactly once and no table holds a `txn` version twice; at the end the live hosts
//! own every partition once and gold equals a recomputation from silver.

use std::process::Command;
use std::time::{Duration, Instant};

use finlake::kafka::producer::ProduceOptions;
use finlake::simulate::Kind;

use crate::common::*;
use crate::gold::{count, gold_config, recomputed_and_gold};
use crate::multihost::{Host, Tansu, free_port, repeated_txns, topic_records, walk_tables};

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip (iproute2)");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// A bridge with an address in this namespace and one namespace per host, each with a veth
/// into the bridge. Removed on drop.
struct Net {
    id: String,
    subnet: String,
    hosts: usize,
}

impl Net {
    fn new(hosts: usize) -> Net {
        // Short names (interface names have at most 15 bytes), distinct per run.
        let n = std::process::id() % 200 + 20;
        let net = Net { id: format!("fl{n}"), subnet: format!("10.213.{n}"), hosts };
        ip(&["link", "add", &net.bridge(), "type", "bridge"]);
        ip(&["addr", "add", &format!("{}.1/24", net.subnet), "dev", &net.bridge()]);
        ip(&["link", "set", &net.bridge(), "up"]);
        for i in 0..hosts {
            let (ns, veth) = (net.ns(i), format!("{}v{i}", net.id));
            ip(&["netns", "add", &ns]);
            ip(&["link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns]);
            ip(&["link", "set", &veth, "master", &net.bridge(), "up"]);
            ip(&["netns", "exec", &ns, "ip", "addr", "add", &format!("{}/24", net.host_ip(i)), "dev", "eth0"]);
            ip(&["netns", "exec", &ns, "ip", "link", "set", "eth0", "up"]);
            ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
        }
        net
    }
    fn bridge(&self) -> String {
        format!("{}br", self.id)
    }
    fn ns(&self, i: usize) -> String {
        format!("{}h{i}", self.id)
    }
    fn gateway(&self) -> String {
        format!("{}.1", self.subnet)
    }
    fn host_ip(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, 10 + i)
    }
    /// Takes host `i`'s link down (or up again).
    fn link(&self, i: usize, up: bool) {
        ip(&["netns", "exec", &self.ns(i), "ip", "link", "set", "eth0", if up { "up" } else { "down" }]);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 0..self.hosts {
            let _ = Command::new("ip").args(["netns", "del", &self.ns(i)]).status();
        }
        let _ = Command::new("ip").args(["link", "del", &self.bridge()]).status();
    }
}

async fn produce(brokers: &str, topic: &str, count: u64, seed: u64) {
    let options = ProduceOptions {
        kind: Kind::Trades,
        topic: topic.to_string(),
        rate: 300.0,
        count: Some(count),
        malformed_ratio: 0.0,
        seed,
        clock_speed: 120.0,
    };
    assert_eq!(produce_in_background(brokers, options).await.unwrap().unwrap(), count);
}

/// Waits for `total` trades in silver (its unique key is the trade id), then checks bronze
/// holds every record of the topic and both hold each exactly once, and no table holds a `txn`
/// version twice; prints the counts.
async fn check(config: &finlake::config::Config, brokers: &str, topic: &str, total: u64, after: &str) {
    let lake = config.lake.root.clone();
    let started = Instant::now();
    wait_until(Duration::from_secs(150), &format!("every trade in silver after {after}"), || async {
        count(config, "SELECT count(*) FROM silver_trades").await == total as i64
    })
    .await;
    let in_topic = topic_records(brokers, topic);
    let bronze = kafka_coordinates(&lake.join("bronze/trades")).await;
    assert_exactly_once("bronze/trades", &bronze);
    wait_until(Duration::from_secs(30), "bronze to hold every record of the topic", || async {
        kafka_coordinates(&lake.join("bronze/trades")).await.len() as u64 == in_topic
    })
    .await;
    let silver = kafka_coordinates(&lake.join("silver/trades")).await;
    assert_exactly_once("silver/trades", &silver);
    assert_eq!(silver.len() as u64, total, "silver after {after}");
    let repeated: Vec<String> = walk_tables(&lake).iter().flat_map(|t| repeated_txns(t)).collect();
    assert!(repeated.is_empty(), "txn versions written twice after {after}: {repeated:?}");
    println!(
        "after {after}: {total} trades produced, {in_topic} records in the topic; bronze {in_topic}, silver {total}, each once; no txn twice (settled in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_cut_off_and_a_broker_restart_lose_and_duplicate_nothing() {
    let dir = KeptDir::new();
    println!("logs of the broker and the hosts in {}", dir.path().display());
    // Three hosts from the start, a fourth namespace for the host that joins in (3).
    let net = Net::new(4);
    let mut tansu = Tansu::start_at(&net.gateway(), free_port(), "sqlite://tansu.db", dir.path());
    let topic = unique("netns");
    tansu.create_topic(&topic, 6);
    let config = gold_config(dir.path(), &topic);
    let mut hosts: Vec<Host> = (0..3)
        .map(|i| Host::start_in(Some(&net.ns(i)), &net.host_ip(i), &format!("n{i}"), &config, dir.path(), &tansu.addr))
        .collect();
    wait_until(Duration::from_secs(60), "three hosts sharing the partitions", || async {
        let mut owners = 0;
        for h in &hosts {
            owners += h.partitions().await.is_some_and(|p| !p.is_empty()) as usize;
        }
        owners == 3
    })
    .await;

    // (1) Host n1 loses the network for longer than the session timeout (6 s) mid-stream; the
    // lake (a shared filesystem) stays reachable, so it keeps trying to commit what it holds.
    let first = 3000u64;
    let producing = tokio::spawn({
        let (brokers, topic) = (tansu.addr.clone(), topic.clone());
        async move { produce(&brokers, &topic, first, 31).await }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    net.link(1, false);
    tokio::time::sleep(Duration::from_secs(15)).await;
    net.link(1, true);
    producing.await.unwrap();
    check(&config, &tansu.addr, &topic, first, "a host cut off for 15 s").await;

    // (2) The broker is killed mid-stream and comes back 3 s later with its log.
    let second = 3000u64;
    let producing = tokio::spawn({
        let (brokers, topic) = (tansu.addr.clone(), topic.clone());
        async move { produce(&brokers, &topic, second, 32).await }
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    tansu.restart(Duration::from_secs(3));
    producing.await.unwrap();
    check(&config, &tansu.addr, &topic, first + second, "a broker restart").await;

    // (3) Host n2 is killed (no flush, no leaving the group) mid-stream; a fourth host joins.
    let third = 3000u64;
    let producing = tokio::spawn({
        let (brokers, topic) = (tansu.addr.clone(), topic.clone());
        async move { produce(&brokers, &topic, third, 33).await }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    hosts[2].kill9();
    let killed = hosts.remove(2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    hosts.push(Host::start_in(Some(&net.ns(3)), &net.host_ip(3), "n3", &config, dir.path(), &tansu.addr));
    producing.await.unwrap();
    check(&config, &tansu.addr, &topic, first + second + third, "a host killed and one added").await;
    wait_until(Duration::from_secs(30), "the live hosts to own every partition once", || async {
        let mut owned = Vec::new();
        for h in &hosts {
            owned.extend(h.partitions().await.unwrap_or_default());
        }
        owned.sort_unstable();
        owned == (0..6).collect::<Vec<i32>>()
    })
    .await;

    // Gold on the leader equals a recomputation from silver.
    let max_ms = count(&config, "SELECT CAST(max(event_time) AS BIGINT) / 1000 FROM silver_trades").await;
    let closed_below = (max_ms - 10_000) / 60_000 * 60_000;
    let started = Instant::now();
    let (recomputed, gold) = loop {
        let (r, g) = recomputed_and_gold(&config, closed_below).await;
        if r == g || started.elapsed() > Duration::from_secs(60) {
            break (r, g);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(recomputed.len() >= 5, "expected several closed windows, got {}", recomputed.len());
    assert_eq!(recomputed, gold, "gold OHLCV must equal the recomputation from silver");
    let windows = count(&config, "SELECT count(*) FROM gold_trades_1m").await;
    let distinct =
        count(&config, "SELECT count(*) FROM (SELECT DISTINCT symbol, window_start FROM gold_trades_1m)").await;
    assert_eq!(windows, distinct, "a gold window was written twice");
    println!("gold: {} closed windows equal to the recomputation from silver", recomputed.len());
    drop((hosts, killed));
}
