//! The chart components: SVG drawn at the container's width in CSS pixels (measured on mount
//! and on every window resize), so labels keep their size on any screen; axes come from
//! [`super::scale`] and shapes from [`super::layout`].

use leptos::ev;
use leptos::html::Div;
use leptos::prelude::*;

use super::layout::{self, Candle};
use super::scale::{Linear, extent, nice_ticks, pad, time_ticks};
use crate::format;
use crate::sse::utc_offset_min;
use crate::time;

/// Width before the container is measured, and the narrowest drawn (narrower scrolls).
const DEFAULT_W: f64 = 640.0;
const MIN_W: f64 = 300.0;
const H: f64 = 240.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;

/// One line of a [`LineChart`]: points are (ms since the epoch, value).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// CSS class giving its colour (`s1`, `s2`, …).
    pub class: &'static str,
    pub points: Vec<(f64, f64)>,
}

fn n(v: f64) -> String {
    format!("{v:.1}")
}

fn empty(w: f64, message: &'static str) -> AnyView {
    view! {
        <text x=n(w / 2.0) y=n(H / 2.0) class="chart-empty" text-anchor="middle">
            {message}
        </text>
    }
    .into_any()
}

/// Horizontal grid lines with value labels on the left.
fn y_axis(w: f64, y: &Linear, lo: f64, hi: f64, fmt: fn(f64) -> String) -> AnyView {
    nice_ticks(lo, hi, 5)
        .into_iter()
        .map(|t| {
            let py = n(y.map(t));
            view! {
                <g class="tick">
                    <line x1=n(LEFT) x2=n(w - RIGHT) y1=py.clone() y2=py.clone()></line>
                    <text x=n(LEFT - 6.0) y=py dy="0.32em" text-anchor="end">
                        {fmt(t)}
                    </text>
                </g>
            }
        })
        .collect_view()
        .into_any()
}

/// Time labels along the bottom, local time.
fn x_time_axis(w: f64, x: &Linear, lo: f64, hi: f64) -> AnyView {
    let with_date = hi - lo > 86_400_000.0;
    let offset = utc_offset_min();
    // About one label per 110 px.
    let count = ((w - LEFT - RIGHT) / 110.0).clamp(2.0, 10.0) as usize;
    time_ticks(lo, hi, count, offset)
        .into_iter()
        .map(|t| {
            let at = x.map(t);
            // Labels at the edges stay inside the drawing.
            let anchor = if at > w - RIGHT - 20.0 { "end" } else { "middle" };
            let px = n(at);
            view! {
                <g class="tick">
                    <line x1=px.clone() x2=px.clone() y1=n(H - BOTTOM) y2=n(H - BOTTOM + 4.0)></line>
                    <text x=px y=n(H - 8.0) text-anchor=anchor>
                        {time::axis_label(t as i64, offset, with_date)}
                    </text>
                </g>
            }
        })
        .collect_view()
        .into_any()
}

/// The chart's box: measures its container and redraws `body(width)` when it changes.
fn frame<V: IntoView + 'static>(body: impl Fn(f64) -> V + Send + Sync + 'static, label: &'static str) -> impl IntoView {
    let node = NodeRef::<Div>::new();
    let width = RwSignal::new(DEFAULT_W);
    let measure = move || {
        if let Some(el) = node.get_untracked() {
            let w = f64::from(el.client_width());
            if w > 0.0 {
                width.set(w.max(MIN_W).floor());
            }
        }
    };
    Effect::new(move |_| {
        node.track();
        measure();
    });
    let resize = window_event_listener(ev::resize, move |_| measure());
    on_cleanup(move || resize.remove());
    view! {
        <div class="chart" node_ref=node>
            <svg
                width=move || n(width.get())
                height=n(H)
                viewBox=move || format!("0 0 {:.0} {H}", width.get())
                role="img"
                aria-label=label
            >
                <line class="axis" x1=n(LEFT) x2=move || n(width.get() - RIGHT) y1=n(H - BOTTOM) y2=n(H - BOTTOM)></line>
                {move || body(width.get())}
            </svg>
        </div>
    }
}

/// Lines over time with a legend.
#[component]
pub fn LineChart(
    #[prop(into)] series: Signal<Vec<Series>>,
    /// Formats the y axis labels.
    y_fmt: fn(f64) -> String,
    #[prop(default = "line chart")] label: &'static str,
) -> impl IntoView {
    let body = move |w: f64| {
        let all = series.get();
        let (Some((x0, x1)), Some(yd)) = (
            extent(all.iter().flat_map(|s| s.points.iter().map(|p| p.0))),
            extent(all.iter().flat_map(|s| s.points.iter().map(|p| p.1))),
        ) else {
            return empty(w, "no data yet");
        };
        let (y0, y1) = pad(yd, 0.05);
        let x = Linear::new((x0, x1), (LEFT, w - RIGHT));
        let y = Linear::new((y0, y1), (H - BOTTOM, TOP));
        let lines = all
            .iter()
            .map(|s| view! { <path class=format!("line {}", s.class) d=layout::line_path(&s.points, &x, &y)></path> })
            .collect_view();
        let legend = all
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let lx = LEFT + 8.0 + i as f64 * 110.0;
                view! {
                    <g class=format!("legend {}", s.class)>
                        <rect x=n(lx) y=n(TOP) width="10" height="10"></rect>
                        <text x=n(lx + 14.0) y=n(TOP + 9.0)>{s.name.clone()}</text>
                    </g>
                }
            })
            .collect_view();
        view! {
            {y_axis(w, &y, y0, y1, y_fmt)}
            {x_time_axis(w, &x, x0, x1)}
            {lines}
            {legend}
        }
        .into_any()
    };
    frame(body, label)
}

/// OHLC candles of `slot_ms` windows, rising ones in the "up" colour.
#[component]
pub fn CandleChart(#[prop(into)] candles: Signal<Vec<Candle>>, slot_ms: f64) -> impl IntoView {
    let body = move |w: f64| {
        let cs = candles.get();
        let (Some((t0, t1)), Some((y0, y1))) = (extent(cs.iter().map(|c| c.t_ms)), layout::candle_domain(&cs)) else {
            return empty(w, "no closed windows yet");
        };
        let x = Linear::new((t0, t1 + slot_ms), (LEFT, w - RIGHT));
        let y = Linear::new((y0, y1), (H - BOTTOM, TOP));
        let shapes = layout::candle_layout(&cs, &x, &y, slot_ms)
            .into_iter()
            .map(|s| {
                let cls = if s.rising { "candle up" } else { "candle down" };
                view! {
                    <g class=cls>
                        <line x1=n(s.x) x2=n(s.x) y1=n(s.wick_top) y2=n(s.wick_bottom)></line>
                        <rect
                            x=n(s.x - s.body_width / 2.0)
                            y=n(s.body_top)
                            width=n(s.body_width)
                            height=n(s.body_height)
                        ></rect>
                    </g>
                }
            })
            .collect_view();
        view! {
            {y_axis(w, &y, y0, y1, format::price)}
            {x_time_axis(w, &x, t0, t1 + slot_ms)}
            {shapes}
        }
        .into_any()
    };
    frame(body, "candles")
}

/// Labelled vertical bars, values above them.
#[component]
pub fn BarChart(
    #[prop(into)] bars: Signal<Vec<(String, f64)>>,
    value_fmt: fn(f64) -> String,
    #[prop(default = "bar chart")] label: &'static str,
) -> impl IntoView {
    let body = move |w: f64| {
        let data = bars.get();
        if data.is_empty() {
            return empty(w, "no data yet");
        }
        let values: Vec<f64> = data.iter().map(|d| d.1).collect();
        let plot_h = H - BOTTOM - TOP - 14.0;
        // Bars no wider than 120 px, centred.
        let plot_w = (w - LEFT - RIGHT).min(values.len() as f64 * 120.0);
        let left = LEFT + (w - LEFT - RIGHT - plot_w) / 2.0;
        layout::bar_layout(&values, plot_w, plot_h, 0.3)
            .into_iter()
            .zip(data)
            .map(|(b, (name, v))| {
                let (bx, by) = (left + b.x, TOP + 14.0 + b.y);
                view! {
                    <g class="bar">
                        <rect x=n(bx) y=n(by) width=n(b.width) height=n(b.height)></rect>
                        <text class="value" x=n(bx + b.width / 2.0) y=n(by - 4.0) text-anchor="middle">
                            {value_fmt(v)}
                        </text>
                        <text x=n(bx + b.width / 2.0) y=n(H - 8.0) text-anchor="middle">
                            {name}
                        </text>
                    </g>
                }
            })
            .collect_view()
            .into_any()
    };
    frame(body, label)
}

/// Counts of equal-width bins over `[lo, hi]`.
#[component]
pub fn Histogram(
    #[prop(into)] bins: Signal<Vec<u64>>,
    lo: f64,
    hi: f64,
    #[prop(default = "histogram")] label: &'static str,
) -> impl IntoView {
    let body = move |w: f64| {
        let counts = bins.get();
        let max = counts.iter().copied().max().unwrap_or(0);
        if max == 0 {
            return empty(w, "no data yet");
        }
        let values: Vec<f64> = counts.iter().map(|c| *c as f64).collect();
        let y = Linear::new((0.0, max as f64), (H - BOTTOM, TOP));
        let x = Linear::new((lo, hi), (LEFT, w - RIGHT));
        let bars = layout::bar_layout(&values, w - LEFT - RIGHT, H - BOTTOM - TOP, 0.1)
            .into_iter()
            .map(|b| {
                view! {
                    <rect class="hist" x=n(LEFT + b.x) y=n(TOP + b.y) width=n(b.width) height=n(b.height)></rect>
                }
            })
            .collect_view();
        let x_ticks = nice_ticks(lo, hi, 5)
            .into_iter()
            .map(|t| {
                let at = x.map(t);
                let anchor = if at > w - RIGHT - 12.0 { "end" } else { "middle" };
                view! {
                    <text class="tick" x=n(at) y=n(H - 8.0) text-anchor=anchor>
                        {format::fixed(t, 1)}
                    </text>
                }
            })
            .collect_view();
        view! {
            {y_axis(w, &y, 0.0, max as f64, format::compact)}
            {bars}
            {x_ticks}
        }
        .into_any()
    };
    frame(body, label)
}

/// A small line of recent values, no axes.
#[component]
pub fn Sparkline(#[prop(into)] values: Signal<Vec<f64>>) -> impl IntoView {
    const SW: f64 = 120.0;
    const SH: f64 = 28.0;
    view! {
        <svg class="spark" viewBox=format!("0 0 {SW} {SH}") aria-hidden="true">
            <path d=move || layout::sparkline_path(&values.get(), SW, SH)></path>
        </svg>
    }
}
