//! Small pieces every page uses: loading and error boxes, state badges, async loads into
//! signals.

use std::future::Future;

use finlake_api::PipelineState;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ApiError;
use crate::format;
use crate::sse;
use crate::time;

/// What a load has produced so far: nothing yet, or its result.
pub type Loaded<T> = RwSignal<Option<Result<T, ApiError>>>;

/// A signal for [`load`].
pub fn loaded<T: Send + Sync + 'static>() -> Loaded<T> {
    RwSignal::new(None)
}

/// Runs `fut` and stores its result in `into` (ignored if the page has gone meanwhile).
pub fn load<T, F>(into: Loaded<T>, fut: F)
where
    T: Send + Sync + 'static,
    F: Future<Output = Result<T, ApiError>> + 'static,
{
    spawn_local(async move {
        let result = fut.await;
        into.try_set(Some(result));
    });
}

/// The host's message, and each problem on its own line.
pub fn error_box(e: &ApiError) -> AnyView {
    titled_error("", e)
}

/// [`error_box`] with what failed first ("Upload refused: …").
pub fn titled_error(title: &'static str, e: &ApiError) -> AnyView {
    let problems = e.problems.clone();
    view! {
        <div class="error-box" role="alert">
            <div>
                {(!title.is_empty()).then(|| view! { <strong>{title} ": "</strong> })}
                {e.to_string()}
            </div>
            {(!problems.is_empty())
                .then(|| view! { <ul>{problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul> })}
        </div>
    }
    .into_any()
}

pub fn loading() -> AnyView {
    view! { <div class="muted">"Loading…"</div> }.into_any()
}

/// Renders a load: "Loading…", its error, or `ok(value)`.
pub fn show<T, V>(data: Loaded<T>, ok: impl Fn(T) -> V + Send + 'static) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    move || match data.get() {
        None => loading(),
        Some(Err(e)) => error_box(&e),
        Some(Ok(v)) => ok(v).into_any(),
    }
}

/// A pipeline's state as a coloured badge.
pub fn state_badge(state: PipelineState) -> AnyView {
    let class = match state {
        PipelineState::Running => "badge ok",
        PipelineState::Starting => "badge info",
        PipelineState::Restarting => "badge warn",
        PipelineState::Paused => "badge bad",
        PipelineState::Stopped => "badge muted",
    };
    view! { <span class=class data-state=state.as_str()>{state.as_str()}</span> }.into_any()
}

/// An RFC 3339 time as local wall-clock text, the original kept as a tooltip.
pub fn when(rfc3339: &str) -> AnyView {
    let text = time::parse_ms(rfc3339)
        .map(|ms| time::date_time(ms, sse::utc_offset_min()))
        .unwrap_or_else(|| rfc3339.to_string());
    view! { <time title=rfc3339.to_string()>{text}</time> }.into_any()
}

/// Milliseconds since the epoch as local wall-clock text.
pub fn when_ms(ms: i64) -> String {
    time::date_time(ms, sse::utc_offset_min())
}

/// "5 s ago" for an RFC 3339 time, updated every second.
pub fn ago(rfc3339: String) -> impl IntoView {
    let live = sse::use_live();
    let then = time::parse_ms(&rfc3339);
    move || match then {
        Some(t) => format::ago(live.now_ms.get(), t as f64),
        None => rfc3339.clone(),
    }
}

/// "5 s ago" for milliseconds since the epoch.
pub fn ago_ms(ms: i64) -> impl IntoView {
    let live = sse::use_live();
    move || format::ago(live.now_ms.get(), ms as f64)
}

/// Only the error of a load, if it failed (for panels that draw their data elsewhere).
pub fn error_of<T: Send + Sync + 'static>(data: Loaded<T>) -> impl IntoView {
    move || {
        data.with(|d| match d {
            Some(Err(e)) => Some(error_box(e)),
            _ => None,
        })
    }
}
