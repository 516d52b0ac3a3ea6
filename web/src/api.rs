//! The HTTP client: every call goes through [`send`], which adds the bearer token when the user
//! gave one, and turns every non-2xx answer into an [`ApiError`] carrying the host's
//! `ErrorBody`. A 401/403 also raises the token banner ([`crate::auth`]).

use std::fmt;

use finlake_api::{ErrorBody, QueryRequest, QueryResponse, paths};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

use crate::auth;

/// A failed call: the HTTP status (0 when the request never got an answer), the host's
/// message and, for config edits, each problem as `file:line:col: message`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub problems: Vec<String>,
}

impl ApiError {
    fn local(message: impl Into<String>) -> Self {
        ApiError { status: 0, message: message.into(), problems: vec![] }
    }

    fn from_js(context: &str, e: JsValue) -> Self {
        let detail = e
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| format!("{e:?}"));
        ApiError::local(format!("{context}: {detail}"))
    }

    /// Refused for want of (the right) token.
    pub fn is_auth(&self) -> bool {
        matches!(self.status, 401 | 403)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            0 => f.write_str(&self.message),
            s => write!(f, "{} (HTTP {s})", self.message),
        }
    }
}

/// What a request carries, with its content type.
pub enum Body<'a> {
    Empty,
    Json(String),
    Toml(&'a str),
    /// A plugin component, sent as it was picked (the browser streams the file).
    Wasm(&'a web_sys::File),
}

/// Sends one request to the host (same origin) and returns the answer's text, or the error.
pub async fn send(method: &str, path: &str, body: Body<'_>) -> Result<String, ApiError> {
    let headers = Headers::new().map_err(|e| ApiError::from_js("headers", e))?;
    let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| ApiError::from_js("headers", e));
    set("Accept", "application/json")?;
    if let Some(token) = auth::token() {
        set("Authorization", &format!("Bearer {token}"))?;
    }
    let init = RequestInit::new();
    init.set_method(method);
    match &body {
        Body::Empty => {}
        Body::Json(text) => {
            set("Content-Type", "application/json")?;
            init.set_body(&JsValue::from_str(text));
        }
        Body::Toml(text) => {
            set("Content-Type", "application/toml")?;
            init.set_body(&JsValue::from_str(text));
        }
        Body::Wasm(file) => {
            set("Content-Type", "application/wasm")?;
            init.set_body(file.as_ref());
        }
    }
    init.set_headers(headers.as_ref());
    let request = Request::new_with_str_and_init(path, &init).map_err(|e| ApiError::from_js("request", e))?;
    let window = web_sys::window().ok_or_else(|| ApiError::local("no window"))?;
    let answer = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|e| ApiError::from_js("the FinLake host did not answer", e))?;
    let response: Response = answer.dyn_into().map_err(|e| ApiError::from_js("fetch", e))?;
    let status = response.status();
    let text = match response.text() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|v| v.as_string()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    if response.ok() {
        return Ok(text);
    }
    let error = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(b) => ApiError { status, message: b.error, problems: b.problems },
        Err(_) => {
            let snippet: String = text.chars().take(200).collect();
            let message = if snippet.trim().is_empty() { response.status_text() } else { snippet };
            ApiError { status, message, problems: vec![] }
        }
    };
    if error.is_auth() {
        auth::refused(&error.message);
    }
    Err(error)
}

fn decode<T: DeserializeOwned>(path: &str, text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::local(format!("unexpected answer from {path}: {e}")))
}

fn encode<B: Serialize>(body: &B) -> Result<String, ApiError> {
    serde_json::to_string(body).map_err(|e| ApiError::local(format!("encoding the request: {e}")))
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    decode(path, &send("GET", path, Body::Empty).await?)
}

pub async fn get_text(path: &str) -> Result<String, ApiError> {
    send("GET", path, Body::Empty).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    decode(path, &send("POST", path, Body::Json(encode(body)?)).await?)
}

pub async fn put_toml<T: DeserializeOwned>(path: &str, text: &str) -> Result<T, ApiError> {
    decode(path, &send("PUT", path, Body::Toml(text)).await?)
}

pub async fn put_wasm<T: DeserializeOwned>(path: &str, file: &web_sys::File) -> Result<T, ApiError> {
    decode(path, &send("PUT", path, Body::Wasm(file)).await?)
}

/// One page of a SQL query.
pub async fn query(request: &QueryRequest) -> Result<QueryResponse, ApiError> {
    post(paths::QUERY, request).await
}

/// A query with defaults (latest versions), at most `limit` rows.
pub async fn sql(sql: String, limit: u64) -> Result<QueryResponse, ApiError> {
    query(&QueryRequest { sql, limit: Some(limit), ..QueryRequest::default() }).await
}
