//! The dashboard: the files `xtask/build-web.sh` writes (`[api] dashboard`, default
//! `web/dist`) served at `/`, with every unknown path answered by `index.html` so the app's own
//! routes (`/lake`, `/plugins`, …) survive a reload. When it was not built, the API runs
//! anyway and `/` says how to build it.

use std::convert::Infallible;
use std::path::Path;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::{MethodRouter, get};

use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

const NOT_BUILT: &str = r#"<!doctype html><html lang="en"><meta charset="utf-8"><title>FinLake</title>
<body style="font-family:system-ui;max-width:40rem;margin:3rem auto;line-height:1.5">
<h1>FinLake is running; its dashboard is not built</h1>
<p>Build it with <code>./xtask/build-web.sh</code> (the README's setup does), then reload.
The API answers meanwhile: <a href="/api/pipelines">/api/pipelines</a>,
<a href="/api/openapi.json">/api/openapi.json</a>, <a href="/metrics">/metrics</a>.</p></body></html>"#;

/// The service for every path the API does not own.
pub(super) fn service(dir: &Path) -> MethodRouter<(), Infallible> {
    let index = dir.join("index.html");
    if !index.is_file() {
        tracing::warn!(dir = %dir.display(), "dashboard not built: / shows how to build it (./xtask/build-web.sh); the API runs as usual");
        return get(|| async { (StatusCode::SERVICE_UNAVAILABLE, Html(NOT_BUILT)).into_response() });
    }
    tracing::info!(dir = %dir.display(), "dashboard served at /");
    // File names carry no hash, so browsers must revalidate (ETag / Last-Modified make that
    // cheap) or a rebuilt dashboard would run against a stale script.
    let files = ServeDir::new(dir).precompressed_gzip().fallback(ServeFile::new(index));
    let no_cache = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    axum::routing::get_service(files).layer(no_cache)
}
