//! Plugins that return more than a batch may cost, new versions of downstream stages, and
//! uploads that are refused.

use sha2::Digest;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_over_its_bounds_is_refused_like_a_trap() {
    let run = start_chaos("{ tag = \"a\" }", |t| t).await;
    let values = ["ok-1", "FLOOD", "ok-2", "BIGNAME"].map(String::from);
    produce_values(&run.brokers, &run.topic, &values).await;
    eventually("2 rows and 2 dead letters", || async { run.rows().await >= 2 && run.dead().await >= 2 }).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let letters = run.dead_letters().await;
    for l in &letters {
        println!("{}: {} {}", l.value, l.error_kind, l.reason);
    }
    assert_eq!(run.rows().await, 2, "FLOOD's 5000 rows were written");
    let reason = |v: &str| letters.iter().find(|l| l.value == v).map(|l| l.reason.clone()).unwrap_or_default();
    assert!(reason("FLOOD").contains("rows per record"), "{letters:?}");
    assert!(reason("BIGNAME").contains("output name"), "{letters:?}");
    run.service.shutdown().await;
}

/// passthrough → chaos → table: the chaos stage is fed by another stage, not the topic.
fn two_stages(text: String) -> String {
    text.replace(
        "[[pipelines.stages]]\nplugin = \"chaos\"",
        "[[pipelines.stages]]\nplugin = \"passthrough\"\noutputs = { raw = \"chaos\" }\n\n[[pipelines.stages]]\nplugin = \"chaos\"",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_of_a_downstream_stage_is_tried_on_what_it_received() {
    let run = start_chaos("{ tag = \"a\" }", two_stages).await;
    let values: Vec<String> = (0..10).map(|i| format!("ok-{i}")).collect();
    produce_values(&run.brokers, &run.topic, &values).await;
    eventually("10 rows through both stages", || async { run.rows().await == 10 }).await;
    // A release of chaos that traps on everything: tried on the rows passthrough fed it.
    let broken = std::fs::read(plugin_dir().join("chaos-broken.wasm")).unwrap();
    let res = reqwest::Client::new()
        .put(format!("{}/api/plugins/chaos", run.api))
        .header("content-type", "application/wasm")
        .body(broken)
        .send()
        .await
        .unwrap();
    let (status, body) = (res.status().as_u16(), res.text().await.unwrap());
    println!("deploying a broken downstream version: {status} {body}");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("sample"), "{body}");
    // The live version kept going.
    produce_values(&run.brokers, &run.topic, &["ok-10".to_string()]).await;
    eventually("11 rows", || async { run.rows().await == 11 }).await;
    run.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_leaves_no_compiled_artefact() {
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().display().to_string();
    let run = start_chaos("{ tag = \"a\" }", move |t| {
        let shared = shared_cache_dir().display().to_string();
        t.replace(&shared, &cache_dir)
    })
    .await;
    eventually("the pipeline running (its plugin loaded)", || async {
        run.snapshot().state == finlake_api::PipelineState::Running
    })
    .await;
    // A valid component with another name: compiled, then refused.
    let other = std::fs::read(plugin_dir().join("passthrough.wasm")).unwrap();
    let sha = hex::encode(sha2::Sha256::digest(&other));
    let res = reqwest::Client::new()
        .put(format!("{}/api/plugins/chaos", run.api))
        .header("content-type", "application/wasm")
        .body(other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let artefacts: Vec<String> = std::fs::read_dir(cache.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    println!("cache after the refusal: {artefacts:?}");
    assert!(!artefacts.iter().any(|a| a.starts_with(&sha)), "the refused upload was cached: {artefacts:?}");
    assert!(artefacts.iter().any(|a| a.ends_with(".cwasm")), "the accepted chaos.wasm is cached");
    run.service.shutdown().await;
}
