//! Overview: every pipeline's state, throughput (live from the feed), tables, stage timings
//! and graph, and the latest commits.

use finlake_api::{PipelineGraph, PipelineSnapshot, PipelineState, ResumeReport, paths};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::charts::{PipelineGraphView, Sparkline};
use crate::format;
use crate::sse::use_live;
use crate::ui::{self, Loaded};

#[component]
pub fn Overview() -> impl IntoView {
    let live = use_live();
    let graphs: Loaded<Vec<PipelineGraph>> = ui::loaded();
    ui::load(graphs, api::get(paths::GRAPH));
    let names = Memo::new(move |_| live.pipelines.with(|ps| ps.iter().map(|p| p.name.clone()).collect::<Vec<_>>()));
    view! {
        <h1>"Overview"</h1>
        <Show
            when=move || !names.get().is_empty()
            fallback=|| view! { <p class="muted">"No pipelines reported yet."</p> }
        >
            <div class="cards">
                <For
                    each=move || names.get()
                    key=|name| name.clone()
                    children=move |name| view! { <PipelineCard name=name graphs=graphs /> }
                />
            </div>
        </Show>
        <RecentCommits />
    }
}

#[component]
fn PipelineCard(name: String, graphs: Loaded<Vec<PipelineGraph>>) -> impl IntoView {
    let live = use_live();
    let key = name.clone();
    let p = Memo::new(move |_| live.pipelines.with(|ps| ps.iter().find(|p| p.name == key).cloned()));
    let key = name.clone();
    let rates = Memo::new(move |_| live.rates.with(|r| r.get(&key).cloned().unwrap_or_default()));
    let stat = move |f: fn(&PipelineSnapshot) -> String| move || p.with(|p| p.as_ref().map(f).unwrap_or_default());
    let key = name.clone();
    let graph = move || {
        graphs.with(|g| match g {
            Some(Ok(all)) => {
                all.iter().find(|g| g.name == key).cloned().map(|g| view! { <PipelineGraphView graph=g /> }.into_any())
            }
            Some(Err(e)) => Some(ui::titled_error("No graph", e)),
            None => None,
        })
    };
    view! {
        <article class="card" data-test="pipeline-card" data-pipeline=name.clone()>
            <header class="card-head">
                <h2>{name.clone()}</h2>
                {move || p.get().map(|p| ui::state_badge(p.state))}
            </header>
            <StateDetail name=name.clone() p=p />
            <div class="stats">
                <div class="stat">
                    <span class="label">"in"</span>
                    <span class="value">{move || format::rate(rates.with(|r| r.in_now()))}</span>
                    <Sparkline values=Signal::derive(move || rates.with(|r| r.records_in.iter().copied().collect())) />
                    <span class="sub" data-test="records-in">
                        {stat(|p| format::grouped(p.records_in))}
                    </span>
                </div>
                <div class="stat">
                    <span class="label">"out"</span>
                    <span class="value">{move || format::rate(rates.with(|r| r.out_now()))}</span>
                    <Sparkline values=Signal::derive(move || rates.with(|r| r.rows_out.iter().copied().collect())) />
                    <span class="sub" data-test="rows-out">
                        {stat(|p| format::grouped(p.rows_out))}
                    </span>
                </div>
                <div class="stat">
                    <span class="label">"lag"</span>
                    <span class="value" data-test="lag">
                        {stat(|p| p.lag.map_or("–".into(), |l| format::compact(l as f64)))}
                    </span>
                </div>
                <div class="stat">
                    <span class="label">"partitions"</span>
                    <span class="value" data-test="partitions">{stat(|p| format::partitions(p.partitions.as_deref()))}</span>
                    <span class="sub" data-test="host">{stat(|p| p.host.clone())}</span>
                    <span class="sub" data-test="group" title="every host of the consumer group and its partitions">
                        {stat(|p| p.group.as_deref().map(format::group).unwrap_or_default())}
                    </span>
                </div>
                <div class="stat">
                    <span class="label">"errors"</span>
                    <span class="value" data-test="errors">{stat(|p| format::compact(p.errors as f64))}</span>
                </div>
                <div class="stat">
                    <span class="label">"dead letters"</span>
                    <span class="value" data-test="dead-letters">
                        {stat(|p| format::compact(p.dead_letters as f64))}
                    </span>
                </div>
                <div class="stat">
                    <span class="label">"duplicates"</span>
                    <span class="value">{stat(|p| format::compact(p.duplicates as f64))}</span>
                </div>
            </div>
            <TablesList p=p />
            <StageTimings name=name.clone() />
            {graph}
        </article>
    }
}

/// Why a pipeline is paused or restarting, its last error, and Resume when paused.
#[component]
fn StateDetail(name: String, p: Memo<Option<PipelineSnapshot>>) -> impl IntoView {
    let result: RwSignal<Option<Result<ResumeReport, ApiError>>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let resume = move |_| {
        let name = name.clone();
        busy.set(true);
        spawn_local(async move {
            let r = api::post::<_, ResumeReport>(&paths::resume(&name), &serde_json::json!({})).await;
            busy.try_set(false);
            result.try_set(Some(r));
        });
    };
    let paused = move || p.with(|p| p.as_ref().is_some_and(|p| p.state == PipelineState::Paused));
    view! {
        {move || {
            p.get()
                .and_then(|p| {
                    let show = matches!(p.state, PipelineState::Paused | PipelineState::Restarting);
                    p.detail.filter(|_| show).map(|d| view! { <p class="detail">{d}</p> })
                })
        }}
        {move || p.get().and_then(|p| p.last_error).map(|e| view! { <p class="last-error">"last error: " {e}</p> })}
        <Show when=paused>
            <button data-test="pipeline-resume" disabled=move || busy.get() on:click=resume.clone()>
                "Resume"
            </button>
        </Show>
        {move || {
            result
                .get()
                .map(|r| match r {
                    Ok(r) => view! { <p class="ok-box">{r.message}</p> }.into_any(),
                    Err(e) => ui::titled_error("Resume failed", &e),
                })
        }}
    }
}

/// The last Delta commit of each table the pipeline writes.
#[component]
fn TablesList(p: Memo<Option<PipelineSnapshot>>) -> impl IntoView {
    let rows = move || {
        p.get().map(|p| {
            p.tables
                .into_iter()
                .map(|(table, s)| {
                    view! {
                        <tr>
                            <td>{table}</td>
                            <td class="num">{s.last_version.map_or("–".into(), |v| format!("v{v}"))}</td>
                            <td class="num">{format::compact(s.rows_written as f64)}</td>
                            <td>{s.last_commit_at.map(|t| ui::ago(t).into_any())}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <div class="table-wrap">
            <table class="compact">
                <thead>
                    <tr>
                        <th>"table"</th>
                        <th class="num">"version"</th>
                        <th class="num">"rows"</th>
                        <th>"last commit"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// Each plugin stage's time per batch (live from the `plugins` event).
#[component]
fn StageTimings(name: String) -> impl IntoView {
    let live = use_live();
    let stages =
        Memo::new(move |_| live.stages.with(|s| s.iter().filter(|s| s.pipeline == name).cloned().collect::<Vec<_>>()));
    let ms = |v: Option<f64>| v.map_or("–".into(), format::duration_ms);
    view! {
        <div class="table-wrap">
            <table class="compact">
                <thead>
                    <tr>
                        <th>"stage"</th>
                        <th>"plugin"</th>
                        <th class="num">"calls"</th>
                        <th class="num">"errors"</th>
                        <th class="num">"p50"</th>
                        <th class="num">"p99"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        stages
                            .get()
                            .into_iter()
                            .map(|s| {
                                view! {
                                    <tr data-test="stage-row" data-stage=s.stage.clone()>
                                        <td>{s.stage.clone()}</td>
                                        <td>{format!("{} {}", s.plugin, s.version)}</td>
                                        <td class="num">{format::compact(s.calls as f64)}</td>
                                        <td class="num">{format::compact(s.errors as f64)}</td>
                                        <td class="num">{ms(s.p50_ms)}</td>
                                        <td class="num">{ms(s.p99_ms)}</td>
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn RecentCommits() -> impl IntoView {
    let live = use_live();
    view! {
        <section class="panel">
            <h2>"Recent commits"</h2>
            <ul class="commits" data-test="recent-commits">
                {move || {
                    let commits = live.commits.get();
                    if commits.is_empty() {
                        return view! { <li class="muted">"None since this page opened."</li> }.into_any();
                    }
                    commits
                        .into_iter()
                        .map(|c| {
                            view! {
                                <li data-test="commit">
                                    <span class="muted">{ui::ago_ms(c.at_ms)}</span>
                                    " "
                                    <strong>{c.table}</strong>
                                    {format!(" v{} · {} rows · {}", c.version, format::grouped(c.rows), c.pipeline)}
                                </li>
                            }
                        })
                        .collect_view()
                        .into_any()
                }}
            </ul>
        </section>
    }
}
