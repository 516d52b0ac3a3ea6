//! Fraud: the latest alerts (refreshed on `alert` events), the score distribution, the hourly
//! alert rate and the model in use with its evaluation.

use std::time::Duration;

use finlake_api::{FraudModel, paths};
use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::charts::layout::histogram_bins;
use crate::charts::{Histogram, LineChart, Series};
use crate::format;
use crate::rows::{self, Row};
use crate::sse::use_live;
use crate::ui::{self, Loaded};

const ALERTS_SQL: &str = "SELECT txn_id, account, amount, amount_usd, merchant_category, country, score, reasons, \
                          model_version, event_time FROM fraud_alerts ORDER BY event_time DESC LIMIT 50";
const BINS: usize = 20;
const HISTOGRAM_SQL: &str = "SELECT floor(score * 20) AS bin, count(*) AS n FROM transactions_scored \
                             GROUP BY floor(score * 20) ORDER BY bin";
const RATE_SQL: &str = "SELECT window_start, transactions, alerts, alert_rate, mean_score FROM gold_fraud_rate_1h \
                        ORDER BY window_start DESC LIMIT 48";

#[component]
pub fn Fraud() -> impl IntoView {
    let live = use_live();
    let alerts: Loaded<Vec<Row>> = ui::loaded();
    let bins: Loaded<Vec<u64>> = ui::loaded();
    let rate: Loaded<Vec<(f64, f64)>> = ui::loaded();
    let models: Loaded<Vec<FraudModel>> = ui::loaded();

    let load_alerts =
        move || ui::load(alerts, async { Ok::<_, ApiError>(api::sql(ALERTS_SQL.into(), 50).await?.rows) });
    let load_stats = move || {
        ui::load(bins, async {
            let r = api::sql(HISTOGRAM_SQL.into(), 100).await?;
            let pairs: Vec<(f64, u64)> =
                r.rows.iter().filter_map(|row| Some((rows::num(row, "bin")?, rows::count(row, "n")?))).collect();
            Ok(histogram_bins(&pairs, BINS))
        });
        ui::load(rate, async {
            let r = api::sql(RATE_SQL.into(), 48).await?;
            let mut points: Vec<(f64, f64)> = r
                .rows
                .iter()
                .filter_map(|row| {
                    Some((rows::time_ms(row, "window_start")? as f64, rows::num(row, "alert_rate")? * 100.0))
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Ok(points)
        });
    };
    load_alerts();
    load_stats();
    ui::load(models, api::get(paths::FRAUD_MODELS));

    // Alerts arrive in bursts with every commit: reload at most once per 2 s.
    let pending = StoredValue::new(false);
    Effect::watch(
        move || live.last_alert.get(),
        move |a, _, _| {
            if a.is_some() && !pending.get_value() {
                pending.set_value(true);
                set_timeout(
                    move || {
                        if pending.try_set_value(false).is_none() {
                            load_alerts();
                        }
                    },
                    Duration::from_secs(2),
                );
            }
        },
        false,
    );
    let timer = set_interval_with_handle(
        move || {
            load_alerts();
            load_stats();
        },
        Duration::from_secs(30),
    )
    .ok();
    on_cleanup(move || {
        if let Some(t) = timer {
            t.clear();
        }
    });

    let rate_series = Signal::derive(move || match rate.get() {
        Some(Ok(points)) => vec![Series { name: "alert rate %".into(), class: "s3", points }],
        _ => vec![],
    });
    let bin_counts = Signal::derive(move || match bins.get() {
        Some(Ok(b)) => b,
        _ => vec![],
    });

    view! {
        <h1>"Fraud"</h1>
        <section class="panel">
            <h2>"Latest alerts"</h2>
            {ui::show(alerts, alerts_table)}
        </section>
        <div class="grid2">
            <section class="panel">
                <h2>"Score distribution"</h2>
                <p class="muted">"All scored transactions (transactions_scored), by score."</p>
                {ui::error_of(bins)}
                <Histogram bins=bin_counts lo=0.0 hi=1.0 label="score distribution" />
            </section>
            <section class="panel">
                <h2>"Alert rate per hour"</h2>
                <p class="muted">"gold_fraud_rate_1h (event time: the simulated clock runs a day per minute)."</p>
                {ui::error_of(rate)}
                <LineChart series=rate_series y_fmt=|v| format!("{}%", format::fixed(v, 1)) label="alert rate per hour" />
            </section>
        </div>
        <section class="panel">
            <h2>"Model"</h2>
            {ui::show(models, |ms| {
                if ms.is_empty() {
                    return view! { <p class="muted">"No stage uses a fraud model."</p> }.into_any();
                }
                ms.into_iter().map(model_view).collect_view().into_any()
            })}
        </section>
    }
}

fn alerts_table(rows: Vec<Row>) -> AnyView {
    if rows.is_empty() {
        return view! { <p class="muted">"No alerts yet."</p> }.into_any();
    }
    let body = rows
        .into_iter()
        .map(|r| {
            let amount = rows::num(&r, "amount_usd").or_else(|| rows::num(&r, "amount")).unwrap_or(f64::NAN);
            let score = rows::num(&r, "score").unwrap_or(f64::NAN);
            let time = rows::time_ms(&r, "event_time").map(ui::when_ms).unwrap_or_default();
            view! {
                <tr data-test="fraud-alert">
                    <td>{time}</td>
                    <td>{rows::text(&r, "account")}</td>
                    <td class="num">{format!("${}", format::fixed(amount, 2))}</td>
                    <td class="num">
                        <span class="badge bad">{format::fixed(score, 3)}</span>
                    </td>
                    <td class="wrap">{rows::text(&r, "reasons")}</td>
                    <td>{rows::text(&r, "merchant_category")}</td>
                    <td>{rows::text(&r, "country")}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table>
                <thead>
                    <tr>
                        <th>"time"</th>
                        <th>"account"</th>
                        <th class="num">"amount (USD)"</th>
                        <th class="num">"score"</th>
                        <th>"reasons"</th>
                        <th>"merchant"</th>
                        <th>"country"</th>
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
    .into_any()
}

fn model_view(m: FraudModel) -> AnyView {
    let trained = m.trained_on.into_iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(" · ");
    let evaluation = match m.evaluation {
        None => view! { <p class="muted">"No evaluation for this model layout."</p> }.into_any(),
        Some(e) => {
            let patterns = e
                .by_pattern
                .into_iter()
                .map(|(name, c)| {
                    let share = if c.transactions > 0 { c.caught as f64 / c.transactions as f64 } else { f64::NAN };
                    view! {
                        <tr>
                            <td>{name}</td>
                            <td class="num">{format::grouped(c.transactions)}</td>
                            <td class="num">{format::grouped(c.caught)}</td>
                            <td class="num">{format::percent(share)}</td>
                        </tr>
                    }
                })
                .collect_view();
            view! {
                <div class="stats">
                    <div class="stat"><span class="label">"ROC AUC"</span><span class="value">{format::fixed(e.roc_auc, 3)}</span></div>
                    <div class="stat"><span class="label">"precision"</span><span class="value">{format::percent(e.precision)}</span></div>
                    <div class="stat"><span class="label">"recall"</span><span class="value">{format::percent(e.recall)}</span></div>
                    <div class="stat"><span class="label">"F1"</span><span class="value">{format::fixed(e.f1, 3)}</span></div>
                    <div class="stat"><span class="label">"recall @ 80% precision"</span><span class="value">{format::percent(e.recall_at_precision_80)}</span></div>
                    <div class="stat"><span class="label">"held-out"</span><span class="value">{format!("{} txns, {} fraud", format::compact(e.records as f64), format::compact(e.fraud as f64))}</span></div>
                </div>
                <p class="muted">{format!("seed {}, threshold {}", e.seed, e.threshold)}</p>
                <div class="table-wrap">
                    <table class="compact">
                        <thead>
                            <tr>
                                <th>"pattern"</th>
                                <th class="num">"transactions"</th>
                                <th class="num">"caught"</th>
                                <th class="num">"share"</th>
                            </tr>
                        </thead>
                        <tbody>{patterns}</tbody>
                    </table>
                </div>
            }
            .into_any()
        }
    };
    view! {
        <article class="model" data-test="fraud-model">
            <h3>{format!("{} · version {}", m.file, m.version)}</h3>
            <p class="muted">
                {format!("{} / {} · threshold {} · features: {}", m.pipeline, m.stage, m.threshold, m.features.join(", "))}
            </p>
            {(!trained.is_empty()).then(|| view! { <p class="muted">"trained on " {trained}</p> })}
            {evaluation}
        </article>
    }
    .into_any()
}
