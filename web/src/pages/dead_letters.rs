//! Dead letters: browse the records that failed (filters by pipeline, stage, reason text and
//! age), inspect one (its raw value, pretty when JSON, and key), and replay what the filter
//! selects back through the plugins.

use finlake_api::{DeadLetter, DeadLetterQuery, Replayed, paths};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::format;
use crate::requests;
use crate::sse::use_live;
use crate::ui::{self, Loaded};

#[derive(Clone, Copy)]
struct Filter {
    pipeline: RwSignal<String>,
    stage: RwSignal<String>,
    reason: RwSignal<String>,
    since: RwSignal<String>,
    limit: RwSignal<String>,
    all: RwSignal<bool>,
}

impl Filter {
    fn query(&self) -> Result<DeadLetterQuery, String> {
        requests::dead_letter_filter(
            &self.pipeline.get_untracked(),
            &self.stage.get_untracked(),
            &self.reason.get_untracked(),
            &self.since.get_untracked(),
            &self.limit.get_untracked(),
            self.all.get_untracked(),
        )
    }
}

fn text_input(
    label: &'static str,
    value: RwSignal<String>,
    placeholder: &'static str,
    test: &'static str,
) -> impl IntoView {
    view! {
        <label>
            {label}
            " "
            <input
                placeholder=placeholder
                data-test=test
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        </label>
    }
}

#[component]
pub fn DeadLetters() -> impl IntoView {
    let live = use_live();
    let f = Filter {
        pipeline: RwSignal::new(String::new()),
        stage: RwSignal::new(String::new()),
        reason: RwSignal::new(String::new()),
        since: RwSignal::new(String::new()),
        limit: RwSignal::new(String::new()),
        all: RwSignal::new(false),
    };
    let letters: Loaded<Vec<DeadLetter>> = ui::loaded();
    let selected = RwSignal::new(None::<DeadLetter>);
    let filter_error = RwSignal::new(None::<String>);
    let replayed: RwSignal<Option<Result<Vec<Replayed>, ApiError>>> = RwSignal::new(None);
    let replaying = RwSignal::new(false);

    let search = move || match f.query() {
        Ok(q) => {
            filter_error.set(None);
            selected.set(None);
            ui::load(letters, async move { api::get(&requests::dead_letters_path(&q)).await });
        }
        Err(e) => filter_error.set(Some(e)),
    };
    search();
    let replay = move |_| match f.query() {
        Ok(q) => {
            filter_error.set(None);
            replaying.set(true);
            spawn_local(async move {
                let r = api::post::<_, Vec<Replayed>>(paths::DEAD_LETTERS_REPLAY, &requests::replay_filter(&q)).await;
                replaying.try_set(false);
                let ok = r.is_ok();
                replayed.try_set(Some(r));
                if ok {
                    search();
                }
            });
        }
        Err(e) => filter_error.set(Some(e)),
    };
    let pipelines = Memo::new(move |_| live.pipelines.with(|ps| ps.iter().map(|p| p.name.clone()).collect::<Vec<_>>()));

    view! {
        <h1>"Dead letters"</h1>
        <section class="panel">
            <form
                class="toolbar filters"
                on:submit=move |ev| {
                    ev.prevent_default();
                    search();
                }
            >
                <label>
                    "pipeline "
                    <select
                        data-test="dlq-filter-pipeline"
                        prop:value=move || f.pipeline.get()
                        on:change=move |ev| f.pipeline.set(event_target_value(&ev))
                    >
                        <option value="">"all"</option>
                        {move || {
                            pipelines.get().into_iter().map(|p| view! { <option value=p.clone()>{p.clone()}</option> }).collect_view()
                        }}
                    </select>
                </label>
                {text_input("stage", f.stage, "any", "dlq-filter-stage")}
                {text_input("reason contains", f.reason, "text", "dlq-filter-reason")}
                {text_input("since", f.since, "30m, 2h or a time", "dlq-filter-since")}
                <label>
                    "limit "
                    <input
                        class="narrow"
                        inputmode="numeric"
                        placeholder="default"
                        data-test="dlq-filter-limit"
                        prop:value=move || f.limit.get()
                        on:input=move |ev| f.limit.set(event_target_value(&ev))
                    />
                </label>
                <label title="Include replayed letters and replay markers">
                    <input type="checkbox" data-test="dlq-filter-all" prop:checked=move || f.all.get() on:change=move |ev| f.all.set(event_target_checked(&ev)) />
                    " replayed too"
                </label>
                <button type="submit" data-test="dlq-refresh">"Search"</button>
                <button
                    type="button"
                    class="danger"
                    data-test="dlq-replay"
                    disabled=move || replaying.get()
                    on:click=replay
                    title="Send the pending letters the pipeline, stage and since filters select back through the plugins"
                >
                    {move || if replaying.get() { "Replaying…" } else { "Replay" }}
                </button>
            </form>
            <p class="muted">"Replay takes the pipeline, stage, since and limit filters; the reason filter narrows the list only."</p>
            {move || filter_error.get().map(|e| view! { <div class="error-box">{e}</div> })}
            {move || replayed.get().map(|r| match r {
                Ok(list) => view! { <div class="ok-box" data-test="dlq-replayed">{replayed_view(list)}</div> }.into_any(),
                Err(e) => view! { <div data-test="dlq-replay-error">{ui::titled_error("Replay failed", &e)}</div> }.into_any(),
            })}
        </section>
        <div class="split">
            <section class="panel">{ui::show(letters, move |list| letters_table(list, selected))}</section>
            {move || selected.get().map(inspector)}
        </div>
    }
}

fn letters_table(list: Vec<DeadLetter>, selected: RwSignal<Option<DeadLetter>>) -> AnyView {
    if list.is_empty() {
        return view! { <p class="muted" data-test="dlq-empty">"No dead letters match."</p> }.into_any();
    }
    let count = list.len();
    let rows = list
        .into_iter()
        .map(|d| {
            let key = (d.topic.clone(), d.partition, d.offset, d.stage.clone(), d.failed_at_ms);
            let is_selected = move || {
                selected.with(|s| {
                    s.as_ref().is_some_and(|s| {
                        (s.topic.clone(), s.partition, s.offset, s.stage.clone(), s.failed_at_ms) == key
                    })
                })
            };
            let reason: String = d.reason.chars().take(140).collect();
            let letter = d.clone();
            view! {
                <tr data-test="dlq-row" class:selected=is_selected on:click=move |_| selected.set(Some(letter.clone()))>
                    <td>{ui::when_ms(d.failed_at_ms)}</td>
                    <td>{d.pipeline.clone()}</td>
                    <td>{d.stage.clone()}</td>
                    <td><span class="badge warn">{d.error_kind.clone()}</span></td>
                    <td>{d.key.clone().unwrap_or_default()}</td>
                    <td class="wrap">{reason}</td>
                    <td>{format!("{}/{}@{}", d.topic, d.partition, d.offset)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted">{format!("{} · click one to inspect it", format::count(count as u64, "letter", "letters"))}</p>
        <div class="table-wrap">
            <table class="compact clickable">
                <thead>
                    <tr>
                        <th>"failed"</th>
                        <th>"pipeline"</th>
                        <th>"stage"</th>
                        <th>"kind"</th>
                        <th>"key"</th>
                        <th>"reason"</th>
                        <th>"topic/partition@offset"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

fn inspector(d: DeadLetter) -> AnyView {
    let value = requests::pretty_value(&d.value);
    let encoding = if d.value_is_utf8 { "UTF-8" } else { "not UTF-8 (invalid bytes replaced)" };
    view! {
        <section class="panel inspector" data-test="dlq-inspector">
            <h2>"Dead letter"</h2>
            <dl>
                <dt>"pipeline / stage"</dt>
                <dd>{format!("{} / {}", d.pipeline, d.stage)}</dd>
                <dt>"plugin"</dt>
                <dd>{format!("{} {}", d.plugin, d.plugin_version)}</dd>
                <dt>"kind"</dt>
                <dd>{d.error_kind.clone()}</dd>
                <dt>"reason"</dt>
                <dd class="wrap">{d.reason.clone()}</dd>
                <dt>"target table"</dt>
                <dd>{d.target_table.clone().unwrap_or_else(|| "–".into())}</dd>
                <dt>"source"</dt>
                <dd>{format!("{} partition {} offset {}", d.topic, d.partition, d.offset)}</dd>
                <dt>"Kafka time"</dt>
                <dd>{d.kafka_timestamp_ms.map(ui::when_ms).unwrap_or_else(|| "–".into())}</dd>
                <dt>"failed at"</dt>
                <dd>{ui::when_ms(d.failed_at_ms)}</dd>
                <dt>"key"</dt>
                <dd><code data-test="dlq-key">{d.key.clone().unwrap_or_else(|| "(none)".into())}</code></dd>
            </dl>
            <h3>{format!("value · {} · {encoding}", format::bytes(d.value_bytes))}</h3>
            <pre class="value" data-test="dlq-value">{value}</pre>
        </section>
    }
    .into_any()
}

fn replayed_view(list: Vec<Replayed>) -> AnyView {
    if list.is_empty() {
        return view! { <span>"Nothing to replay."</span> }.into_any();
    }
    list.into_iter()
        .map(|r| {
            let skipped =
                (!r.skipped.is_empty()).then(|| format!("; left pending (stage gone): {}", r.skipped.join(", ")));
            view! {
                <div>
                    <strong>{r.pipeline.clone()}</strong>
                    {if r.replay == 0 {
                        " had nothing to replay".to_string()
                    } else {
                        format!(
                            ": replay #{} sent {} back; {} succeeded, {} failed again, {} written",
                            r.replay,
                            format::count(r.replayed, "letter", "letters"),
                            r.succeeded,
                            r.failed_again,
                            format::count(r.rows_written, "row", "rows")
                        )
                    }}
                    {skipped}
                </div>
            }
        })
        .collect_view()
        .into_any()
}
