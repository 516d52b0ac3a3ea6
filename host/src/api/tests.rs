use super::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

const CONFIG: &str = r#"
[kafka]
brokers = "unused:9092"
[lake]
root = "/nonexistent/finlake-api-test-no-lake"
[[tables]]
name = "bronze"
columns = [{ name = "v", type = "string" }]
[[pipelines]]
name = "p1"
topic = "t"
dead_letter_table = "dlq"
[[pipelines.stages]]
id = "normalize"
plugin = "normalize-trade"
outputs = { out = "bronze" }
"#;

fn control() -> Arc<ControlPlane> {
    let config = crate::config::Config::parse_and_validate(CONFIG, "test.toml").unwrap();
    let cache = std::env::temp_dir().join(format!("finlake-api-test-cache-{}", std::process::id()));
    let runtime = Arc::new(crate::plugin::PluginRuntime::new(&cache).unwrap());
    ControlPlane::new(config, CONFIG.to_string(), "unused:9092".into(), runtime)
}

fn state() -> AppState {
    // Install the recorder before anything records, or the first counts go nowhere.
    let metrics = metrics_handle();
    let control = control();
    let registry = control.registry.clone();
    let stats = registry.register("p1");
    stats.add(&stats.records_in, 5, "finlake_records_in_total");
    stats.table_committed("bronze", 5, 3);
    stats.stage_loaded("normalize", "normalize-trade", "0.1.0", "abc123");
    for ms in [1, 2, 3, 40] {
        stats.stage_called("normalize", std::time::Duration::from_millis(ms), usize::from(ms == 40));
    }
    AppState::new(control, metrics, None)
}

async fn send(state: AppState, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let res = app(state).oneshot(request).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

async fn get_json(path: &str) -> (StatusCode, serde_json::Value) {
    send(state(), Request::get(path).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn health_and_pipelines() {
    let (s, body) = get_json("/api/health").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (s, body) = get_json("/api/pipelines").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body[0]["name"], "p1");
    assert_eq!(body[0]["records_in"], 5);
    assert_eq!(body[0]["tables"]["bronze"]["last_version"], 3);
    let (s, body) = get_json("/api/plugins").await;
    assert_eq!(s, StatusCode::OK);
    let stage = &body[0]["stage"];
    assert_eq!((stage["pipeline"].as_str(), stage["plugin"].as_str()), (Some("p1"), Some("normalize-trade")));
    assert_eq!((stage["calls"].as_u64(), stage["errors"].as_u64()), (Some(4), Some(1)));
    assert_eq!((stage["p50_ms"].as_f64(), stage["p99_ms"].as_f64()), (Some(3.0), Some(40.0)));
}

#[tokio::test]
async fn tables_before_any_commit_and_unknown_history() {
    let (s, body) = get_json("/api/tables").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body[0]["name"], "bronze");
    assert_eq!(body[0]["version"], serde_json::Value::Null);
    let (s, body) = get_json("/api/tables/nope/history").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().starts_with("unknown table \"nope\"; tables: bronze"), "{body}");
}

#[tokio::test]
async fn mutations_need_the_token_when_set_or_beyond_loopback() {
    let resume = || Request::post("/api/pipelines/p1/resume").body(Body::empty()).unwrap();
    // Loopback, no token: allowed through auth (p1 is not running: 409 with why).
    let (s, body) = send(state(), resume()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    // Beyond loopback without a token: refused, whatever is sent.
    let open = AppState { loopback: false, ..state() };
    let (s, body) = send(open, resume()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body["error"].as_str().unwrap().contains("FINLAKE_API_TOKEN"), "{body}");
    // With a token: missing or wrong → 401, right → through.
    let guarded = || AppState { loopback: false, token: Some("s3cret".into()), ..state() };
    assert_eq!(send(guarded(), resume()).await.0, StatusCode::UNAUTHORIZED);
    let wrong =
        Request::post("/api/pipelines/p1/resume").header("authorization", "Bearer nope").body(Body::empty()).unwrap();
    assert_eq!(send(guarded(), wrong).await.0, StatusCode::UNAUTHORIZED);
    let right =
        Request::post("/api/pipelines/p1/resume").header("authorization", "Bearer s3cret").body(Body::empty()).unwrap();
    assert_eq!(send(guarded(), right).await.0, StatusCode::CONFLICT);
    // Reads never need it.
    let (s, _) = send(guarded(), Request::get("/api/config/status").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn bad_uploads_and_config_edits_are_refused_with_reasons() {
    let put = |path: &str, body: Vec<u8>| Request::put(path).body(Body::from(body)).unwrap();
    let (s, body) = send(state(), put("/api/plugins/normalize-trade", b"not wasm".to_vec())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("not a valid Wasm component"), "{body}");
    let (s, _) = send(state(), put("/api/plugins/normalize-trade", vec![])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, body) = send(state(), put("/api/plugins/unknown", b"x".to_vec())).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    // Over the upload limit (64 MiB by default).
    let (s, body) = send(state(), put("/api/plugins/normalize-trade", vec![0u8; 65 << 20])).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["error"].as_str().unwrap().contains("max_upload_mb"), "{body}");
    // A config edit with a typo: located problem, nothing changes, status shows it.
    let state = state();
    let broken =
        CONFIG.replace("dead_letter_table = \"dlq\"", "dead_letter_table = \"dlq\"\nbatch = { max_recods = 5 }");
    let (s, body) = send(state.clone(), put("/api/config?dry_run=true", broken.clone().into_bytes())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body["problems"][0].as_str().unwrap().starts_with("pipelines.toml:13:11: unknown field"), "{body}");
    assert!(body["problems"][0].as_str().unwrap().contains("max_recods"), "{body}");
    let (s, body) = send(state.clone(), put("/api/config", broken.into_bytes())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (_, status) = send(state.clone(), Request::get("/api/config/status").body(Body::empty()).unwrap()).await;
    assert_eq!(status["rejected"], 1);
    assert!(status["last_error"]["problems"][0].as_str().unwrap().contains("max_recods"), "{status}");
    let res = app(state).oneshot(Request::get("/api/config").body(Body::empty()).unwrap()).await.unwrap();
    let text = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    assert_eq!(std::str::from_utf8(&text).unwrap(), CONFIG);
}

#[tokio::test]
async fn metrics_render() {
    let res = app(state()).oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = String::from_utf8(axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(text.contains("finlake_records_in_total"), "{text}");
}

#[tokio::test]
async fn graph_and_unknown_api_paths() {
    let (s, body) = get_json("/api/graph").await;
    assert_eq!(s, StatusCode::OK);
    let graph: Vec<finlake_api::PipelineGraph> = serde_json::from_value(body).unwrap();
    assert_eq!(graph[0].topic, "t");
    assert_eq!(graph[0].stages[0].inputs, ["t"]);
    assert_eq!(graph[0].stages[0].outputs["out"], "bronze");
    let (s, body) = get_json("/api/no-such-thing").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("/api/openapi.json"), "{body}");
}

#[tokio::test]
async fn dashboard_not_built_still_answers_with_how_to_build_it() {
    let res = app(state()).oneshot(Request::get("/lake").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    assert!(std::str::from_utf8(&text).unwrap().contains("xtask/build-web.sh"));
}

#[tokio::test]
async fn dashboard_is_served_with_a_fallback_to_index() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<html>finlake-index</html>").unwrap();
    std::fs::write(dir.path().join("app.js"), "console.log(1)").unwrap();
    let text = CONFIG.replace("[lake]", &format!("[api]\ndashboard = {:?}\n[lake]", dir.path().display().to_string()));
    let config = crate::config::Config::parse_and_validate(&text, "test.toml").unwrap();
    let runtime =
        Arc::new(crate::plugin::PluginRuntime::new(&std::env::temp_dir().join("finlake-api-test-cache-dash")).unwrap());
    let state = AppState::new(ControlPlane::new(config, text, "unused:9092".into(), runtime), None, None);
    for (path, expect) in [("/", "finlake-index"), ("/lake", "finlake-index"), ("/app.js", "console.log(1)")] {
        let res = app(state.clone()).oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        assert!(std::str::from_utf8(&body).unwrap().contains(expect), "{path}");
    }
}

#[tokio::test]
async fn openapi_document_lists_every_route_with_schemas() {
    let (s, doc) = get_json("/api/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    for path in ["/api/pipelines", "/api/plugins/{name}", "/api/query", "/api/events", "/api/dead-letters/replay"] {
        assert!(doc["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    assert!(doc["components"]["schemas"]["PipelineSnapshot"].is_object());
    assert!(doc["components"]["schemas"]["QueryResponse"].is_object());
}

#[tokio::test]
async fn event_feed_starts_with_a_snapshot_and_ends_on_shutdown() {
    use futures::StreamExt;
    let state = state();
    let shutdown = state.shutdown.clone();
    let bus = state.control.registry.events.clone();
    let res = app(state).oneshot(Request::get("/api/events").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[axum::http::header::CONTENT_TYPE].to_str().unwrap().starts_with("text/event-stream"));
    let mut body = res.into_body().into_data_stream();
    let first = String::from_utf8(body.next().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(first.starts_with("event: snapshot\ndata: {"), "{first}");
    let data = first.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let snapshot = finlake_api::Event::parse("snapshot", data).unwrap();
    assert!(matches!(snapshot, finlake_api::Event::Snapshot(s) if s.pipelines[0].name == "p1"));
    bus.committed("p1", "bronze", 7, 4);
    let next = String::from_utf8(body.next().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(next.starts_with("event: commit\n"), "{next}");
    shutdown.cancel();
    let end =
        tokio::time::timeout(std::time::Duration::from_secs(5), async { while body.next().await.is_some() {} }).await;
    assert!(end.is_ok(), "the feed did not end on shutdown");
}
