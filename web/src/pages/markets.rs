//! Markets: per-symbol price, VWAP and 1-minute candles from `gold_trades_1m`, volume by asset
//! class from `gold_volume_by_asset_class_1m`. Refreshed every 10 s and whenever a gold table
//! commits.

use std::time::Duration;

use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::charts::layout::Candle;
use crate::charts::{BarChart, CandleChart, LineChart, Series};
use crate::format;
use crate::market::{self, Bar, Range};
use crate::rows::{self, sql_literal};
use crate::sse::use_live;
use crate::ui::{self, Loaded};

const SYMBOLS_SQL: &str = "SELECT DISTINCT symbol FROM gold_trades_1m ORDER BY symbol";

fn bars_sql(symbol: &str, range: Range) -> (String, u64) {
    let limit = range.row_limit(1);
    (
        format!(
            "SELECT window_start, open, high, low, close, vwap, volume, trades FROM gold_trades_1m \
             WHERE symbol = {} ORDER BY window_start DESC LIMIT {limit}",
            sql_literal(symbol)
        ),
        limit,
    )
}

fn volume_sql(range: Range) -> (String, u64) {
    // A handful of asset classes per minute; ask for the whole range of them.
    let limit = range.row_limit(8);
    (
        format!(
            "SELECT window_start, asset_class, volume, notional FROM gold_volume_by_asset_class_1m \
             ORDER BY window_start DESC LIMIT {limit}"
        ),
        limit,
    )
}

#[component]
pub fn Markets() -> impl IntoView {
    let live = use_live();
    let symbols: Loaded<Vec<String>> = ui::loaded();
    let symbol = RwSignal::new(None::<String>);
    let range = RwSignal::new(Range::H1);
    let bars: Loaded<Vec<Bar>> = ui::loaded();
    let volume: Loaded<Vec<(String, f64, f64)>> = ui::loaded();

    let load_symbols = move || {
        ui::load(symbols, async move {
            let r = api::sql(SYMBOLS_SQL.into(), 1000).await?;
            let list: Vec<String> = r.rows.iter().filter_map(|row| rows::text(row, "symbol")).collect();
            if symbol.try_get_untracked().flatten().is_none() {
                symbol.try_set(list.first().cloned());
            }
            Ok(list)
        })
    };
    let refresh = move || {
        let r = range.get_untracked();
        if let Some(s) = symbol.get_untracked() {
            let (sql, limit) = bars_sql(&s, r);
            ui::load(bars, async move { Ok::<_, ApiError>(market::bars(&api::sql(sql, limit).await?.rows, r)) });
        }
        let (sql, limit) = volume_sql(r);
        ui::load(volume, async move { Ok(market::volume_by_class(&api::sql(sql, limit).await?.rows, r)) });
    };
    load_symbols();
    // Reload when the picks change.
    Effect::new(move |_| {
        symbol.track();
        range.track();
        refresh();
    });
    let timer = set_interval_with_handle(
        move || {
            if symbols.with_untracked(|s| !matches!(s, Some(Ok(_)))) {
                load_symbols();
            }
            refresh();
        },
        Duration::from_secs(10),
    )
    .ok();
    on_cleanup(move || {
        if let Some(t) = timer {
            t.clear();
        }
    });
    Effect::watch(
        move || live.last_commit.get(),
        move |c, _, _| {
            if c.as_ref().is_some_and(|c| c.table.starts_with("gold_trades") || c.table.starts_with("gold_volume")) {
                refresh();
            }
        },
        false,
    );

    let candles = Signal::derive(move || {
        bars.with(|b| match b {
            Some(Ok(b)) => b.iter().map(|b| b.candle).collect::<Vec<Candle>>(),
            _ => vec![],
        })
    });
    let lines = Signal::derive(move || {
        bars.with(|b| match b {
            Some(Ok(b)) => vec![
                Series {
                    name: "close".into(),
                    class: "s1",
                    points: b.iter().map(|b| (b.candle.t_ms, b.candle.close)).collect(),
                },
                Series {
                    name: "VWAP".into(),
                    class: "s2",
                    points: b.iter().map(|b| (b.candle.t_ms, b.vwap)).collect(),
                },
            ],
            _ => vec![],
        })
    });
    let last = move || {
        bars.with(|b| match b {
            Some(Ok(b)) => b.last().map(|last| {
                format!(
                    "close {} · VWAP {} · volume {} · {} trades in the last minute",
                    format::price(last.candle.close),
                    format::price(last.vwap),
                    format::compact(last.volume),
                    format::compact(last.trades)
                )
            }),
            _ => None,
        })
    };
    let volume_bars = Signal::derive(move || match volume.get() {
        Some(Ok(v)) => v.into_iter().map(|(class, vol, _)| (class, vol)).collect(),
        _ => vec![],
    });

    view! {
        <h1>"Markets"</h1>
        <div class="toolbar">
            <label>
                "Symbol "
                <select
                    data-test="symbol-picker"
                    on:change=move |ev| symbol.set(Some(event_target_value(&ev)))
                    prop:value=move || symbol.get().unwrap_or_default()
                >
                    {move || match symbols.get() {
                        Some(Ok(list)) => {
                            list.into_iter()
                                .map(|s| view! { <option value=s.clone()>{s.clone()}</option> })
                                .collect_view()
                                .into_any()
                        }
                        _ => view! { <option value="">"–"</option> }.into_any(),
                    }}
                </select>
            </label>
            <div class="segmented" role="group" aria-label="Time range" data-test="range-picker">
                {Range::ALL
                    .into_iter()
                    .map(|r| {
                        view! {
                            <button
                                class:active=move || range.get() == r
                                data-range=r.label()
                                on:click=move |_| range.set(r)
                            >
                                {r.label()}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
            <span class="muted">"of data, up to the newest closed minute"</span>
        </div>
        {ui::error_of(symbols)}
        {move || symbols.with(|s| matches!(s, Some(Ok(l)) if l.is_empty())).then(|| view! {
            <p class="muted">"gold_trades_1m has no windows yet: the first appear about 70 s after the trades start."</p>
        })}
        <section class="panel">
            <h2>{move || format!("{} price and VWAP", symbol.get().unwrap_or_default())}</h2>
            <p class="muted">{last}</p>
            {ui::error_of(bars)}
            <LineChart series=lines y_fmt=format::price label="price and VWAP" />
        </section>
        <section class="panel">
            <h2>"1-minute candles"</h2>
            <CandleChart candles=candles slot_ms=60_000.0 />
        </section>
        <section class="panel">
            <h2>"Volume by asset class"</h2>
            {ui::error_of(volume)}
            <BarChart bars=volume_bars value_fmt=format::compact label="volume by asset class" />
            <div class="table-wrap">
                <table class="compact">
                    <thead>
                        <tr>
                            <th>"asset class"</th>
                            <th class="num">"volume"</th>
                            <th class="num">"notional"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || match volume.get() {
                            Some(Ok(v)) => {
                                v.into_iter()
                                    .map(|(class, vol, notional)| {
                                        view! {
                                            <tr>
                                                <td>{class}</td>
                                                <td class="num">{format::compact(vol)}</td>
                                                <td class="num">{format::compact(notional)}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()
                                    .into_any()
                            }
                            _ => ().into_any(),
                        }}
                    </tbody>
                </table>
            </div>
        </section>
    }
}
