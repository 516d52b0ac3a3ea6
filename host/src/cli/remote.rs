//! A small client for the API of a running `finlake run` (changes go through it, so the
//! running pipelines apply them at batch boundaries), and the commands that only talk to it:
//! `finlake plugin deploy|rollback`.
//!
//! Requests and answers are the types of `finlake_api`, the crate the host serves them from.

use std::path::Path;

use anyhow::Context;
use finlake_api::{
    DeadLetterQuery, DeployQuery, DeployReport, ErrorBody, Replayed, RollbackRequest, ShadowQuery, ShadowReport, paths,
};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

const JSON: &str = "application/json";
const WASM: &str = "application/wasm";

/// Where the running host listens, and the token for changes.
#[derive(clap::Args, Clone)]
pub struct Remote {
    /// The API of the running `finlake run`.
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "FINLAKE_API")]
    pub api: String,
    /// Bearer token for changes (needed when the API is not on loopback or sets one).
    #[arg(long, env = "FINLAKE_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot reach {url}: is `finlake run` running? (--api sets the address)")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("reading the answer")]
    Read(#[source] reqwest::Error),
    /// The API refused: its message (and located problems), and the status.
    #[error("{body} (HTTP {status})")]
    Refused { status: StatusCode, body: ErrorBody },
    #[error("unexpected answer from {url}")]
    Answer {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("encoding the request")]
    Encode(#[source] serde_json::Error),
}

impl Remote {
    /// `PUT /api/plugins/{name}` with the component: compiled, tried (shadow-run first when
    /// `query.shadow`) and swapped in.
    pub async fn upload_plugin(
        &self,
        name: &str,
        component: Vec<u8>,
        query: &DeployQuery,
    ) -> Result<DeployReport, RemoteError> {
        self.send_query(Method::PUT, &paths::plugin(name), query, WASM, component).await
    }

    /// `POST /api/plugins/{name}/shadow` with a candidate component: what it would change.
    pub async fn shadow_plugin(
        &self,
        name: &str,
        component: Vec<u8>,
        query: &ShadowQuery,
    ) -> Result<ShadowReport, RemoteError> {
        self.send_query(Method::POST, &paths::plugin_shadow(name), query, WASM, component).await
    }

    /// `POST /api/plugins/{name}/rollback`.
    pub async fn rollback_plugin(&self, name: &str, request: &RollbackRequest) -> Result<DeployReport, RemoteError> {
        self.send_json(Method::POST, &paths::plugin_rollback(name), request).await
    }

    /// `POST /api/dead-letters/replay`: what the replay did, per pipeline.
    pub async fn replay_dead_letters(&self, query: &DeadLetterQuery) -> Result<Vec<Replayed>, RemoteError> {
        self.send_json(Method::POST, paths::DEAD_LETTERS_REPLAY, query).await
    }

    async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, RemoteError> {
        let body = serde_json::to_vec(body).map_err(RemoteError::Encode)?;
        self.send(method, path, JSON, body).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Result<T, RemoteError> {
        self.send_query(method, path, &(), content_type, body).await
    }

    /// Sends a request and reads the answer as `T`, or fails with the API's error message.
    async fn send_query<Q: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &Q,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Result<T, RemoteError> {
        let url = format!("{}{path}", self.api.trim_end_matches('/'));
        let mut request =
            reqwest::Client::new().request(method, &url).query(query).header(CONTENT_TYPE, content_type).body(body);
        if let Some(t) = &self.token {
            request = request.bearer_auth(t);
        }
        let response = request.send().await.map_err(|source| RemoteError::Unreachable { url: url.clone(), source })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(RemoteError::Read)?;
        if !status.is_success() {
            return Err(RemoteError::Refused { status, body: error_body(&bytes) });
        }
        serde_json::from_slice(&bytes).map_err(|source| RemoteError::Answer { url, source })
    }
}

/// The API's error answer; a body that is not one (a proxy's page, a plain-text rejection) is
/// taken as the message.
fn error_body(bytes: &[u8]) -> ErrorBody {
    serde_json::from_slice(bytes).unwrap_or_else(|_| {
        let text = String::from_utf8_lossy(bytes).trim().to_string();
        ErrorBody { error: if text.is_empty() { "request failed".into() } else { text }, problems: vec![] }
    })
}

/// `finlake plugin deploy NAME FILE`: upload a component; prints what was swapped and the pause.
pub async fn deploy(remote: &Remote, name: &str, file: &Path, query: &DeployQuery) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let report = remote.upload_plugin(name, bytes, query).await?;
    print_deploy(&report);
    Ok(())
}

/// `finlake plugin shadow NAME FILE`: prints what the candidate would change (or the report as
/// JSON); exits 1 when it differs from the live version or fails on records it handled.
pub async fn shadow(remote: &Remote, name: &str, file: &Path, query: &ShadowQuery, json: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let report = remote.shadow_plugin(name, bytes, query).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", super::shadow_report::render(&report));
    }
    if report.differences > 0 || report.new_traps > 0 || report.new_rejections > 0 {
        anyhow::bail!(
            "the candidate differs: {} row(s), {} new trap(s), {} new rejection(s)",
            report.differences,
            report.new_traps,
            report.new_rejections
        );
    }
    Ok(())
}

/// `finlake plugin rollback NAME [--to V]`.
pub async fn rollback(remote: &Remote, name: &str, to: Option<String>) -> anyhow::Result<()> {
    let report = remote.rollback_plugin(name, &RollbackRequest { to }).await?;
    print_deploy(&report);
    Ok(())
}

fn print_deploy(report: &DeployReport) {
    let sha = report.sha256.get(..12).unwrap_or(&report.sha256);
    if !report.changed {
        println!("{} {} ({sha}) is already live; nothing changed", report.plugin, report.version);
        return;
    }
    println!(
        "{} {} ({sha}) is live — compiled in {:.0} ms{}, tried on {} live record(s)",
        report.plugin,
        report.version,
        report.compile_ms,
        if report.cache_hit { " (cached)" } else { "" },
        report.sample_records
    );
    for s in &report.swaps {
        println!(
            "  {}/{}: {} -> {}, paused {:.2} ms (committed {} row(s) of the old version first)",
            s.pipeline, s.stage, s.previous_version, s.version, s.pause_ms, s.flushed_rows
        );
    }
    for n in &report.not_swapped {
        println!("  not swapped: {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};

    /// Answers one request with `status` and `answer`; returns the request's head (lowercased)
    /// and body once it has been served.
    fn serve_once(status: &'static str, answer: &'static str) -> (Remote, std::thread::JoinHandle<(String, Vec<u8>)>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let remote = Remote { api: format!("http://{}/", listener.local_addr().unwrap()), token: Some("t0k".into()) };
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            while !head.ends_with("\r\n\r\n") && reader.read_line(&mut head).unwrap() > 0 {}
            let head = head.to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |n| n.trim().parse::<usize>().unwrap());
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
            reader.get_mut().write_all(response.as_bytes()).unwrap();
            (head, body)
        });
        (remote, server)
    }

    const REPORT: &str = r#"{"plugin":"normalize-trade","version":"1.1.0","sha256":"0123456789abcdef","source":"upload",
        "changed":true,"compile_ms":12.5,"cache_hit":false,"sample_records":3,"swaps":[],"not_swapped":[]}"#;

    #[tokio::test]
    async fn uploads_are_wasm_and_answers_are_typed() {
        let (remote, server) = serve_once("200 OK", REPORT);
        let report = remote.upload_plugin("normalize-trade", b"\0asm".to_vec(), &Default::default()).await.unwrap();
        assert_eq!((report.version.as_str(), report.sample_records), ("1.1.0", 3));
        let (head, body) = server.join().unwrap();
        assert!(head.starts_with("put /api/plugins/normalize-trade http/1.1\r\n"), "{head}");
        assert!(head.contains("\r\ncontent-type: application/wasm\r\n"), "{head}");
        assert!(head.contains("\r\nauthorization: bearer t0k\r\n"), "{head}");
        assert_eq!(body, b"\0asm");
    }

    #[tokio::test]
    async fn rollbacks_and_replays_send_json() {
        let (remote, server) = serve_once("200 OK", REPORT);
        remote.rollback_plugin("normalize-trade", &RollbackRequest { to: Some("1.0.0".into()) }).await.unwrap();
        let (head, body) = server.join().unwrap();
        assert!(head.starts_with("post /api/plugins/normalize-trade/rollback http/1.1\r\n"), "{head}");
        assert!(head.contains("\r\ncontent-type: application/json\r\n"), "{head}");
        assert_eq!(serde_json::from_slice::<RollbackRequest>(&body).unwrap().to.as_deref(), Some("1.0.0"));

        let answer = r#"[{"pipeline":"p","replay":2,"replayed":1,"succeeded":1,"failed_again":0,"rows_written":1,
            "skipped":[]}]"#;
        let (remote, server) = serve_once("200 OK", answer);
        let query = DeadLetterQuery { pipeline: Some("p".into()), limit: Some(5), ..DeadLetterQuery::default() };
        let done = remote.replay_dead_letters(&query).await.unwrap();
        assert_eq!((done[0].replay, done[0].rows_written), (2, 1));
        let (head, body) = server.join().unwrap();
        assert!(head.starts_with("post /api/dead-letters/replay http/1.1\r\n"), "{head}");
        assert!(head.contains("\r\ncontent-type: application/json\r\n"), "{head}");
        assert_eq!(serde_json::from_slice::<DeadLetterQuery>(&body).unwrap(), query);
    }

    #[tokio::test]
    async fn refusals_carry_the_message_problems_and_status() {
        let (remote, server) = serve_once("400 Bad Request", r#"{"error":"refused","problems":["f:1:2: bad"]}"#);
        let e = remote.rollback_plugin("x", &RollbackRequest::default()).await.unwrap_err();
        assert_eq!(e.to_string(), "refused\n  f:1:2: bad (HTTP 400 Bad Request)");
        server.join().unwrap();
        assert_eq!(error_body(b"").error, "request failed");
        assert_eq!(error_body(b"length limit exceeded\n").error, "length limit exceeded");
    }
}
