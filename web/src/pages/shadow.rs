//! The last shadow run of a plugin (what a candidate version would change), on its card of the
//! Plugins page: per pipeline and table the rows that differ, with examples, new rejections and
//! traps, and the time per record of both versions.

use finlake_api::{ShadowPipeline, ShadowReport};
use leptos::prelude::*;

use crate::format;
use crate::ui;

fn json(v: &Option<serde_json::Value>) -> String {
    v.as_ref().map_or_else(|| "–".into(), |v| v.to_string())
}

fn pipeline_view(p: ShadowPipeline) -> impl IntoView {
    let outputs = p
        .outputs
        .into_iter()
        .map(|o| {
            let differs = o.changed + o.only_live + o.only_candidate > 0;
            let examples = o
                .examples
                .into_iter()
                .map(|e| {
                    view! {
                        <li data-test="shadow-example" data-kind=e.kind.clone()>
                            <strong>{e.kind.replace('_', " ")}</strong>
                            {format!(" {}", e.key)}
                            {(!e.fields.is_empty()).then(|| format!(" [{}]", e.fields.join(", ")))}
                            <div class="muted"><code>{format!("live: {}", json(&e.live))}</code></div>
                            <div class="muted"><code>{format!("candidate: {}", json(&e.candidate))}</code></div>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <tr data-test="shadow-output" data-table=o.table.clone() class:differs=differs>
                    <td>{o.table.clone()}</td>
                    <td class="num">{format::grouped(o.live_rows)}</td>
                    <td class="num">{format::grouped(o.candidate_rows)}</td>
                    <td class="num">{format::grouped(o.same)}</td>
                    <td class="num" data-test="shadow-changed">{format::grouped(o.changed)}</td>
                    <td class="num">{format::grouped(o.only_live)}</td>
                    <td class="num">{format::grouped(o.only_candidate)}</td>
                    <td class="muted">{o.matched_by.clone()}</td>
                </tr>
                <tr class="examples"><td colspan="8"><ul>{examples}</ul></td></tr>
            }
        })
        .collect_view();
    let failures = p
        .trap_examples
        .into_iter()
        .chain(p.rejection_examples)
        .map(|f| {
            view! {
                <li data-test="shadow-failure">
                    {format!("partition {} offset {} ({}): {}: ", f.partition, f.offset, f.stage, f.kind)}
                    <span class="error-text">{f.reason}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <div data-test="shadow-pipeline">
            <div class="muted">
                {format!(
                    "{}: {} records from {}@v{} · live {:.0} ns/record, candidate {:.0} ns/record · {} new rejections, {} new traps",
                    p.pipeline,
                    format::grouped(p.records),
                    p.source_table,
                    p.source_version,
                    p.live_ns_per_record,
                    p.candidate_ns_per_record,
                    p.new_rejections,
                    p.new_traps,
                )}
            </div>
            <div class="table-wrap">
                <table class="compact">
                    <thead>
                        <tr>
                            <th>"table"</th>
                            <th class="num">"live rows"</th>
                            <th class="num">"candidate rows"</th>
                            <th class="num">"same"</th>
                            <th class="num">"changed"</th>
                            <th class="num">"only live"</th>
                            <th class="num">"only candidate"</th>
                            <th>"matched by"</th>
                        </tr>
                    </thead>
                    <tbody>{outputs}</tbody>
                </table>
            </div>
            <ul>{failures}</ul>
        </div>
    }
}

/// The report, under its headline.
pub fn report_view(r: ShadowReport) -> AnyView {
    let same = r.differences == 0 && r.new_traps == 0 && r.new_rejections == 0;
    let headline = format!(
        "Shadow run: candidate {} ({}) beside live {} ({}): {} rows differ, {} new traps, {} new rejections",
        r.candidate.version,
        format::short_sha(&r.candidate.sha256),
        r.live.version,
        format::short_sha(&r.live.sha256),
        r.differences,
        r.new_traps,
        r.new_rejections
    );
    let pipelines = r.pipelines.into_iter().map(pipeline_view).collect_view();
    view! {
        <div class=if same { "ok-box" } else { "refusal" } data-test="plugin-shadow" data-differences=r.differences.to_string()>
            <strong>{headline}</strong>
            <div class="muted">{format!("{} · {} ms", ui::when_ms(r.finished_at_ms), r.millis)}</div>
            {pipelines}
        </div>
    }
    .into_any()
}
