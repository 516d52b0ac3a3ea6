//! Pipelines: the pipelines.toml editor. Every edit is checked by the host (a dry run, 500 ms
//! after typing stops); problems are marked at their line in the gutter and listed (click one
//! to jump there). Apply sends the text for real and shows what changed.

use std::time::Duration;

use finlake_api::{ChangeSource, ConfigStatus, ReloadReport, paths};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::format;
use crate::problems::{self, Problem};
use crate::sse::use_live;
use crate::ui::{self, Loaded};

/// The editor's line height in CSS pixels (style.css `.editor` uses the same).
const LINE_PX: f64 = 20.0;
const DEBOUNCE: Duration = Duration::from_millis(500);

fn dry_run_path() -> String {
    format!("{}?dry_run=true", paths::CONFIG)
}

#[component]
pub fn Pipelines() -> impl IntoView {
    let live = use_live();
    let text = RwSignal::new(String::new());
    let original: Loaded<String> = ui::loaded();
    let check: RwSignal<Option<Result<ReloadReport, ApiError>>> = RwSignal::new(None);
    let checking = RwSignal::new(false);
    let applied: RwSignal<Option<Result<ReloadReport, ApiError>>> = RwSignal::new(None);
    let applying = RwSignal::new(false);
    let status: Loaded<ConfigStatus> = ui::loaded();
    // Only the answer to the latest edit counts.
    let generation = StoredValue::new(0u64);
    let pending = StoredValue::new(None::<TimeoutHandle>);
    let area = NodeRef::<leptos::html::Textarea>::new();
    let gutter = NodeRef::<leptos::html::Pre>::new();

    let load = move || {
        spawn_local(async move {
            let r = api::get_text(paths::CONFIG).await;
            if let Ok(t) = &r {
                text.try_set(t.clone());
                check.try_set(None);
            }
            original.try_set(Some(r));
        });
    };
    load();
    ui::load(status, api::get(paths::CONFIG_STATUS));
    Effect::watch(
        move || live.config.get(),
        move |c, _, _| {
            if let Some(c) = c.clone() {
                status.set(Some(Ok(c)));
            }
        },
        false,
    );

    let validate = move || {
        let body = text.get_untracked();
        let n = generation.get_value() + 1;
        generation.set_value(n);
        checking.set(true);
        spawn_local(async move {
            let r = api::put_toml::<ReloadReport>(&dry_run_path(), &body).await;
            if generation.try_get_value() == Some(n) {
                checking.try_set(false);
                check.try_set(Some(r));
            }
        });
    };
    let on_input = move |ev: leptos::ev::Event| {
        text.set(event_target_value(&ev));
        if let Some(h) = pending.get_value() {
            h.clear();
        }
        pending.set_value(set_timeout_with_handle(validate, DEBOUNCE).ok());
    };
    on_cleanup(move || {
        if let Some(h) = pending.try_get_value().flatten() {
            h.clear();
        }
    });
    let apply = move |_| {
        let body = text.get_untracked();
        applying.set(true);
        spawn_local(async move {
            let r = api::put_toml::<ReloadReport>(paths::CONFIG, &body).await;
            applying.try_set(false);
            if let Err(e) = &r {
                // The refusal's problems belong in the editor too.
                check.try_set(Some(Err(e.clone())));
            } else {
                check.try_set(None);
                ui::load(status, api::get(paths::CONFIG_STATUS));
            }
            applied.try_set(Some(r));
        });
    };

    let problems = Memo::new(move |_| match check.get() {
        Some(Err(e)) if !e.problems.is_empty() => e.problems.iter().map(|p| problems::parse(p)).collect(),
        Some(Err(e)) => vec![Problem { file: None, line: None, col: None, message: e.to_string() }],
        _ => Vec::<Problem>::new(),
    });
    let marked = Memo::new(move |_| problems::marked_lines(&problems.get()));
    let jump = move |line: usize, col: usize| {
        let Some(el) = area.get_untracked() else { return };
        let at = problems::utf16_offset(&text.get_untracked(), line, col);
        let _ = el.focus();
        let _ = el.set_selection_range(at, at);
        el.set_scroll_top(((line as f64 - 3.0) * LINE_PX).max(0.0) as i32);
        // The scroll event comes later; line the gutter up now.
        if let Some(g) = gutter.get_untracked() {
            g.set_scroll_top(el.scroll_top());
        }
    };
    let sync_scroll = move |_| {
        if let (Some(a), Some(g)) = (area.get_untracked(), gutter.get_untracked()) {
            g.set_scroll_top(a.scroll_top());
        }
    };
    let gutter_lines = move || {
        let lines = text.with(|t| t.split('\n').count());
        let bad = marked.get();
        (1..=lines)
            .map(|n| {
                let class = if bad.binary_search(&n).is_ok() { "bad" } else { "" };
                view! { <span class=class data-line=n.to_string()>{format!("{n}\n")}</span> }
            })
            .collect_view()
    };
    let dirty = move || original.with(|o| matches!(o, Some(Ok(t)) if *t != text.get()));

    view! {
        <h1>"Pipelines"</h1>
        <ConfigStatusPanel status=status />
        <section class="panel">
            <div class="panel-head">
                <h2>"pipelines.toml"</h2>
                <span class="muted">{move || if dirty() { "edited" } else { "as in effect" }}</span>
                <button class="ghost" on:click=move |_| load()>"Reload from host"</button>
            </div>
            {ui::error_of(original)}
            <div class="editor">
                <pre class="gutter" aria-hidden="true" node_ref=gutter>{gutter_lines}</pre>
                <textarea
                    class="code"
                    wrap="off"
                    spellcheck="false"
                    data-test="config-editor"
                    aria-label="pipelines.toml"
                    node_ref=area
                    prop:value=move || text.get()
                    on:input=on_input
                    on:scroll=sync_scroll
                ></textarea>
            </div>
            <div class="toolbar">
                <button
                    data-test="config-apply"
                    disabled=move || applying.get() || original.with(|o| !matches!(o, Some(Ok(_))))
                    on:click=apply
                >
                    {move || if applying.get() { "Applying…" } else { "Apply" }}
                </button>
                <span class="muted" data-test="config-check">
                    {move || {
                        if checking.get() {
                            return "checking…".to_string();
                        }
                        match check.get() {
                            None => String::new(),
                            Some(Ok(r)) => format!("valid: {}", summary(&r, "would ")),
                            Some(Err(e)) if e.problems.is_empty() => String::new(),
                            Some(Err(e)) => format!("{} problem(s)", e.problems.len()),
                        }
                    }}
                </span>
            </div>
            <Show when=move || !problems.get().is_empty()>
                <ul class="problems" data-test="config-problems">
                    {move || {
                        problems
                            .get()
                            .into_iter()
                            .map(|p| {
                                let (line, col) = (p.line.unwrap_or(0), p.col.unwrap_or(1));
                                let place = p.line.map(|l| format!("line {l}{}", p.col.map(|c| format!(":{c}")).unwrap_or_default()));
                                view! {
                                    <li data-test="config-problem" data-line=line.to_string()>
                                        <button class="link" disabled=line == 0 on:click=move |_| jump(line, col)>
                                            {place.unwrap_or_else(|| "—".into())}
                                        </button>
                                        " "
                                        {p.message}
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </Show>
            {move || applied.get().map(|r| match r {
                Ok(r) => view! { <div class="ok-box" data-test="config-applied">{report_view(r)}</div> }.into_any(),
                Err(e) => view! { <div data-test="config-apply-error">{ui::titled_error("Not applied", &e)}</div> }.into_any(),
            })}
        </section>
    }
}

/// "added a, b; changed c" (with `verb` before each: "would " for a dry run).
fn summary(r: &ReloadReport, verb: &str) -> String {
    let mut parts = Vec::new();
    for (what, list) in [
        ("add", &r.added),
        ("change", &r.changed),
        ("remove", &r.removed),
        ("add gold", &r.gold_added),
        ("change gold", &r.gold_changed),
        ("remove gold", &r.gold_removed),
    ] {
        if !list.is_empty() {
            parts.push(format!("{verb}{what} {}", list.join(", ")));
        }
    }
    if !r.needs_restart.is_empty() {
        parts.push(format!("needs a restart for {}", r.needs_restart.join(", ")));
    }
    if parts.is_empty() { "no change".into() } else { parts.join("; ") }
}

fn report_view(r: ReloadReport) -> AnyView {
    let row = |label: &'static str, list: Vec<String>| {
        (!list.is_empty()).then(|| view! { <li><strong>{label}</strong> " " {list.join(", ")}</li> })
    };
    let headline = if r.changed_anything {
        format!("Applied in {}", format::duration_ms(r.applied_ms))
    } else {
        "Nothing changed".to_string()
    };
    view! {
        <strong>{headline}</strong>
        <ul>
            {row("added:", r.added)}
            {row("changed:", r.changed)}
            {row("removed:", r.removed)}
            {row("unchanged:", r.unchanged)}
            {row("gold added:", r.gold_added)}
            {row("gold changed:", r.gold_changed)}
            {row("gold removed:", r.gold_removed)}
            {row("needs restart:", r.needs_restart)}
        </ul>
    }
    .into_any()
}

#[component]
fn ConfigStatusPanel(status: Loaded<ConfigStatus>) -> impl IntoView {
    view! {
        <section class="panel" data-test="config-status">
            <h2>"In effect"</h2>
            {ui::show(status, |s| {
                view! {
                    <p>
                        {s.path.clone().unwrap_or_else(|| "(no file)".into())}
                        " · sha256 "
                        <code title=s.sha256.clone()>{format::short_sha(&s.sha256).to_string()}</code>
                        " · applied "
                        {ui::when(&s.applied_at)}
                        {format!(" · {} reloads, {} refused", s.reloads, s.rejected)}
                    </p>
                    {s.last_change.map(|c| view! { <p class="muted">"last change: " {summary(&c, "")}</p> })}
                    {s.last_error.map(|e| {
                        let source = match e.source {
                            ChangeSource::File => "file",
                            ChangeSource::Api => "API",
                        };
                        view! {
                            <div class="error-box">
                                <div>"Last refused edit (" {source} ", " {ui::when(&e.at)} "):"</div>
                                <ul>{e.problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                            </div>
                        }
                    })}
                }
            })}
        </section>
    }
}
