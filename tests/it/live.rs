//! Live `pipelines.toml` edits (on disk and through the API, one of them invalid) and
//! dead-letter replay, on a running service — with exact counts in Delta at the end.

use std::path::Path;
use std::time::Duration;

use finlake::config::Config;
use finlake::kafka::embedded::EmbeddedBroker;
use finlake::service::Service;

use crate::common::*;

async fn json(res: reqwest::Response) -> (u16, serde_json::Value) {
    let status = res.status().as_u16();
    (status, serde_json::from_slice(&res.bytes().await.unwrap()).unwrap_or_default())
}

async fn get(url: String) -> serde_json::Value {
    json(reqwest::get(url).await.unwrap()).await.1
}

/// Replaces the file the way editors do: write a new file, rename it over the old one.
fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn values(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| if i % 20 == 10 { format!("TRAP-{i}") } else { format!("ok-{i}") }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_config_edits_and_dead_letter_replay_lose_and_double_nothing() {
    let topic = unique("live");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 1).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(plugin_dir().join("chaos.wasm"), plugins.join("chaos.wasm")).unwrap();
    let file = dir.path().join("pipelines.toml");
    let original = chaos_config(dir.path(), &plugins, &topic, "{ tag = \"a\", with_version = true }");
    let service = Service::start(Config::load(&file).unwrap(), brokers.clone()).await.unwrap();
    let api = format!("http://{}", service.api_addr.unwrap());
    let (table, dead) = (dir.path().join("lake/tagged"), dir.path().join("lake/dead_letters"));
    let rows = || async { kafka_coordinates(&dir.path().join("lake/tagged")).await.len() };

    // 40 records, two of them poison (TRAP-10, TRAP-30): isolated into the dead letters.
    produce_values(&brokers, &topic, &values(0..40)).await;
    wait_until(Duration::from_secs(60), "38 rows and 2 dead letters", || async {
        rows().await == 38 && dead_letter_coordinates(&dead).await.len() == 2
    })
    .await;
    let pending = get(format!("{api}/api/dead-letters?pipeline=p")).await;
    assert_eq!(pending.as_array().unwrap().len(), 2, "{pending}");
    assert_eq!(pending[0]["error_kind"], "trap");
    assert_eq!(pending[0]["value"], "TRAP-10");

    // Replaying while the plugin still traps on them is refused, and writes nothing.
    let client = reqwest::Client::new();
    let replay = || {
        client
            .post(format!("{api}/api/dead-letters/replay"))
            .header("content-type", "application/json")
            .body(r#"{"pipeline": "p"}"#)
            .send()
    };
    let (status, refused) = json(replay().await.unwrap()).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("still fails every replayed record"), "{refused}");

    // An invalid edit on disk: refused with file:line:col; the pipeline keeps running.
    let broken = original.replace("flush = { max_latency_ms = 300 }", "flush = { max_latency_ms = \"soon\" }");
    replace_file(&file, &broken);
    wait_until(Duration::from_secs(20), "the invalid edit reported", || async {
        !get(format!("{api}/api/config/status")).await["last_error"].is_null()
    })
    .await;
    let status = get(format!("{api}/api/config/status")).await;
    let problem = status["last_error"]["problems"][0].as_str().unwrap().to_string();
    assert!(problem.contains("pipelines.toml:") && problem.contains("invalid type"), "{status}");
    println!("invalid edit refused: {problem}");
    produce_values(&brokers, &topic, &values(40..45)).await;
    wait_until(Duration::from_secs(30), "43 rows on the old config", || async { rows().await == 43 }).await;

    // A valid edit on disk (editor-style replace): the stage's config changes — tag "b", and
    // TRAP is no longer poison. Only pipeline p restarts, from its Delta offsets.
    let fixed = original
        .replace("{ tag = \"a\", with_version = true }", "{ tag = \"b\", with_version = true, trap_on = \"NEVER\" }");
    replace_file(&file, &fixed);
    wait_until(Duration::from_secs(20), "the edit applied", || async {
        get(format!("{api}/api/config/status")).await["reloads"] == 1
    })
    .await;
    let status = get(format!("{api}/api/config/status")).await;
    assert_eq!(status["last_change"]["changed"], serde_json::json!(["p"]), "{status}");
    assert!(status["last_error"].is_null());
    produce_values(&brokers, &topic, &values(45..55)).await;
    wait_until(Duration::from_secs(30), "53 rows (TRAP-50 is fine now)", || async { rows().await == 53 }).await;

    // Through the API: a dry run adds pipeline q and changes nothing; then for real. Pipeline p
    // does not blink (its counters carry on: it was not restarted).
    let with_q = format!(
        "{fixed}\n[[tables]]\nname = \"copy\"\ncolumns = [{{ name = \"value\", type = \"string\" }}, {{ name = \"tag\", type = \"string\" }}]\n\n[[pipelines]]\nname = \"q\"\ntopic = \"{topic}\"\ndead_letter_table = \"dead_letters_q\"\n[[pipelines.stages]]\nplugin = \"chaos\"\nconfig = {{ tag = \"q\", trap_on = \"NEVER\" }}\noutputs = {{ out = \"copy\" }}\n"
    );
    let put = |text: String, dry: bool| {
        client.put(format!("{api}/api/config{}", if dry { "?dry_run=true" } else { "" })).body(text).send()
    };
    let (status, report) = json(put(with_q.clone(), true).await.unwrap()).await;
    assert_eq!(
        (status, report["added"].clone(), report["dry_run"].clone()),
        (200, serde_json::json!(["q"]), true.into())
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), fixed, "a dry run writes nothing");
    let p_before = service.registry.snapshots().into_iter().find(|s| s.name == "p").unwrap().records_in;
    let (status, report) = json(put(with_q.clone(), false).await.unwrap()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["added"].clone(), report["unchanged"].clone()),
        (serde_json::json!(["q"]), serde_json::json!(["p"]))
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), with_q, "written to the file");
    let copy = dir.path().join("lake/copy");
    wait_until(Duration::from_secs(60), "q copied the topic from the start", || async {
        kafka_coordinates(&copy).await.len() == 55
    })
    .await;
    let p_after = service.registry.snapshots().into_iter().find(|s| s.name == "p").unwrap().records_in;
    assert!(p_after >= p_before && p_before > 0, "p was not restarted ({p_before} -> {p_after})");

    // The dead letters, listed by the CLI from the lake, then replayed through the fixed
    // config: both land in the table, once; a second replay finds nothing.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_finlake"))
        .args(["dlq", "list", "--config", file.to_str().unwrap(), "--pipeline", "p"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && listed.contains("2 dead letter(s) pending") && listed.contains("trapped"),
        "{listed}"
    );
    let (status, done) = json(replay().await.unwrap()).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (done[0]["replayed"].as_u64(), done[0]["succeeded"].as_u64(), done[0]["rows_written"].as_u64()),
        (Some(2), Some(2), Some(2)),
        "{done}"
    );
    let (_, again) = json(replay().await.unwrap()).await;
    assert_eq!(again[0]["replayed"], 0, "{again}");
    assert_eq!(rows().await, 55);

    // Removing q stops it (after a final commit); p goes on.
    let (status, report) = json(put(fixed.clone(), false).await.unwrap()).await;
    assert_eq!((status, report["removed"].clone()), (200, serde_json::json!(["q"])), "{report}");
    produce_values(&brokers, &topic, &values(55..60)).await;
    wait_until(Duration::from_secs(30), "60 rows", || async { rows().await == 60 }).await;
    assert!(service.registry.snapshots().iter().all(|s| s.name != "q"));
    service.shutdown().await;

    // Exact counts: 60 records, each exactly once — 58 straight from Kafka (TRAP-50 went through
    // after the fix) and the replayed TRAP-10 and TRAP-30. Dead letters: 2, plus 2 markers.
    let rows = kafka_coordinates(&table).await;
    assert_exactly_once("tagged", &rows);
    assert_eq!(rows.len(), 60);
    let dead_rows = finlake::dlq::read(&dir.path().join("lake"), "dead_letters").await.unwrap();
    assert_eq!(dead_rows.iter().filter(|r| r.is_marker()).count(), 2);
    assert!(finlake::dlq::pending(&dead_rows, &Default::default()).is_empty());

    // After a restart nothing is pending and nothing is replayed twice.
    let service = Service::start(Config::load(&file).unwrap(), brokers.clone()).await.unwrap();
    let api = format!("http://{}", service.api_addr.unwrap());
    let (_, again) = json(client.post(format!("{api}/api/dead-letters/replay")).send().await.unwrap()).await;
    assert_eq!(again[0]["replayed"], 0, "{again}");
    service.shutdown().await;
    assert_eq!(kafka_coordinates(&table).await.len(), 60);
}
