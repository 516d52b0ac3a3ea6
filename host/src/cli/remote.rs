//! A small client for the API of a running `finlake run` (changes go through it, so the
//! running pipelines apply them at batch boundaries).

use anyhow::{Context, bail};

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

impl Remote {
    /// Sends a request and returns the JSON answer, or fails with the API's error message.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Vec<u8>) -> anyhow::Result<serde_json::Value> {
        let url = format!("{}{path}", self.api.trim_end_matches('/'));
        let mut request = reqwest::Client::new().request(method, &url).body(body);
        if let Some(t) = &self.token {
            request = request.bearer_auth(t);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {url}: is `finlake run` running? (--api sets the address)"))?;
        let status = response.status();
        let bytes = response.bytes().await.context("reading the answer")?;
        let json: serde_json::Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::json!({ "error": String::from_utf8_lossy(&bytes).to_string() }));
        if !status.is_success() {
            let mut message = json["error"].as_str().unwrap_or("request failed").to_string();
            if let Some(problems) = json["problems"].as_array() {
                for p in problems {
                    message.push_str(&format!("\n  {}", p.as_str().unwrap_or_default()));
                }
            }
            bail!("{message} (HTTP {status})");
        }
        Ok(json)
    }
}

/// `finlake plugin deploy NAME FILE`: upload a component; prints what was swapped and the pause.
pub async fn deploy(remote: &Remote, name: &str, file: &std::path::Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let report = remote.send(reqwest::Method::PUT, &format!("/api/plugins/{name}"), bytes).await?;
    print_deploy(&report);
    Ok(())
}

/// `finlake plugin rollback NAME [--to V]`.
pub async fn rollback(remote: &Remote, name: &str, to: Option<&str>) -> anyhow::Result<()> {
    let body = to.map(|t| serde_json::json!({ "to": t }).to_string()).unwrap_or_default();
    let report =
        remote.send(reqwest::Method::POST, &format!("/api/plugins/{name}/rollback"), body.into_bytes()).await?;
    print_deploy(&report);
    Ok(())
}

fn print_deploy(report: &serde_json::Value) {
    let sha = report["sha256"].as_str().unwrap_or_default();
    if report["changed"] == false {
        println!(
            "{} {} ({}) is already live; nothing changed",
            report["plugin"].as_str().unwrap_or(""),
            report["version"].as_str().unwrap_or(""),
            &sha[..12.min(sha.len())]
        );
        return;
    }
    println!(
        "{} {} ({}) is live — compiled in {:.0} ms{}, tried on {} live record(s)",
        report["plugin"].as_str().unwrap_or(""),
        report["version"].as_str().unwrap_or(""),
        &sha[..12.min(sha.len())],
        report["compile_ms"].as_f64().unwrap_or(0.0),
        if report["cache_hit"] == true { " (cached)" } else { "" },
        report["sample_records"]
    );
    for s in report["swaps"].as_array().into_iter().flatten() {
        println!(
            "  {}/{}: {} -> {}, paused {:.2} ms (committed {} row(s) of the old version first)",
            s["pipeline"].as_str().unwrap_or(""),
            s["stage"].as_str().unwrap_or(""),
            s["previous_version"].as_str().unwrap_or(""),
            s["version"].as_str().unwrap_or(""),
            s["pause_ms"].as_f64().unwrap_or(0.0),
            s["flushed_rows"]
        );
    }
    for n in report["not_swapped"].as_array().into_iter().flatten() {
        println!("  not swapped: {}", n.as_str().unwrap_or_default());
    }
}
