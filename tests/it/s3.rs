//! A lake on S3-compatible object storage: moto's server (PyPI, installed by xtask/setup.sh),
//! reached through a TCP proxy. Mid-stream the server process is killed (SIGKILL, commits in
//! flight) and started again; it rebuilds its objects by replaying its request log (moto's
//! recorder: moto keeps objects in memory), while the proxy refuses connections until it is
//! back whole — to the hosts, the server restarted. Two `finlake run` processes write the same
//! `s3://` lake at once, relying on conditional put for their commits; every record must be in
//! bronze and silver exactly once, read back through object storage.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use deltalake::arrow::array::AsArray;
use deltalake::datafusion::prelude::SessionContext;
use finlake::config::Config;
use finlake::kafka::EmbeddedBroker;
use finlake::kafka::producer::ProduceOptions;
use finlake::simulate::Kind;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::common::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn moto_bin() -> PathBuf {
    let path = std::env::var_os("FINLAKE_MOTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/finlake/moto/bin/moto_server"));
    assert!(path.exists(), "moto_server is not at {} (xtask/setup.sh installs it)", path.display());
    path
}

struct Moto {
    child: Child,
    port: u16,
    log: PathBuf,
    recording: PathBuf,
}

impl Moto {
    /// A server recording every request to `recording` (to rebuild its objects after a restart).
    fn start(log: &Path, recording: &Path) -> Moto {
        let port = free_port();
        let child = Moto::spawn(port, log, recording);
        Moto { child, port, log: log.to_path_buf(), recording: recording.to_path_buf() }
    }

    fn spawn(port: u16, log: &Path, recording: &Path) -> Child {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = Command::new(moto_bin())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ENABLE_RECORDING", "True")
            .env("MOTO_RECORDER_FILEPATH", recording)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting moto_server");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "moto did not listen within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        child
    }

    /// Waits until the server answers HTTP (it listens before its app is ready to serve: a
    /// request in between can be reset), so the replay below is sent once, to a server that
    /// handles it.
    async fn serving(&self) {
        let started = Instant::now();
        let probe = format!("http://127.0.0.1:{}/moto-api/", self.port);
        while reqwest::Client::new().get(&probe).send().await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "moto did not answer HTTP within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills the server (SIGKILL), waits `down`, starts it again on the same port and replays
    /// its request log, which rebuilds every object it held.
    async fn restart(&mut self, down: Duration) -> usize {
        let _ = self.child.kill();
        let _ = self.child.wait();
        repair_recording(&self.recording);
        tokio::time::sleep(down).await;
        let requests = std::fs::read_to_string(&self.recording).map(|t| t.lines().count()).unwrap_or(0);
        self.child = Moto::spawn(self.port, &self.log, &self.recording);
        self.serving().await;
        let url = format!("http://127.0.0.1:{}/moto-api/recorder/replay-recording", self.port);
        let replayed = reqwest::Client::new().post(url).send().await.unwrap();
        assert!(replayed.status().is_success(), "replaying moto's log: {}", replayed.status());
        requests
    }
}

/// Rewrites moto's request log one request per line. moto records a request with two writes
/// (the JSON, then a newline) from whichever thread served it, so two requests served at once
/// can share a line (`{..}{..}` then an empty line), and its replay refuses the whole log (500).
/// Killed mid-write, it also leaves half a request at the end: never answered (its client
/// retries), so it is dropped.
fn repair_recording(path: &std::path::Path) {
    let Ok(text) = std::fs::read_to_string(path) else { return };
    let mut repaired = String::with_capacity(text.len());
    for entry in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
        let Ok(entry) = entry else { break };
        repaired.push_str(&entry.to_string());
        repaired.push('\n');
    }
    std::fs::write(path, repaired).expect("rewriting moto's log");
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy to `target` on its own port. While `down` is true it drops every connection
/// and refuses new ones: the hosts cannot reach the server while it rebuilds its objects.
struct Proxy {
    port: u16,
    down: watch::Sender<bool>,
}

impl Proxy {
    async fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (down, down_rx) = watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { continue };
                if *down_rx.borrow() {
                    drop(client);
                    continue;
                }
                let mut down = down_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = down.wait_for(|d| *d) => {} // dropped mid-request
                    }
                });
            }
        });
        Proxy { port, down }
    }

    /// Drops every connection and refuses new ones until [`Proxy::up`].
    fn down(&self) {
        self.down.send_replace(true);
    }

    fn up(&self) {
        self.down.send_replace(false);
    }
}

const BUCKET: &str = "finlake-it";

fn s3_env(port: u16) -> HashMap<String, String> {
    HashMap::from([
        ("AWS_ENDPOINT_URL".into(), format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP".into(), "true".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
    ])
}

/// (partition, offset) → rows of the table at `url`, read through object storage.
async fn s3_coordinates(url: &str, options: &HashMap<String, String>) -> BTreeMap<(i32, i64), usize> {
    let mut out = BTreeMap::new();
    let Ok(table) = deltalake::DeltaTableBuilder::from_url(url::Url::parse(url).unwrap())
        .unwrap()
        .with_storage_options(options.clone())
        .load()
        .await
    else {
        return out; // not created yet
    };
    let ctx = SessionContext::new();
    ctx.register_table("t", table.table_provider().await.unwrap()).unwrap();
    let df = ctx.sql("SELECT kafka_partition, kafka_offset FROM t").await.unwrap();
    for batch in df.collect().await.unwrap() {
        let p =
            deltalake::arrow::compute::cast(batch.column(0), &deltalake::arrow::datatypes::DataType::Int32).unwrap();
        let o =
            deltalake::arrow::compute::cast(batch.column(1), &deltalake::arrow::datatypes::DataType::Int64).unwrap();
        let (p, o) = (
            p.as_primitive::<deltalake::arrow::datatypes::Int32Type>(),
            o.as_primitive::<deltalake::arrow::datatypes::Int64Type>(),
        );
        for i in 0..p.len() {
            *out.entry((p.value(i), o.value(i))).or_default() += 1;
        }
    }
    out
}

fn start_host(id: &str, config_path: &Path, brokers: &str, env: &HashMap<String, String>, dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_finlake"))
        .args(["run", "--config"])
        .arg(config_path)
        .args(["--brokers", brokers])
        .envs(env)
        .env("FINLAKE_HOST_ID", id)
        .env("FINLAKE_LOG", "warn,finlake=info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{id}.log"))).unwrap())
        .spawn()
        .expect("starting finlake run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_write_one_s3_lake_through_a_server_restart() {
    let dir = KeptDir::new();
    let mut moto = Moto::start(&dir.path().join("moto.log"), &dir.path().join("moto-recording.jsonl"));
    moto.serving().await;
    let proxy = Proxy::start(moto.port).await;
    // The bucket (moto takes unsigned requests).
    let made = reqwest::Client::new().put(format!("http://127.0.0.1:{}/{BUCKET}", moto.port)).send().await.unwrap();
    assert!(made.status().is_success(), "creating the bucket: {}", made.status());

    let topic = unique("s3");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 4).unwrap();
    let brokers = broker.bootstrap_servers();
    trades_config(dir.path(), &topic);
    let path = dir.path().join("pipelines.toml");
    let mut config = Config::load(&path).unwrap();
    config.lake.root = PathBuf::from(format!("s3://{BUCKET}/lake"));
    for host in ["a", "b"] {
        config.api.listen = format!("127.0.0.1:{}", free_port());
        std::fs::write(dir.path().join(format!("{host}.toml")), toml::to_string(&config).unwrap()).unwrap();
    }
    let env = s3_env(proxy.port);
    let mut hosts: Vec<Child> = ["a", "b"]
        .iter()
        .map(|h| start_host(h, &dir.path().join(format!("{h}.toml")), &brokers, &env, dir.path()))
        .collect();

    let total = 3000u64;
    let options = ProduceOptions {
        kind: Kind::Trades,
        topic: topic.clone(),
        rate: 300.0,
        count: Some(total),
        malformed_ratio: 0.0,
        seed: 21,
        clock_speed: 1.0,
    };
    let producing = produce_in_background(&brokers, options);
    tokio::time::sleep(Duration::from_secs(5)).await;
    // The server process dies mid-stream (commits in flight fail) and comes back with its
    // objects; the hosts reach it again once it has them all.
    proxy.down();
    let started = Instant::now();
    let requests = moto.restart(Duration::from_secs(2)).await;
    proxy.up();
    println!(
        "moto killed and restarted: {requests} recorded requests replayed, back after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(producing.await.unwrap().unwrap(), total);

    let read = s3_env(moto.port);
    let silver = format!("s3://{BUCKET}/lake/silver/trades");
    let started = Instant::now();
    loop {
        let rows = s3_coordinates(&silver, &read).await;
        if rows.len() as u64 == total {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "silver on S3 holds {} of {total} records after 120 s (logs in {})",
            rows.len(),
            dir.path().display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for h in &mut hosts {
        let _ = h.kill();
        let _ = h.wait();
    }
    for table in ["bronze/trades", "silver/trades"] {
        let rows = s3_coordinates(&format!("s3://{BUCKET}/lake/{table}"), &read).await;
        assert_exactly_once(table, &rows);
        assert_eq!(rows.len() as u64, total, "{table}: every produced record, once");
    }
    drop(broker);
}
