//! The HTTP API against a web page, a rebinding DNS name, a curious reader and a heavy query.

use std::time::Duration;

use super::*;

const TOKEN: &str = "t0ken-hostile-7f3a";

fn with_token(text: String) -> String {
    text.replacen("[api]\n", &format!("[api]\ntoken = \"{TOKEN}\"\n"), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_reads_need_the_token_and_never_show_it() {
    let run = start_chaos("{ tag = \"a\" }", with_token).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/config", run.api);

    let anonymous = client.get(&url).send().await.unwrap();
    let status = anonymous.status().as_u16();
    let body = anonymous.text().await.unwrap();
    println!("GET /api/config without the token: {status} {body}");
    assert_eq!(status, 401);
    assert!(!body.contains(TOKEN));

    let shown = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(shown.status().as_u16(), 200);
    let shown = shown.text().await.unwrap();
    assert!(!shown.contains(TOKEN), "the token is shown: {shown}");
    assert!(shown.contains("token = \"<redacted:api.token>\""), "{shown}");

    // The redacted text, edited and saved back (as the dashboard's editor does), keeps the
    // real token in the file.
    let edited = shown.replace("tag = \"a\"", "tag = \"b\"");
    let saved = client.put(&url).bearer_auth(TOKEN).body(edited).send().await.unwrap();
    assert_eq!(saved.status().as_u16(), 200, "{}", saved.text().await.unwrap());
    let on_disk = std::fs::read_to_string(run.dir.path().join("pipelines.toml")).unwrap();
    assert!(on_disk.contains(&format!("token = \"{TOKEN}\"")) && on_disk.contains("tag = \"b\""), "{on_disk}");
    run.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_changes_and_foreign_host_names_are_refused() {
    let run = start_chaos("{ tag = \"a\" }", |t| t).await;
    let client = reqwest::Client::new();
    let port = run.api.rsplit(':').next().unwrap().to_string();
    let rollback = format!("{}/api/plugins/chaos/rollback", run.api);

    // A page on another site posting a form body (no CORS preflight): refused, not executed.
    let evil = client
        .post(&rollback)
        .header("origin", "http://evil.example")
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    let (status, body) = (evil.status().as_u16(), evil.text().await.unwrap());
    println!("cross-site text/plain rollback: {status} {body}");
    assert_eq!(status, 403, "{body}");

    // A text/plain body without an Origin (an old browser, a form): refused as well.
    let plain = client.post(&rollback).header("content-type", "text/plain").body("x").send().await.unwrap();
    assert_eq!(plain.status().as_u16(), 415);

    // DNS rebinding: a name that is not this server's.
    let rebound =
        client.get(format!("{}/api/health", run.api)).header("host", "attacker.example").send().await.unwrap();
    let (status, body) = (rebound.status().as_u16(), rebound.text().await.unwrap());
    println!("Host: attacker.example: {status} {body}");
    assert_eq!(status, 421, "{body}");
    let local = client.get(format!("{}/api/health", run.api)).header("host", format!("localhost:{port}")).send().await;
    assert_eq!(local.unwrap().status().as_u16(), 200);

    // The dashboard's own requests (same origin, JSON) still go through.
    let same = client
        .post(format!("{}/api/pipelines/p/resume", run.api))
        .header("origin", format!("http://127.0.0.1:{port}"))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert!(![403, 415, 421].contains(&same.status().as_u16()), "same-origin request refused: {}", same.status());
    run.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_its_budget_fails_while_the_pipeline_keeps_committing() {
    let run = start_chaos("{ tag = \"a\" }", |t| t.replacen("[api]\n", "[api]\nquery_memory_mb = 16\n", 1)).await;
    let values: Vec<String> = (0..20).map(|i| format!("ok-{i}")).collect();
    produce_values(&run.brokers, &run.topic, &values).await;
    eventually("20 rows", || async { run.rows().await == 20 }).await;

    let client = reqwest::Client::new();
    let query = |sql: &str| {
        client
            .post(format!("{}/api/query", run.api))
            .header("content-type", "application/json")
            .body(serde_json::json!({ "sql": sql }).to_string())
            .send()
    };
    for sql in [
        // Each of these used to allocate its whole result before any limit applied.
        "SELECT cardinality(range(4000000000)) AS n",
        "SELECT length(repeat('x', 1000000000)) AS n",
        "SELECT cardinality(generate_series(DATE '1970-01-01', DATE '9999-01-01', INTERVAL '1 second')) AS n",
        // Within the function bounds, but over the 16 MiB pool: five million groups.
        "SELECT v, count(*) AS c FROM (SELECT unnest(range(5000000)) AS v) GROUP BY v",
    ] {
        let res = query(sql).await.unwrap();
        let (status, body) = (res.status().as_u16(), res.text().await.unwrap());
        println!("{sql}\n  -> {status} {body}");
        assert!((400..500).contains(&status), "{sql}: {status} {body}");
        assert!(body.contains("would build") || body.contains("more memory"), "{body}");
    }
    // A query within its budget still answers.
    let fine = query("SELECT count(*) AS n FROM tagged").await.unwrap();
    assert_eq!(fine.status().as_u16(), 200);

    // And the pipeline kept going: new records are committed.
    let more: Vec<String> = (20..30).map(|i| format!("ok-{i}")).collect();
    produce_values(&run.brokers, &run.topic, &more).await;
    eventually("30 rows after the queries", || async { run.rows().await == 30 }).await;
    run.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_come_in_pages() {
    let run = start_chaos("{ tag = \"a\" }", |t| t).await;
    let values: Vec<String> = (0..4).map(|i| format!("REJECT-{i}")).chain(["ok".to_string()]).collect();
    produce_values(&run.brokers, &run.topic, &values).await;
    eventually("4 dead letters", || async { run.dead().await == 4 }).await;
    let page: Vec<finlake_api::DeadLetter> =
        get_json(&format!("{}/api/dead-letters?pipeline=p&limit=2&offset=1", run.api)).await;
    let values: Vec<&str> = page.iter().map(|l| l.value.as_str()).collect();
    assert_eq!(values, ["REJECT-1", "REJECT-2"]);
    let tables: Vec<finlake_api::TableInfo> = get_json(&format!("{}/api/tables?limit=1&offset=1", run.api)).await;
    assert_eq!(tables.len(), 1);
    assert_eq!(tables[0].name, "dead_letters");
    assert!(tables[0].rows >= 4, "rows from the log's stats: {:?}", tables[0]);
    tokio::time::sleep(Duration::from_millis(10)).await;
    run.service.shutdown().await;
}
