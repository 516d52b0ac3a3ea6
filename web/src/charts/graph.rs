//! A pipeline's graph as SVG: topic → stages → tables, laid out by [`crate::graph`].

use finlake_api::PipelineGraph;
use leptos::prelude::*;

use crate::graph::{self, NODE_H, NODE_W};

fn n(v: f64) -> String {
    format!("{v:.1}")
}

/// Draws `g` as boxes in columns joined by curves; dead-letter edges are dashed.
#[component]
pub fn PipelineGraphView(graph: PipelineGraph) -> impl IntoView {
    let l = graph::layout(&graph);
    let edges = l
        .edges
        .iter()
        .filter_map(|e| {
            let (a, b) = (l.nodes.get(e.from)?, l.nodes.get(e.to)?);
            let label = e.label.clone().map(|t| {
                let (lx, ly) = ((a.x + NODE_W + b.x) / 2.0, (a.y + b.y) / 2.0 + NODE_H / 2.0 - 4.0);
                view! {
                    <text class="edge-label" x=n(lx) y=n(ly) text-anchor="middle">
                        {graph::fit(&t, 14)}
                    </text>
                }
            });
            let class = if e.dashed { "edge dashed" } else { "edge" };
            Some(view! {
                <path class=class d=graph::edge_path(a, b)></path>
                {label}
            })
        })
        .collect_view();
    let nodes = l
        .nodes
        .iter()
        .map(|node| {
            view! {
                <g class=node.kind.class()>
                    <rect x=n(node.x) y=n(node.y) width=n(NODE_W) height=n(NODE_H) rx="6"></rect>
                    <text x=n(node.x + 8.0) y=n(node.y + 17.0)>{graph::fit(&node.label, 20)}</text>
                    <text class="sub" x=n(node.x + 8.0) y=n(node.y + 32.0)>
                        {graph::fit(&node.sub, 22)}
                    </text>
                </g>
            }
        })
        .collect_view();
    view! {
        <div class="graph">
            <svg
                viewBox=format!("0 0 {:.0} {:.0}", l.width, l.height)
                style=format!("max-width: {:.0}px", l.width)
                role="img"
                aria-label=format!("pipeline {}: topic, stages and tables", graph.name)
            >
                {edges}
                {nodes}
            </svg>
        </div>
    }
}
