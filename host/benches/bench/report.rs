//! What the benchmarks found: figures per section, and the ratios with their targets. Printed
//! as tables and written as JSON (`target/bench/latest.json` and one file per run).

use std::path::Path;

use serde::Serialize;

/// How a ratio compares with its target.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Target::AtLeast(t) => value >= t,
            Target::AtMost(t) => value <= t,
        }
    }

    fn text(self, unit: &str) -> String {
        match self {
            Target::AtLeast(t) => format!("≥ {}{unit}", trim(t)),
            Target::AtMost(t) => format!("≤ {}{unit}", trim(t)),
        }
    }
}

fn trim(v: f64) -> String {
    if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v}") }
}

/// A headline figure: a ratio measured side by side (or an absolute bound where the issue sets
/// one), with its target.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub target: Option<Target>,
    pub met: Option<bool>,
    /// The measurements it was computed from.
    pub from: String,
}

/// One measured number with its context.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub section: String,
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub note: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub started: String,
    pub brokers: String,
    pub scale: String,
    pub figures: Vec<Figure>,
    pub ratios: Vec<Ratio>,
}

impl Report {
    pub fn figure(&mut self, section: &str, name: &str, value: f64, unit: &str, note: impl Into<String>) {
        let note = note.into();
        println!("  {name:<44} {:>12} {unit:<12} {note}", number(value));
        self.figures.push(Figure { section: section.into(), name: name.into(), value, unit: unit.into(), note });
    }

    pub fn ratio(&mut self, name: &str, value: f64, unit: &str, target: Option<Target>, from: impl Into<String>) {
        let met = target.map(|t| t.met(value));
        let from = from.into();
        let verdict = match (target, met) {
            (Some(t), Some(true)) => format!("target {}: met", t.text(unit)),
            (Some(t), _) => format!("target {}: NOT met", t.text(unit)),
            _ => String::new(),
        };
        println!("  => {name}: {}{unit}  {verdict}  ({from})", number(value));
        self.ratios.push(Ratio { name: name.into(), value, unit: unit.into(), target, met, from });
    }

    /// The ratios as a Markdown table (README "Performance" and the end of every run).
    pub fn table(&self) -> String {
        let mut out = String::from("| figure | measured | target | |\n|---|---|---|---|\n");
        for r in &self.ratios {
            let target = r.target.map(|t| t.text(&r.unit)).unwrap_or_default();
            let verdict = match r.met {
                Some(true) => "met",
                Some(false) => "**not met**",
                None => "",
            };
            out.push_str(&format!("| {} | {}{} | {target} | {verdict} |\n", r.name, number(r.value), r.unit));
        }
        out
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<std::path::PathBuf> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let stamp = self.started.replace([':', '-'], "");
        let file = dir.join(format!("bench-{stamp}.json"));
        std::fs::write(&file, &json)?;
        std::fs::write(dir.join("latest.json"), &json)?;
        std::fs::write(dir.join("latest.md"), self.table())?;
        Ok(file)
    }
}

/// Three significant digits or so, without a wall of decimals.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

pub fn section(title: &str) {
    println!("\n== {title}");
}
