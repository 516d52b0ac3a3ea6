//! Requests that must not reach the API even on loopback: a `Host` this server does not go by
//! (DNS rebinding: a web page's own name resolving to 127.0.0.1), and changes sent by another
//! origin or as a body a browser sends cross-site without asking (`text/plain`, forms). The
//! dashboard, served from this origin, sends JSON, TOML and Wasm bodies and passes.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{AppError, AppState};

/// Body types a cross-site page can send without a CORS preflight.
const SIMPLE_TYPES: [&str; 3] = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"];

pub(super) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match check(&state, request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => {
            tracing::warn!(method = %request.method(), path = %request.uri().path(), host = ?request.headers().get(header::HOST), origin = ?request.headers().get(header::ORIGIN), reason = %e.message(), "request refused");
            e.into_response()
        }
    }
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The host part of a `Host` value (`[::1]:8080` → `::1`, `Example.org:80` → `example.org`).
fn host_name(value: &str) -> String {
    let v = value.trim();
    let host = if let Some(rest) = v.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        v.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(v, |(h, _)| h)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn check(state: &AppState, method: &Method, headers: &HeaderMap) -> Result<(), AppError> {
    // HTTP/1.1 clients (browsers, curl) always send Host; a request without one cannot come
    // from a web page.
    let host = header(headers, header::HOST);
    if let Some(host) = host {
        let name = host_name(host);
        let known = name.parse::<std::net::IpAddr>().is_ok()
            || name == "localhost"
            || name.ends_with(".localhost")
            || state.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(&name));
        if !known {
            return Err(AppError::new(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "this API does not answer to host {name:?}; add it to [api] allowed_hosts if it is this server's name"
                ),
            ));
        }
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    if let Some(origin) = header(headers, header::ORIGIN) {
        let same = origin
            .split_once("://")
            .map(|(_, authority)| authority.trim_end_matches('/'))
            .is_some_and(|authority| host.is_some_and(|h| authority.eq_ignore_ascii_case(h)));
        if !same {
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "changes from another origin ({origin}) are refused; use the dashboard this server serves, or a client that sends no Origin"
                ),
            ));
        }
    }
    if header(headers, header::HeaderName::from_static("sec-fetch-site")) == Some("cross-site") {
        return Err(AppError::new(StatusCode::FORBIDDEN, "cross-site requests may not change anything"));
    }
    if let Some(kind) = header(headers, header::CONTENT_TYPE) {
        let kind = kind.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if SIMPLE_TYPES.contains(&kind.as_str()) {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "a {kind} body is refused (a web page could send it cross-site); send application/json, application/toml for the config, or application/wasm for a plugin"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn host_names() {
        assert_eq!(host_name("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("Example.ORG."), "example.org");
        assert_eq!(host_name("localhost"), "localhost");
    }
}
