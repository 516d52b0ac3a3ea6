//! The live feed: one `EventSource` on `/api/events` for the whole app. Each named event
//! updates a signal that pages read; the browser reconnects on its own after a dropped
//! connection, and after a refused one (which closes the source) we open a new one in 5 s.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use finlake_api::{
    AlertEvent, CommitEvent, ConfigStatus, Event, PipelineSnapshot, RefusalEvent, StagePlugin, StageSnapshot, paths,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

use crate::api;
use crate::rates::RateBook;

/// Recent commits kept for the Overview list.
const RECENT_COMMITS: usize = 30;

/// Everything the feed tells, as signals (copied freely: they are handles).
#[derive(Clone, Copy)]
pub struct Live {
    pub connected: RwSignal<bool>,
    pub pipelines: RwSignal<Vec<PipelineSnapshot>>,
    pub stages: RwSignal<Vec<StageSnapshot>>,
    pub config: RwSignal<Option<ConfigStatus>>,
    pub rates: RwSignal<RateBook>,
    /// Newest first.
    pub commits: RwSignal<VecDeque<CommitEvent>>,
    pub last_commit: RwSignal<Option<CommitEvent>>,
    pub last_alert: RwSignal<Option<AlertEvent>>,
    pub last_refusal: RwSignal<Option<RefusalEvent>>,
    /// An event the dashboard could not read (a host/dashboard version mismatch).
    pub problem: RwSignal<Option<String>>,
    /// The browser's clock, ticking every second, for "5 s ago".
    pub now_ms: RwSignal<f64>,
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Minutes east of UTC of the browser's time zone, for local times on axes and in tables.
pub fn utc_offset_min() -> i64 {
    -(js_sys::Date::new_0().get_timezone_offset() as i64)
}

/// The feed of the nearest [`start`].
pub fn use_live() -> Live {
    use_context::<Live>().unwrap_or_else(start)
}

const EVENT_NAMES: [&str; 7] = ["snapshot", "pipelines", "plugins", "commit", "refusal", "alert", "config"];

struct Connection {
    source: EventSource,
    // Kept alive as long as the source; dropped (outside their own calls) on reconnect.
    _listeners: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

thread_local! {
    static CONNECTION: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

/// Creates the feed's signals, provides them as context and connects.
pub fn start() -> Live {
    let live = Live {
        connected: RwSignal::new(false),
        pipelines: RwSignal::new(vec![]),
        stages: RwSignal::new(vec![]),
        config: RwSignal::new(None),
        rates: RwSignal::new(RateBook::default()),
        commits: RwSignal::new(VecDeque::new()),
        last_commit: RwSignal::new(None),
        last_alert: RwSignal::new(None),
        last_refusal: RwSignal::new(None),
        problem: RwSignal::new(None),
        now_ms: RwSignal::new(now_ms()),
    };
    provide_context(live);
    set_interval(move || live.now_ms.set(now_ms()), Duration::from_secs(1));
    // Fill the pages even when the feed cannot connect (a proxy that buffers SSE, say).
    spawn_local(async move {
        if let Ok(ps) = api::get::<Vec<PipelineSnapshot>>(paths::PIPELINES).await
            && live.pipelines.with_untracked(Vec::is_empty)
        {
            observe(live, &ps);
            live.pipelines.set(ps);
        }
        if let Ok(plugins) = api::get::<Vec<StagePlugin>>(paths::PLUGINS).await
            && live.stages.with_untracked(Vec::is_empty)
        {
            live.stages.set(plugins.into_iter().map(|p| p.stage).collect());
        }
    });
    connect(live);
    // A page kept in the back/forward cache would hold its stream open, and over HTTP/1.1 a
    // browser has only six connections per host: close it on the way out, reopen on return.
    let _ = window_event_listener_untyped("pagehide", move |_| {
        if let Some(old) = CONNECTION.with(|c| c.borrow_mut().take()) {
            old.source.close();
        }
        live.connected.set(false);
    });
    let _ = window_event_listener_untyped("pageshow", move |_| {
        if CONNECTION.with(|c| c.borrow().is_none()) {
            connect(live);
        }
    });
    live
}

fn observe(live: Live, pipelines: &[PipelineSnapshot]) {
    let now = now_ms();
    live.rates.update(|book| book.observe(now, pipelines.iter().map(|p| (p.name.as_str(), p.records_in, p.rows_out))));
}

fn apply(live: Live, event: Event) {
    match event {
        Event::Snapshot(s) => {
            observe(live, &s.pipelines);
            live.pipelines.set(s.pipelines);
            live.stages.set(s.stages);
            live.config.set(Some(s.config));
        }
        Event::Pipelines(ps) => {
            observe(live, &ps);
            live.pipelines.set(ps);
        }
        Event::Plugins(stages) => live.stages.set(stages),
        Event::Commit(c) => {
            live.commits.update(|list| {
                list.push_front(c.clone());
                list.truncate(RECENT_COMMITS);
            });
            live.last_commit.set(Some(c));
        }
        Event::Refusal(r) => live.last_refusal.set(Some(r)),
        Event::Alert(a) => live.last_alert.set(Some(a)),
        Event::Config(c) => live.config.set(Some(c)),
    }
}

fn connect(live: Live) {
    let source = match EventSource::new(paths::EVENTS) {
        Ok(s) => s,
        Err(e) => {
            live.problem.set(Some(format!("live feed unavailable: {e:?}")));
            return;
        }
    };
    let mut listeners: Vec<Closure<dyn FnMut(web_sys::Event)>> = Vec::new();
    for name in EVENT_NAMES {
        let on_event = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
            let Some(data) = ev.dyn_ref::<MessageEvent>().and_then(|m| m.data().as_string()) else { return };
            match Event::parse(name, &data) {
                Ok(event) => {
                    live.connected.set(true);
                    apply(live, event);
                }
                Err(e) => live.problem.set(Some(format!("could not read the `{name}` event: {e}"))),
            }
        });
        if source.add_event_listener_with_callback(name, on_event.as_ref().unchecked_ref()).is_ok() {
            listeners.push(on_event);
        }
    }
    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.connected.set(true));
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    listeners.push(on_open);
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        live.connected.set(false);
        let closed =
            CONNECTION.with(|c| c.borrow().as_ref().is_some_and(|c| c.source.ready_state() == EventSource::CLOSED));
        if closed {
            // The host refused the stream (or is gone): the browser gives up, so we retry.
            set_timeout(
                move || {
                    if let Some(old) = CONNECTION.with(|c| c.borrow_mut().take()) {
                        old.source.close();
                    }
                    connect(live);
                },
                Duration::from_secs(5),
            );
        }
    });
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    listeners.push(on_error);
    CONNECTION.with(|c| *c.borrow_mut() = Some(Connection { source, _listeners: listeners }));
}
