//! Plugins: what runs in every stage (version, sha, calls, errors, p50/p99 live), the kept
//! versions with Rollback, an upload control for a new version, the last shadow run of a
//! candidate, and the last refusal.

use std::collections::{BTreeMap, BTreeSet};

use finlake_api::{
    DeployReport, PluginSource, PluginVersion, Refusal, RollbackRequest, StagePlugin, StageSnapshot, paths,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::api::{self, ApiError};
use crate::format;
use crate::sse::use_live;
use crate::ui::{self, Loaded};

type Outcomes = RwSignal<BTreeMap<String, Result<DeployReport, ApiError>>>;

/// Page-wide state, so results survive the list reloading after a deploy.
#[derive(Clone, Copy)]
struct Ctx {
    plugins: Loaded<Vec<StagePlugin>>,
    uploads: Outcomes,
    rollbacks: Outcomes,
    busy: RwSignal<BTreeSet<String>>,
    /// Refusals seen on the feed since the page opened, by plugin.
    refusals: RwSignal<BTreeMap<String, Refusal>>,
}

impl Ctx {
    fn reload(self) {
        ui::load(self.plugins, api::get(paths::PLUGINS));
    }
}

/// Stages grouped by plugin name (one plugin may run in several pipelines).
fn by_plugin(list: Vec<StagePlugin>) -> BTreeMap<String, Vec<StagePlugin>> {
    let mut map: BTreeMap<String, Vec<StagePlugin>> = BTreeMap::new();
    for s in list {
        map.entry(s.stage.plugin.clone()).or_default().push(s);
    }
    map
}

#[component]
pub fn Plugins() -> impl IntoView {
    let live = use_live();
    let ctx = Ctx {
        plugins: ui::loaded(),
        uploads: RwSignal::new(BTreeMap::new()),
        rollbacks: RwSignal::new(BTreeMap::new()),
        busy: RwSignal::new(BTreeSet::new()),
        refusals: RwSignal::new(BTreeMap::new()),
    };
    ctx.reload();
    Effect::watch(
        move || live.last_refusal.get(),
        move |r, _, _| {
            if let Some(r) = r.clone() {
                ctx.refusals.update(|m| {
                    m.insert(r.plugin, r.refusal);
                });
            }
        },
        false,
    );
    view! {
        <div class="panel-head">
            <h1>"Plugins"</h1>
            <button class="ghost" on:click=move |_| ctx.reload()>"Refresh"</button>
        </div>
        {ui::show(ctx.plugins, move |list| {
            if list.is_empty() {
                return view! { <p class="muted">"No plugin stages."</p> }.into_any();
            }
            by_plugin(list)
                .into_iter()
                .map(|(name, stages)| view! { <PluginCard name=name stages=stages ctx=ctx /> })
                .collect_view()
                .into_any()
        })}
    }
}

#[component]
fn PluginCard(name: String, stages: Vec<StagePlugin>, ctx: Ctx) -> impl IntoView {
    let live = use_live();
    let active = stages.iter().find_map(|s| s.active.clone());
    // Every kept version, once, newest first (stages of one plugin share them).
    let mut versions: Vec<PluginVersion> = Vec::new();
    for v in stages.iter().flat_map(|s| s.versions.iter()) {
        if !versions.iter().any(|k| k.sha256 == v.sha256) {
            versions.push(v.clone());
        }
    }
    versions.sort_by(|a, b| b.live_since.cmp(&a.live_since));
    let listed_refusal = stages.iter().filter_map(|s| s.last_refusal.clone()).max_by(|a, b| a.at.cmp(&b.at));
    let shadow = stages.iter().find_map(|s| s.last_shadow.clone());
    let key = name.clone();
    let refusal = move || {
        let live_one = ctx.refusals.with(|m| m.get(&key).cloned());
        [listed_refusal.clone(), live_one].into_iter().flatten().max_by(|a, b| a.at.cmp(&b.at))
    };
    let snapshots: Vec<StageSnapshot> = stages.into_iter().map(|s| s.stage).collect();
    let stage_rows = move || {
        let current = live.stages.get();
        snapshots
            .iter()
            .map(|s| {
                // The feed's numbers when it has them, else the listing's.
                let s = current.iter().find(|c| c.pipeline == s.pipeline && c.stage == s.stage).unwrap_or(s).clone();
                let ms = |v: Option<f64>| v.map_or("–".into(), format::duration_ms);
                view! {
                    <tr data-test="plugin-stage">
                        <td>{format!("{} / {}", s.pipeline, s.stage)}</td>
                        <td>{s.version.clone()}</td>
                        <td><code title=s.sha256.clone()>{format::short_sha(&s.sha256).to_string()}</code></td>
                        <td>{ui::ago(s.loaded_at.clone())}</td>
                        <td class="num">{format::compact(s.calls as f64)}</td>
                        <td class="num">{format::compact(s.errors as f64)}</td>
                        <td class="num">{ms(s.p50_ms)}</td>
                        <td class="num">{ms(s.p99_ms)}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    let version_rows = versions
        .into_iter()
        .map(|v| {
            let is_active = active.as_deref() == Some(v.sha256.as_str());
            let (plugin, sha) = (name.clone(), v.sha256.clone());
            let busy_key = name.clone();
            view! {
                <tr data-test="plugin-version" data-sha=v.sha256.clone()>
                    <td>{v.version.clone()}</td>
                    <td><code title=v.sha256.clone()>{format::short_sha(&v.sha256).to_string()}</code></td>
                    <td class="num">{format::bytes(v.size)}</td>
                    <td>{source_name(v.source)}</td>
                    <td>{ui::when(&v.live_since)}</td>
                    <td>
                        {if is_active {
                            view! { <span class="badge ok">"live"</span> }.into_any()
                        } else {
                            view! {
                                <button
                                    class="small"
                                    data-test="plugin-rollback"
                                    data-sha=sha.clone()
                                    disabled=move || ctx.busy.with(|b| b.contains(&busy_key))
                                    on:click=move |_| rollback(ctx, plugin.clone(), sha.clone())
                                >
                                    "Roll back to this"
                                </button>
                            }
                                .into_any()
                        }}
                    </td>
                </tr>
            }
        })
        .collect_view();
    let (k1, k2, k3) = (name.clone(), name.clone(), name.clone());
    view! {
        <article class="card wide" data-test="plugin-card" data-plugin=name.clone()>
            <header class="card-head">
                <h2>{name.clone()}</h2>
            </header>
            <div class="table-wrap">
                <table class="compact">
                    <thead>
                        <tr>
                            <th>"pipeline / stage"</th>
                            <th>"version"</th>
                            <th>"sha256"</th>
                            <th>"loaded"</th>
                            <th class="num">"calls"</th>
                            <th class="num">"errors"</th>
                            <th class="num">"p50"</th>
                            <th class="num">"p99"</th>
                        </tr>
                    </thead>
                    <tbody>{stage_rows}</tbody>
                </table>
            </div>
            <h3>"Kept versions"</h3>
            <div class="table-wrap">
                <table class="compact">
                    <tbody>{version_rows}</tbody>
                </table>
            </div>
            {move || ctx.rollbacks.with(|m| m.get(&k1).cloned()).map(|r| match r {
                Ok(report) => view! { <div class="ok-box" data-test="plugin-rollback-result">{report_view(report)}</div> }.into_any(),
                Err(e) => view! { <div data-test="plugin-rollback-error">{ui::titled_error("Rollback refused", &e)}</div> }.into_any(),
            })}
            <div class="toolbar">
                <label class="upload">
                    "Deploy a new version (.wasm component): "
                    <input
                        type="file"
                        accept=".wasm,application/wasm"
                        data-test="plugin-upload-input"
                        data-plugin=name.clone()
                        disabled=move || ctx.busy.with(|b| b.contains(&k2))
                        on:change={
                            let name = name.clone();
                            move |ev| upload(ctx, name.clone(), &ev)
                        }
                    />
                </label>
                <Show when=move || ctx.busy.with(|b| b.contains(&k3))>
                    <span class="muted">"working…"</span>
                </Show>
            </div>
            {
                let k = name.clone();
                move || ctx.uploads.with(|m| m.get(&k).cloned()).map(|r| match r {
                    Ok(report) => view! { <div class="ok-box" data-test="plugin-upload-result">{report_view(report)}</div> }.into_any(),
                    Err(e) => view! { <div data-test="plugin-upload-error">{ui::titled_error("Upload refused", &e)}</div> }.into_any(),
                })
            }
            {shadow.map(super::shadow::report_view)}
            {move || refusal().map(|r| view! {
                <div class="refusal" data-test="plugin-last-refusal">
                    <strong>"Last refused version "</strong>
                    <code>{format::short_sha(&r.sha256).to_string()}</code>
                    {format!(" ({}, ", source_name(r.source))}
                    {ui::when(&r.at)}
                    "): "
                    <span class="error-text">{r.error.clone()}</span>
                </div>
            })}
        </article>
    }
}

fn source_name(s: PluginSource) -> &'static str {
    match s {
        PluginSource::File => "file",
        PluginSource::Upload => "upload",
        PluginSource::Rollback => "rollback",
    }
}

fn upload(ctx: Ctx, plugin: String, ev: &leptos::ev::Event) {
    let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
    let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
    ctx.busy.update(|b| {
        b.insert(plugin.clone());
    });
    spawn_local(async move {
        let r = api::put_wasm::<DeployReport>(&paths::plugin(&plugin), &file).await;
        // Clear the picker so the same file can be sent again.
        input.set_value("");
        finish(ctx, ctx.uploads, plugin, r);
    });
}

fn rollback(ctx: Ctx, plugin: String, sha: String) {
    ctx.busy.update(|b| {
        b.insert(plugin.clone());
    });
    spawn_local(async move {
        let body = RollbackRequest { to: Some(sha) };
        let r = api::post::<_, DeployReport>(&paths::plugin_rollback(&plugin), &body).await;
        finish(ctx, ctx.rollbacks, plugin, r);
    });
}

fn finish(ctx: Ctx, into: Outcomes, plugin: String, r: Result<DeployReport, ApiError>) {
    let ok = r.is_ok();
    ctx.busy.try_update(|b| b.remove(&plugin));
    into.try_update(|m| m.insert(plugin, r));
    if ok {
        ctx.reload();
    }
}

/// What a deploy or rollback did: the version, its cost, and each pipeline's swap.
fn report_view(r: DeployReport) -> AnyView {
    let headline = if r.changed {
        format!("{} {} ({}) is live", r.plugin, r.version, format::short_sha(&r.sha256))
    } else {
        format!("{} {} ({}) was already live: nothing swapped", r.plugin, r.version, format::short_sha(&r.sha256))
    };
    let compile = if r.cache_hit {
        "compiled: cache hit".to_string()
    } else {
        format!("compiled in {}", format::duration_ms(r.compile_ms))
    };
    let swaps = r
        .swaps
        .into_iter()
        .map(|s| {
            view! {
                <li data-test="plugin-swap">
                    {format!(
                        "{} / {}: {} → {}, paused {}, {} rows flushed first",
                        s.pipeline,
                        s.stage,
                        s.previous_version,
                        s.version,
                        format::duration_ms(s.pause_ms),
                        format::grouped(s.flushed_rows),
                    )}
                </li>
            }
        })
        .collect_view();
    let not_swapped = r
        .not_swapped
        .into_iter()
        .map(|s| view! { <li class="muted">{format!("not swapped: {s}")}</li> })
        .collect_view();
    view! {
        <div>
            <strong>{headline}</strong>
            <div class="muted">{format!("{compile} · tried on {} live records", format::grouped(r.sample_records))}</div>
            <ul>{swaps}{not_swapped}</ul>
        </div>
    }
    .into_any()
}
