//! A shadow report as text for the terminal (`finlake plugin shadow`).

use std::fmt::Write;

use finlake_api::ShadowReport;

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn compact(v: &Option<serde_json::Value>) -> String {
    v.as_ref().map_or_else(|| "-".into(), |v| v.to_string())
}

pub fn render(r: &ShadowReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "shadow run of {}: candidate {} ({}) beside live {} ({}), {} ms",
        r.plugin,
        r.candidate.version,
        short(&r.candidate.sha256),
        r.live.version,
        short(&r.live.sha256),
        r.millis
    );
    for p in &r.pipelines {
        let range = match (&p.first, &p.last) {
            (Some(a), Some(b)) => {
                let t =
                    |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339()).unwrap_or_default();
                format!("{} .. {}", t(a.timestamp_ms), t(b.timestamp_ms))
            }
            _ => "no records".into(),
        };
        let _ = writeln!(
            out,
            "\npipeline {} (stage {}): {} record(s) from {}@v{} ({range})",
            p.pipeline,
            p.stages.join(", "),
            p.records,
            p.source_table,
            p.source_version
        );
        for s in &p.state {
            let _ = writeln!(out, "  state   {s}");
        }
        let _ = writeln!(
            out,
            "  time    live {:.0} ns/record, candidate {:.0} ns/record",
            p.live_ns_per_record, p.candidate_ns_per_record
        );
        for o in &p.outputs {
            let _ = writeln!(
                out,
                "  {:<24} rows live {} / candidate {}: same {}, changed {}, only live {}, only candidate {} (matched by {})",
                o.table, o.live_rows, o.candidate_rows, o.same, o.changed, o.only_live, o.only_candidate, o.matched_by
            );
            for e in &o.examples {
                let fields = if e.fields.is_empty() { String::new() } else { format!(" [{}]", e.fields.join(", ")) };
                let _ = writeln!(out, "    {} {}{fields}", e.kind, e.key);
                let _ = writeln!(out, "      live:      {}", compact(&e.live));
                let _ = writeln!(out, "      candidate: {}", compact(&e.candidate));
            }
        }
        let _ = writeln!(out, "  new rejections {}, new traps {}", p.new_rejections, p.new_traps);
        for f in p.rejection_examples.iter().chain(&p.trap_examples) {
            let _ = writeln!(
                out,
                "    partition {} offset {} (stage {}): {}: {}",
                f.partition, f.offset, f.stage, f.kind, f.reason
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{}: {} row(s) differ, {} new trap(s), {} new rejection(s)",
        if r.differences == 0 && r.new_traps == 0 && r.new_rejections == 0 { "same" } else { "DIFFERENT" },
        r.differences,
        r.new_traps,
        r.new_rejections
    );
    out
}
