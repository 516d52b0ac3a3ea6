//! Hot swap under load: the pause a plugin version change causes in a running pipeline, and
//! the whole deploy (compile from cache, init, sample, swap).

use std::time::{Duration, Instant};

use finlake::config::Config;
use finlake::kafka::producer::{ProduceOptions, create_producer, produce};
use finlake::service::Service;
use finlake::simulate::Kind;

use crate::load::Broker;
use crate::plugin_dir;
use crate::report::{Report, section};

pub async fn swap_pause(broker: &Broker, report: &mut Report) {
    section("hot swap under load (~2000 records/s, 1 s flush window): ten deploys of a new plugin version");
    let topic = broker.topic("swap", 3).await;
    let brokers = broker.servers.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    std::fs::copy(plugin_dir().join("chaos.wasm"), plugins.join("chaos.wasm")).expect("chaos.wasm");
    let text = format!(
        r#"[kafka]
brokers = "bench:9092"
[api]
enabled = false
[plugins]
dir = "{}"
cache_dir = "{}"
[lake]
root = "{}"
[[tables]]
name = "tagged"
columns = [{{ name = "value", type = "string" }}, {{ name = "tag", type = "string" }}, {{ name = "version", type = "string" }}]
[[pipelines]]
name = "swap"
topic = "{topic}"
dead_letter_table = "dead_letters"
flush = {{ max_latency_ms = 1000 }}
[[pipelines.stages]]
plugin = "chaos"
config = {{ with_version = true }}
outputs = {{ out = "tagged" }}
"#,
        plugins.display(),
        dir.path().join("cache").display(),
        dir.path().join("lake").display()
    );
    let config = Config::parse_and_validate(&text, "bench.toml").expect("valid");
    let service = Service::start(config, brokers.clone()).await.expect("service");
    let producer = create_producer(&brokers, &broker.properties).expect("producer");
    let options = ProduceOptions {
        kind: Kind::Trades,
        topic,
        rate: 2000.0,
        count: None,
        malformed_ratio: 0.0,
        seed: 5,
        clock_speed: 1.0,
    };
    let (stop, rx) = tokio::sync::watch::channel(false);
    let producing = tokio::spawn(async move { produce(&producer, &options, rx, |_| {}).await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let variants = [plugin_dir().join("chaos-2.0.0.wasm"), plugin_dir().join("chaos-3.0.0.wasm")];
    let (mut pauses, mut deploys, mut flushed) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..10 {
        // Uncorrelated with the 1 s flush: somewhere inside a window.
        tokio::time::sleep(Duration::from_millis(700 + 137 * i as u64)).await;
        let bytes = std::fs::read(&variants[i % 2]).expect("chaos variant (./xtask/build-plugins.sh)");
        let started = Instant::now();
        let report = service.control.deploy("chaos", bytes, finlake::control::Source::Upload).await.expect("deploy");
        deploys.push(started.elapsed().as_secs_f64() * 1000.0);
        let swap = &report.swaps[0];
        pauses.push(swap.pause_ms);
        flushed.push(swap.flushed_rows);
    }
    let _ = stop.send(true);
    let _ = producing.await;
    let records = service.registry.snapshots()[0].records_in;
    service.shutdown().await;
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2], v[v.len() - 1])
    };
    let (p_min, p_med, p_max) = stats(&mut pauses);
    let (d_min, d_med, d_max) = stats(&mut deploys);
    report.figure(
        "swap",
        "pipeline pause per swap (median)",
        p_med,
        "ms",
        format!("min {p_min:.1} / max {p_max:.1} ms; rows committed first: {flushed:?}"),
    );
    report.figure(
        "swap",
        "whole deploy (median)",
        d_med,
        "ms",
        format!("min {d_min:.1} / max {d_max:.1} ms; {records} records during 10 swaps"),
    );
}
