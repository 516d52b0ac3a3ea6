//! The bearer token: on mutating endpoints, and on reads that show the config.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{AppError, AppState};

/// Lets a mutating request through if no token is needed (loopback, none configured) or it
/// carries the right one; every decision is logged with the method and path.
pub(super) async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let refusal = match (&state.token, given) {
        (None, _) if state.loopback => None,
        (None, _) => Some(AppError::new(
            StatusCode::FORBIDDEN,
            "changes are refused: the API listens beyond loopback and no token is set; set [api] token in pipelines.toml or FINLAKE_API_TOKEN, then send Authorization: Bearer <token>",
        )),
        (Some(_), None) => Some(AppError::new(
            StatusCode::UNAUTHORIZED,
            "send Authorization: Bearer <token> ([api] token or FINLAKE_API_TOKEN)",
        )),
        (Some(t), Some(g)) if !constant_time_eq(t.as_bytes(), g.as_bytes()) => {
            Some(AppError::new(StatusCode::UNAUTHORIZED, "wrong token"))
        }
        _ => None,
    };
    match refusal {
        Some(e) => {
            tracing::warn!(%method, %path, reason = %e.message(), "change refused by API auth");
            e.into_response()
        }
        None => {
            tracing::info!(%method, %path, "change requested through the API");
            next.run(request).await
        }
    }
}

/// Compares without an early exit, so response time says nothing about how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// For reads that show the config: when a token is set, the read needs it too (on loopback as
/// well); without one, the read is allowed (secrets are redacted in any case).
pub(super) fn check_read(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let Some(token) = &state.token else { return Ok(()) };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(g) if constant_time_eq(token.as_bytes(), g.as_bytes()) => Ok(()),
        Some(_) => Err(AppError::new(StatusCode::UNAUTHORIZED, "wrong token")),
        None => Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "reading the config needs Authorization: Bearer <token> ([api] token or FINLAKE_API_TOKEN)",
        )),
    }
}
