//! `GET /api/events`: the live feed as server-sent events. A connection first gets a
//! `snapshot` of everything, then the events the pipelines and the control plane publish
//! ([`crate::events::EventBus`]) and, once a second, every pipeline's counters and every
//! stage's timings. Streams end when the service stops, so shutdown never waits on a browser.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use finlake_api::{Event, Snapshot};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use super::AppState;
use crate::control::ControlPlane;

fn snapshot(control: &ControlPlane) -> Snapshot {
    Snapshot {
        at_ms: chrono::Utc::now().timestamp_millis(),
        pipelines: control.pipeline_snapshots(),
        stages: control.registry.stage_snapshots(),
        config: control.config_status(),
    }
}

/// The live feed: `snapshot` first, then `pipelines`, `plugins` (each second), `commit`,
/// `refusal`, `alert`, `config` as they happen. Each event's data is the JSON of its body.
#[utoipa::path(get, path = "/api/events", tag = "status",
    responses((status = 200, description = "server-sent events", content_type = "text/event-stream", body = String)))]
pub(super) async fn feed(State(state): State<AppState>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = state.control.registry.events.subscribe();
    let first = Event::Snapshot(snapshot(&state.control));
    let live = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(event) => return Some((event, rx)),
                // Fell behind: skip ahead; the next counters event makes the page whole again.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let stream = futures::stream::once(async move { first })
        .chain(live)
        .map(|e| Ok(SseEvent::default().event(e.name()).data(e.data_json())))
        .take_until(state.shutdown.cancelled_owned());
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Publishes every pipeline's counters and every stage's timings once a second while anyone
/// listens, until `stop` turns true.
pub fn spawn_ticker(control: Arc<ControlPlane>, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let bus = &control.registry.events;
            if bus.listeners() == 0 {
                continue;
            }
            bus.publish(Event::Pipelines(control.pipeline_snapshots()));
            bus.publish(Event::Plugins(control.registry.stage_snapshots()));
        }
    })
}
