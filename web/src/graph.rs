//! Laying out a pipeline's graph (topic → stages → tables) in columns for an SVG drawing.

use finlake_api::PipelineGraph;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Topic,
    Stage,
    Table,
    DeadLetters,
}

impl NodeKind {
    pub fn class(self) -> &'static str {
        match self {
            NodeKind::Topic => "node topic",
            NodeKind::Stage => "node stage",
            NodeKind::Table => "node table",
            NodeKind::DeadLetters => "node dlq",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub label: String,
    /// A second line: the stage's plugin, or what a node is.
    pub sub: String,
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    /// The stage output's name, when it has one worth showing.
    pub label: Option<String>,
    pub dashed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub width: f64,
    pub height: f64,
}

pub const NODE_W: f64 = 150.0;
pub const NODE_H: f64 = 40.0;
const COL_GAP: f64 = 60.0;
const ROW_GAP: f64 = 16.0;
const MARGIN: f64 = 4.0;

/// Each stage's column: 1 for stages fed by the topic, one more than its deepest feeding stage
/// otherwise (a cycle, which the host refuses anyway, stops growing after one pass per stage).
fn stage_columns(g: &PipelineGraph) -> Vec<usize> {
    let mut col = vec![1usize; g.stages.len()];
    for _ in 0..g.stages.len() {
        let mut changed = false;
        for (i, s) in g.stages.iter().enumerate() {
            let deepest =
                s.inputs.iter().filter_map(|inp| g.stages.iter().position(|o| &o.id == inp)).map(|j| col[j] + 1).max();
            let c = deepest.unwrap_or(1);
            if c != col[i] {
                col[i] = c;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    col
}

/// Columns: the topic, the stages by depth, then the tables (and the dead-letter table last).
pub fn layout(g: &PipelineGraph) -> Layout {
    let stage_col = stage_columns(g);
    let table_col = stage_col.iter().copied().max().unwrap_or(0) + 1;
    let mut nodes = vec![Node { kind: NodeKind::Topic, label: g.topic.clone(), sub: "topic".into(), x: 0.0, y: 0.0 }];
    let mut cols: Vec<usize> = vec![0];
    for (s, c) in g.stages.iter().zip(&stage_col) {
        nodes.push(Node { kind: NodeKind::Stage, label: s.id.clone(), sub: s.plugin.clone(), x: 0.0, y: 0.0 });
        cols.push(*c);
    }
    let stage_node = |id: &str| g.stages.iter().position(|s| s.id == id).map(|i| i + 1);
    let mut edges: Vec<Edge> = Vec::new();
    let add_edge = |edges: &mut Vec<Edge>, from: usize, to: usize, label: Option<String>, dashed: bool| {
        if !edges.iter().any(|e| e.from == from && e.to == to) {
            edges.push(Edge { from, to, label, dashed });
        }
    };
    for (i, s) in g.stages.iter().enumerate() {
        for input in &s.inputs {
            let from = if input == &g.topic { Some(0) } else { stage_node(input) };
            if let Some(from) = from {
                add_edge(&mut edges, from, i + 1, None, false);
            }
        }
    }
    for (i, s) in g.stages.iter().enumerate() {
        for (output, target) in &s.outputs {
            let to = match stage_node(target) {
                Some(j) => j,
                None => match nodes.iter().position(|n| n.kind == NodeKind::Table && &n.label == target) {
                    Some(j) => j,
                    None => {
                        nodes.push(Node {
                            kind: NodeKind::Table,
                            label: target.clone(),
                            sub: "table".into(),
                            x: 0.0,
                            y: 0.0,
                        });
                        cols.push(table_col);
                        nodes.len() - 1
                    }
                },
            };
            let label = (output != target).then(|| output.clone());
            add_edge(&mut edges, i + 1, to, label, false);
        }
    }
    if !g.dead_letter_table.is_empty() {
        nodes.push(Node {
            kind: NodeKind::DeadLetters,
            label: g.dead_letter_table.clone(),
            sub: "dead letters".into(),
            x: 0.0,
            y: 0.0,
        });
        cols.push(table_col);
        let dlq = nodes.len() - 1;
        for i in 0..g.stages.len() {
            add_edge(&mut edges, i + 1, dlq, None, true);
        }
    }
    let columns = cols.iter().copied().max().unwrap_or(0) + 1;
    let mut rows_in = vec![0usize; columns];
    for (node, &c) in nodes.iter_mut().zip(&cols) {
        node.x = MARGIN + c as f64 * (NODE_W + COL_GAP);
        node.y = MARGIN + rows_in[c] as f64 * (NODE_H + ROW_GAP);
        rows_in[c] += 1;
    }
    // Centre each column vertically against the tallest one.
    let tallest = rows_in.iter().copied().max().unwrap_or(1);
    for (node, &c) in nodes.iter_mut().zip(&cols) {
        node.y += (tallest - rows_in[c]) as f64 * (NODE_H + ROW_GAP) / 2.0;
    }
    Layout {
        nodes,
        edges,
        width: 2.0 * MARGIN + columns as f64 * NODE_W + (columns.saturating_sub(1)) as f64 * COL_GAP,
        height: 2.0 * MARGIN + tallest as f64 * NODE_H + tallest.saturating_sub(1) as f64 * ROW_GAP,
    }
}

/// A curve from the right edge of `a` to the left edge of `b`.
pub fn edge_path(a: &Node, b: &Node) -> String {
    let (x1, y1) = (a.x + NODE_W, a.y + NODE_H / 2.0);
    let (x2, y2) = (b.x, b.y + NODE_H / 2.0);
    let mid = (x1 + x2) / 2.0;
    format!("M{x1:.1},{y1:.1} C{mid:.1},{y1:.1} {mid:.1},{y2:.1} {x2:.1},{y2:.1}")
}

/// A label cut to `max` characters with an ellipsis, so it fits its box.
pub fn fit(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        return label.to_string();
    }
    let mut out: String = label.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use finlake_api::GraphStage;

    fn stage(id: &str, inputs: &[&str], outputs: &[(&str, &str)]) -> GraphStage {
        GraphStage {
            id: id.into(),
            plugin: format!("{id}-plugin"),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
        }
    }

    fn bank() -> PipelineGraph {
        PipelineGraph {
            name: "bank".into(),
            topic: "bank-transactions".into(),
            dead_letter_table: "dlq".into(),
            stages: vec![
                stage("passthrough", &["bank-transactions"], &[("raw", "bronze")]),
                stage("txn-screen", &["bank-transactions"], &[("screened", "silver"), ("scoring", "fraud-score")]),
                stage("fraud-score", &["txn-screen"], &[("scored", "scored"), ("alerts", "alerts")]),
            ],
        }
    }

    #[test]
    fn columns_follow_the_flow() {
        let l = layout(&bank());
        let x = |label: &str| l.nodes.iter().find(|n| n.label == label).map(|n| n.x).unwrap_or(-1.0);
        assert!(x("bank-transactions") < x("passthrough"));
        assert_eq!(x("passthrough"), x("txn-screen"));
        assert!(x("txn-screen") < x("fraud-score"));
        assert!(x("fraud-score") < x("bronze"));
        assert_eq!(x("bronze"), x("alerts"));
        assert_eq!(x("dlq"), x("silver"));
        assert_eq!(l.nodes.iter().filter(|n| n.kind == NodeKind::Table).count(), 4);
        assert!(l.width >= x("dlq") + NODE_W);
        assert!(l.nodes.iter().all(|n| n.y + NODE_H <= l.height));
    }

    #[test]
    fn edges_are_unique_and_dead_letters_dashed() {
        let l = layout(&bank());
        let idx = |label: &str| l.nodes.iter().position(|n| n.label == label).unwrap_or(usize::MAX);
        // txn-screen → fraud-score is named by both the output and the input: drawn once.
        let between = l.edges.iter().filter(|e| e.from == idx("txn-screen") && e.to == idx("fraud-score")).count();
        assert_eq!(between, 1);
        assert_eq!(l.edges.iter().filter(|e| e.dashed).count(), 3);
        assert_eq!(l.edges.iter().filter(|e| e.from == 0).count(), 2);
        let label = |to: &str| l.edges.iter().find(|e| e.to == idx(to)).and_then(|e| e.label.clone());
        assert_eq!(label("bronze").as_deref(), Some("raw"));
        assert_eq!(label("alerts"), None, "an output named like its table needs no label");
    }

    #[test]
    fn paths_and_labels() {
        let a = Node { kind: NodeKind::Topic, label: "t".into(), sub: String::new(), x: 0.0, y: 0.0 };
        let b = Node { kind: NodeKind::Stage, label: "s".into(), sub: String::new(), x: 210.0, y: 56.0 };
        assert_eq!(edge_path(&a, &b), "M150.0,20.0 C180.0,20.0 180.0,76.0 210.0,76.0");
        assert_eq!(fit("normalize-trade", 20), "normalize-trade");
        assert_eq!(fit("gold_volume_by_asset_class_1m", 10), "gold_volu…");
    }
}
