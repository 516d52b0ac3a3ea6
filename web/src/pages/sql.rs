//! The SQL editor of the Lake page: Ctrl+Enter runs, results page with limit/offset, CSV of
//! the page on screen, and time travel (latest, a version, or a time) for every table.

use finlake_api::{QueryRequest, QueryResponse};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};

use crate::api::{self, ApiError};
use crate::format;
use crate::requests::{self, TimeTravel};
use crate::rows;

const PAGE_SIZES: [u64; 4] = [50, 100, 500, 1000];
const DEFAULT_SQL: &str = "SELECT symbol, window_start, open, high, low, close, volume, round(vwap, 4) AS vwap, trades\n\
                           FROM gold_trades_1m\nORDER BY window_start DESC, symbol";

/// The editor's inputs, shared with the table history ("query this version").
#[derive(Clone, Copy)]
pub struct SqlState {
    sql: RwSignal<String>,
    version: RwSignal<String>,
    as_of: RwSignal<String>,
    run_now: RwSignal<u64>,
}

impl SqlState {
    pub fn new() -> Self {
        SqlState {
            sql: RwSignal::new(DEFAULT_SQL.to_string()),
            version: RwSignal::new(String::new()),
            as_of: RwSignal::new(String::new()),
            run_now: RwSignal::new(0),
        }
    }

    /// Loads `SELECT * FROM table` at `version` into the editor and runs it.
    pub fn time_travel_to(&self, table: &str, version: u64) {
        self.sql.set(format!("SELECT * FROM \"{}\"", table.replace('"', "\"\"")));
        self.version.set(version.to_string());
        self.as_of.set(String::new());
        self.run_now.update(|n| *n += 1);
    }
}

/// Saves `text` as a file through a temporary object URL.
fn download(name: &str, mime: &str, text: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or_else(|| JsValue::from_str("no document"))?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    // Revoking at once can cancel the download in some browsers; a minute later is safe.
    set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        std::time::Duration::from_secs(60),
    );
    Ok(())
}

#[component]
pub fn SqlEditor(state: SqlState) -> impl IntoView {
    let page_size = RwSignal::new(100u64);
    let result: RwSignal<Option<Result<QueryResponse, ApiError>>> = RwSignal::new(None);
    // The request of the page on screen, so Prev/Next keep its SQL and time travel.
    let shown: RwSignal<Option<QueryRequest>> = RwSignal::new(None);
    let input_error = RwSignal::new(None::<String>);
    let running = RwSignal::new(false);
    let csv_error = RwSignal::new(None::<String>);
    // Counts the answers shown, so a reader (a person comparing, or the browser suite) can
    // tell a fresh answer from the one that was on screen before Run was pressed.
    let answers = RwSignal::new(0u64);

    let send = move |request: QueryRequest| {
        running.set(true);
        spawn_local(async move {
            let r = api::query(&request).await;
            running.try_set(false);
            if r.is_ok() {
                shown.try_set(Some(request));
            }
            // Counted before the answer is set, which is what redraws the table.
            answers.try_update(|n| *n += 1);
            result.try_set(Some(r));
        });
    };
    let run = move || {
        let sql = state.sql.get_untracked();
        if sql.trim().is_empty() {
            input_error.set(Some("write a query first".into()));
            return;
        }
        let (version, as_of) = match requests::time_travel(&state.version.get_untracked(), &state.as_of.get_untracked())
        {
            Ok(TimeTravel::Latest) => (None, None),
            Ok(TimeTravel::Version(v)) => (Some(v), None),
            Ok(TimeTravel::AsOf(t)) => (None, Some(t)),
            Err(e) => {
                input_error.set(Some(e));
                return;
            }
        };
        input_error.set(None);
        send(QueryRequest { sql, version, as_of, limit: Some(page_size.get_untracked()), offset: None });
    };
    let page = move |forward: bool| {
        let (Some(req), Some(Ok(res))) = (shown.get_untracked(), result.get_untracked()) else { return };
        let limit = req.limit.unwrap_or(1000);
        let offset = if forward {
            match res.next_offset {
                Some(o) => o,
                None => return,
            }
        } else {
            req.offset.unwrap_or(0).saturating_sub(limit)
        };
        send(QueryRequest { offset: Some(offset), ..req });
    };
    Effect::watch(move || state.run_now.get(), move |_, _, _| run(), false);
    let save_csv = move |_| {
        let Some(Ok(res)) = result.get_untracked() else { return };
        let outcome = download("finlake-query.csv", "text/csv;charset=utf-8", &rows::csv(&res));
        csv_error.set(outcome.err().map(|e| format!("could not save the CSV: {e:?}")));
    };
    let offset = move || shown.with(|s| s.as_ref().and_then(|r| r.offset).unwrap_or(0));
    let has_prev = move || offset() > 0;
    let has_next = move || result.with(|r| matches!(r, Some(Ok(r)) if r.next_offset.is_some()));
    let has_rows = move || result.with(|r| matches!(r, Some(Ok(_))));

    view! {
        <section class="panel">
            <h2>"SQL"</h2>
            <textarea
                class="code"
                rows="7"
                spellcheck="false"
                data-test="sql-editor"
                aria-label="SQL query"
                prop:value=move || state.sql.get()
                on:input=move |ev| state.sql.set(event_target_value(&ev))
                on:keydown=move |ev| {
                    if (ev.ctrl_key() || ev.meta_key()) && ev.key() == "Enter" {
                        ev.prevent_default();
                        run();
                    }
                }
            ></textarea>
            <div class="toolbar">
                <button data-test="sql-run" disabled=move || running.get() on:click=move |_| run()>
                    {move || if running.get() { "Running…" } else { "Run (Ctrl+Enter)" }}
                </button>
                <label>
                    "rows per page "
                    <select on:change=move |ev| {
                        if let Ok(n) = event_target_value(&ev).parse() {
                            page_size.set(n);
                        }
                    }>
                        {PAGE_SIZES
                            .into_iter()
                            .map(|n| view! { <option value=n.to_string() selected=n == 100>{n.to_string()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <span class="tt" role="group" aria-label="Time travel">
                    "read "
                    <button
                        class="ghost small"
                        data-test="tt-latest"
                        class:active=move || state.version.get().trim().is_empty() && state.as_of.get().trim().is_empty()
                        on:click=move |_| {
                            state.version.set(String::new());
                            state.as_of.set(String::new());
                        }
                    >
                        "latest"
                    </button>
                    <label>
                        " or version "
                        <input
                            class="narrow"
                            inputmode="numeric"
                            placeholder="3"
                            data-test="tt-version"
                            prop:value=move || state.version.get()
                            on:input=move |ev| {
                                state.version.set(event_target_value(&ev));
                                state.as_of.set(String::new());
                            }
                        />
                    </label>
                    <label>
                        " or as of "
                        <input
                            placeholder="2025-01-31T12:00:00Z"
                            data-test="tt-as-of"
                            prop:value=move || state.as_of.get()
                            on:input=move |ev| {
                                state.as_of.set(event_target_value(&ev));
                                state.version.set(String::new());
                            }
                        />
                    </label>
                </span>
            </div>
            <p class="muted">
                "Tables by name; one table back in time with \"name@v3\" or \"name@2025-01-31T12:00:00Z\"."
            </p>
            {move || input_error.get().map(|e| view! { <div class="error-box">{e}</div> })}
            {move || match result.get() {
                None => ().into_any(),
                Some(Err(e)) => crate::ui::error_box(&e),
                Some(Ok(r)) => results(r, offset(), answers.get_untracked()),
            }}
            <div class="toolbar">
                <button class="ghost" data-test="sql-prev" disabled=move || !has_prev() on:click=move |_| page(false)>
                    "‹ Prev"
                </button>
                <button class="ghost" data-test="sql-next" disabled=move || !has_next() on:click=move |_| page(true)>
                    "Next ›"
                </button>
                <button class="ghost" data-test="sql-csv" disabled=move || !has_rows() on:click=save_csv>
                    "Download CSV"
                </button>
                {move || csv_error.get().map(|e| view! { <span class="error-text">{e}</span> })}
            </div>
        </section>
    }
}

fn results(r: QueryResponse, offset: u64, answer: u64) -> AnyView {
    let versions = r.versions.iter().map(|(table, v)| format!("{table} v{v}")).collect::<Vec<_>>().join(", ");
    let read = r.versions.iter().map(|(table, v)| format!("{table}@{v}")).collect::<Vec<_>>().join(" ");
    let summary = if r.row_count == 0 {
        "no rows".to_string()
    } else {
        format!("rows {}–{}{}", offset + 1, offset + r.row_count, if r.has_more { ", more follow" } else { "" })
    };
    let header = r.columns.iter().map(|c| view! { <th title=c.kind.clone()>{c.name.clone()}</th> }).collect_view();
    let columns: Vec<String> = r.columns.iter().map(|c| c.name.clone()).collect();
    let body = r
        .rows
        .iter()
        .map(|row| {
            let cells = columns
                .iter()
                .map(|name| match row.get(name) {
                    None | Some(serde_json::Value::Null) => view! { <td class="null">"null"</td> }.into_any(),
                    Some(v @ serde_json::Value::Number(_)) => {
                        view! { <td class="num">{rows::cell_text(v)}</td> }.into_any()
                    }
                    Some(v) => view! { <td>{rows::cell_text(v)}</td> }.into_any(),
                })
                .collect_view();
            view! { <tr>{cells}</tr> }
        })
        .collect_view();
    view! {
        <p class="muted">
            <span data-test="sql-row-count" data-count=r.row_count.to_string()>
                {format::count(r.row_count, "row", "rows")}
            </span>
            {format!(" · {summary} · {} ms", r.elapsed_ms)}
            {(!versions.is_empty()).then(|| format!(" · read {versions}"))}
        </p>
        <div class="table-wrap results">
            <table class="compact" data-test="sql-results" data-answer=answer.to_string() data-read=read>
                <thead>
                    <tr>{header}</tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
    .into_any()
}
