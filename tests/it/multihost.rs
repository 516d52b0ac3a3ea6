//! Several hosts in one consumer group against a real Kafka-protocol broker in its own process
//! (Tansu, installed by xtask/setup.sh): the broker and host helpers the multi-host tests share
//! (`netns.rs`: faults; `handoff.rs`: revocation; `s3.rs`: an S3 lake), and records/s with
//! one, two and three hosts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use finlake::config::Config;
use finlake::kafka::producer::ProduceOptions;
use finlake::simulate::Kind;

use crate::common::*;
use crate::gold::{count, gold_config};

/// A free TCP port on 127.0.0.1 (taken by the OS, then released for a child process).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tansu_bin() -> PathBuf {
    let path = std::env::var_os("FINLAKE_TANSU")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/finlake/tools/bin/tansu"));
    assert!(path.exists(), "the Tansu broker is not at {} (xtask/setup.sh installs it)", path.display());
    path
}

/// A Tansu broker on its own port, killed on drop.
pub struct Tansu {
    child: Child,
    pub addr: String,
    storage: String,
    dir: PathBuf,
}

impl Tansu {
    /// A broker keeping its log in memory, on loopback.
    pub fn start(log: &Path) -> Tansu {
        Tansu::start_at("127.0.0.1", free_port(), "memory://tansu/", log.parent().unwrap())
    }

    /// A broker on `ip:port` with `storage` (`memory://tansu/`, or `sqlite://tansu.db` for a log
    /// that survives a restart, kept in `dir`); its log goes to `dir/tansu.log`.
    pub fn start_at(ip: &str, port: u16, storage: &str, dir: &Path) -> Tansu {
        let child = Tansu::spawn(ip, port, storage, dir);
        Tansu { child, addr: format!("{ip}:{port}"), storage: storage.into(), dir: dir.to_path_buf() }
    }

    fn spawn(ip: &str, port: u16, storage: &str, dir: &Path) -> Child {
        let url = format!("tcp://{ip}:{port}");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("tansu.log")).unwrap();
        let child = Command::new(tansu_bin())
            .args(["broker", "--storage-engine", storage, "--listener-url", &url, "--advertised-listener-url", &url])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting tansu");
        let started = Instant::now();
        while std::net::TcpStream::connect((ip, port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "tansu did not listen on {ip}:{port} within 20 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        child
    }

    /// Kills the broker (SIGKILL) and starts it again on the same address and storage after
    /// `down`.
    pub fn restart(&mut self, down: Duration) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(down);
        let (ip, port) = self.addr.rsplit_once(':').unwrap();
        self.child = Tansu::spawn(ip, port.parse().unwrap(), &self.storage, &self.dir);
    }

    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let status = Command::new(tansu_bin())
            .args(["topic", "create", "--broker", &format!("tcp://{}", self.addr), "--partitions"])
            .arg(partitions.to_string())
            .arg(topic)
            .status()
            .unwrap();
        assert!(status.success(), "tansu topic create {topic} failed");
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `finlake run` process with its own API port.
pub struct Host {
    pub id: String,
    child: Child,
    api: String,
}

impl Host {
    pub fn start(id: &str, config: &Config, dir: &Path, brokers: &str) -> Host {
        Host::start_in(None, "127.0.0.1", id, config, dir, brokers)
    }

    /// A host inside network namespace `netns` (when given), its API on `ip`.
    pub fn start_in(netns: Option<&str>, ip: &str, id: &str, config: &Config, dir: &Path, brokers: &str) -> Host {
        let port = free_port();
        let mut config = config.clone();
        config.api.listen = format!("{ip}:{port}");
        let path = dir.join(format!("{id}.toml"));
        std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_finlake")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_finlake")),
        };
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(format!("{id}.log"))).unwrap();
        let child = command
            .args(["run", "--config"])
            .arg(&path)
            .args(["--brokers", brokers])
            .env("FINLAKE_HOST_ID", id)
            .env("FINLAKE_LOG", "warn,finlake=info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting finlake run");
        Host { id: id.into(), child, api: format!("http://{ip}:{port}") }
    }

    /// The partitions this host owns of the one pipeline (`None` before its first assignment
    /// or while its API does not answer).
    pub async fn partitions(&self) -> Option<Vec<i32>> {
        let body = reqwest::get(format!("{}/api/pipelines", self.api)).await.ok()?.text().await.ok()?;
        let pipelines: Vec<finlake_api::PipelineSnapshot> = serde_json::from_str(&body).ok()?;
        let p = pipelines.first()?;
        assert_eq!(p.host, self.id, "the API names the host");
        p.partitions.clone()
    }

    /// This host's snapshot of the one pipeline (`None` while its API does not answer).
    pub async fn snapshot(&self) -> Option<finlake_api::PipelineSnapshot> {
        let body = reqwest::get(format!("{}/api/pipelines", self.api)).await.ok()?.text().await.ok()?;
        let pipelines: Vec<finlake_api::PipelineSnapshot> = serde_json::from_str(&body).ok()?;
        pipelines.into_iter().next()
    }

    pub fn kill9(&mut self) {
        self.child.kill().unwrap(); // SIGKILL: no flush, no leaving the group
        self.child.wait().unwrap();
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Per table, `txn` application ids whose version did not rise from one commit to the next:
/// a second write of the same progress (or progress going back).
pub fn repeated_txns(table: &Path) -> Vec<String> {
    let log = table.join("_delta_log");
    let mut commits: Vec<(u64, PathBuf)> = std::fs::read_dir(&log)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let v = path.file_name()?.to_str()?.strip_suffix(".json")?.parse().ok()?;
            Some((v, path))
        })
        .collect();
    commits.sort();
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    let mut repeated = Vec::new();
    for (version, path) in commits {
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let action: serde_json::Value = serde_json::from_str(line).unwrap();
            let Some(txn) = action.get("txn") else { continue };
            let (app, v) = (txn["appId"].as_str().unwrap().to_string(), txn["version"].as_i64().unwrap());
            // Progress (a pipeline's partitions, replays, a gold job's source version) rises
            // with every commit that sets it; a gold job's max event time may stay put.
            let may_repeat = app.ends_with(":max-event-time-us");
            if last.get(&app).is_some_and(|&before| v < before || (v == before && !may_repeat)) {
                repeated.push(format!("{} commit {version}: {app} = {v}", table.display()));
            }
            last.insert(app, v);
        }
    }
    repeated
}

/// Every Delta table under `lake`.
pub fn walk_tables(lake: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![lake.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join("_delta_log").is_dir() {
            out.push(dir);
            continue;
        }
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

/// Records in `topic` (the sum over its partitions of high − low watermark): what "every
/// produced record" means when a producer's retry may have stored one twice.
pub fn topic_records(brokers: &str, topic: &str) -> u64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "finlake-it-watermarks")
        .create()
        .unwrap();
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
    let partitions: Vec<i32> = metadata.topics()[0].partitions().iter().map(|p| p.id()).collect();
    partitions
        .iter()
        .map(|&p| {
            let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).unwrap();
            (high - low) as u64
        })
        .sum()
}

/// Records/s of the trades pipeline (bronze + silver) with 1, 2 and 3 hosts, side by side in
/// one run: in a fresh topic and lake for each, once every host owns partitions, the time from
/// producing a burst of records until silver holds every one. On a 2-core machine little gain is expected (the hosts
/// share the cores); the point is that each count is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_per_second_with_one_two_and_three_hosts() {
    let dir = KeptDir::new();
    let tansu = Tansu::start(&dir.path().join("tansu.log"));
    let backlog = 20_000u64;
    let mut report = Vec::new();
    for hosts in 1..=3usize {
        let run = dir.path().join(format!("hosts-{hosts}"));
        std::fs::create_dir_all(&run).unwrap();
        let topic = unique(&format!("rate{hosts}"));
        tansu.create_topic(&topic, 6);
        let options = ProduceOptions {
            kind: Kind::Trades,
            topic: topic.clone(),
            rate: 50_000.0,
            count: Some(backlog),
            malformed_ratio: 0.0,
            seed: 40 + hosts as u64,
            clock_speed: 1.0,
        };
        let config = gold_config(&run, &topic);
        let running: Vec<Host> =
            (0..hosts).map(|i| Host::start(&format!("r{hosts}-{i}"), &config, &run, &tansu.addr)).collect();
        // Measured once the group has settled: every host owns partitions.
        wait_until(Duration::from_secs(60), "every host to own partitions", || async {
            let mut owners = 0;
            for h in &running {
                owners += h.partitions().await.is_some_and(|p| !p.is_empty()) as usize;
            }
            owners == hosts
        })
        .await;
        let started = Instant::now();
        assert_eq!(produce_in_background(&tansu.addr, options).await.unwrap().unwrap(), backlog);
        wait_until(Duration::from_secs(180), "the backlog in silver", || async {
            count(&config, "SELECT count(*) FROM silver_trades").await == backlog as i64
        })
        .await;
        let secs = started.elapsed().as_secs_f64();
        drop(running);
        let rows = kafka_coordinates(&config.lake.root.join("silver/trades")).await;
        assert_exactly_once("silver/trades", &rows);
        assert_eq!(rows.len() as u64, backlog);
        report.push((hosts, backlog as f64 / secs, secs));
    }
    let one = report[0].1;
    for (hosts, rate, secs) in &report {
        println!(
            "{hosts} host(s): {backlog} records produced and in bronze + silver in {secs:.1} s = {rate:.0} records/s, {:.2}x one host",
            rate / one
        );
    }
}
