//! Lake: every table (layer, schema, version, files, rows, size), the history of the selected
//! one, and the SQL editor.

use std::collections::BTreeSet;

use finlake_api::{Column, Commit, TableInfo, paths};
use leptos::prelude::*;

use super::sql::{SqlEditor, SqlState};
use crate::api;
use crate::format;
use crate::ui::{self, Loaded};

const HISTORY: usize = 20;

#[component]
pub fn Lake() -> impl IntoView {
    let tables: Loaded<Vec<TableInfo>> = ui::loaded();
    let selected = RwSignal::new(None::<String>);
    let expanded = RwSignal::new(BTreeSet::<String>::new());
    let history: Loaded<Vec<Commit>> = ui::loaded();
    let sql = SqlState::new();
    let reload = move || ui::load(tables, api::get(paths::TABLES));
    reload();
    Effect::new(move |_| {
        if let Some(name) = selected.get() {
            history.set(None);
            ui::load(history, async move { api::get(&paths::table_history(&name, HISTORY)).await });
        }
    });

    let table_rows = move |list: Vec<TableInfo>| {
        if list.is_empty() {
            return view! { <p class="muted">"No tables."</p> }.into_any();
        }
        let rows = list
            .into_iter()
            .map(|t| {
                let (name, name3, name4) = (t.name.clone(), t.name.clone(), t.name.clone());
                let name2 = t.name.clone();
                let open = Signal::derive(move || expanded.with(|e| e.contains(&name2)));
                let (columns, partition_by) = (t.columns.clone(), t.partition_by.clone());
                let ncols = t.columns.len();
                view! {
                    <tr
                        data-test="lake-table"
                        data-table=t.name.clone()
                        class:selected=move || selected.get().as_deref() == Some(name3.as_str())
                    >
                        <td>
                            <button class="link" on:click=move |_| selected.set(Some(name.clone()))>
                                {t.name.clone()}
                            </button>
                        </td>
                        <td>{t.layer.clone()}</td>
                        <td>{t.pipeline.clone().unwrap_or_default()}</td>
                        <td class="num">{t.version.map_or("–".into(), |v| format!("v{v}"))}</td>
                        <td class="num">{format::grouped(t.files)}</td>
                        <td class="num">{format::grouped(t.rows)}</td>
                        <td class="num">{format::bytes(t.bytes)}</td>
                        <td>
                            <button
                                class="ghost small"
                                data-test="schema-toggle"
                                on:click=move |_| {
                                    expanded
                                        .update(|e| {
                                            if !e.remove(&name4) {
                                                e.insert(name4.clone());
                                            }
                                        })
                                }
                            >
                                {move || if open.get() { "hide" } else { "schema" }}
                                {format!(" ({ncols})")}
                            </button>
                            <Show when=move || open.get()>
                                {schema_list(&columns, &partition_by)}
                            </Show>
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-wrap">
                <table>
                    <thead>
                        <tr>
                            <th>"table"</th>
                            <th>"layer"</th>
                            <th>"pipeline"</th>
                            <th class="num">"version"</th>
                            <th class="num">"files"</th>
                            <th class="num">"rows"</th>
                            <th class="num">"size"</th>
                            <th>"schema"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };

    view! {
        <h1>"Lake"</h1>
        <section class="panel">
            <div class="panel-head">
                <h2>"Tables"</h2>
                <button class="ghost" on:click=move |_| reload()>"Refresh"</button>
            </div>
            {ui::show(tables, table_rows)}
        </section>
        <Show when=move || selected.get().is_some()>
            <section class="panel" data-test="table-history">
                <div class="panel-head">
                    <h2>{move || format!("History of {}", selected.get().unwrap_or_default())}</h2>
                    <button class="ghost" on:click=move |_| selected.set(None)>"Close"</button>
                </div>
                {ui::show(history, move |commits| history_table(commits, selected.get_untracked().unwrap_or_default(), sql))}
            </section>
        </Show>
        <SqlEditor state=sql />
    }
}

fn schema_list(columns: &[Column], partition_by: &[String]) -> AnyView {
    let items = columns
        .iter()
        .map(|c| {
            view! {
                <li>
                    <code>{c.name.clone()}</code>
                    " "
                    <span class="muted">{c.kind.clone()}</span>
                    {(!c.nullable).then_some(" not null ")}
                    {partition_by.contains(&c.name).then(|| view! { <span class="badge info">"partition"</span> })}
                </li>
            }
        })
        .collect_view();
    view! { <ul class="schema">{items}</ul> }.into_any()
}

fn history_table(commits: Vec<Commit>, table: String, sql: SqlState) -> AnyView {
    if commits.is_empty() {
        return view! { <p class="muted">"No commits yet."</p> }.into_any();
    }
    let rows = commits
        .into_iter()
        .map(|c| {
            let plugins = c
                .plugins
                .iter()
                .map(|p| format!("{}: {} {} ({})", p.stage, p.plugin, p.version, format::short_sha(&p.sha256)))
                .collect::<Vec<_>>()
                .join(", ");
            let table = table.clone();
            let version = c.version;
            view! {
                <tr data-test="history-row">
                    <td class="num">{format!("v{}", c.version)}</td>
                    <td>{c.timestamp_ms.map(ui::when_ms).unwrap_or_default()}</td>
                    <td>{c.operation.unwrap_or_default()}</td>
                    <td>{c.pipeline.unwrap_or_default()}</td>
                    <td class="wrap">{plugins}</td>
                    <td>
                        <button
                            class="ghost small"
                            title="Query this table as it was at this version"
                            on:click=move |_| sql.time_travel_to(&table, version)
                        >
                            "query"
                        </button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="compact">
                <thead>
                    <tr>
                        <th class="num">"version"</th>
                        <th>"time"</th>
                        <th>"operation"</th>
                        <th>"pipeline"</th>
                        <th>"plugin versions"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
