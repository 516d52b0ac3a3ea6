//! Semantic checks of a parsed config. Every check adds a located problem; none stops early,
//! so one `finlake validate` run shows everything to fix.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::SocketAddr;

use super::locate::{Located, Step};
use super::{ColumnType, Config, GoldConfig, PipelineConfig, TableConfig, parse_duration_us};

/// Reserved columns the host appends when `kafka_columns = true`.
pub const KAFKA_COLUMNS: [&str; 4] = ["kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp"];

/// One thing wrong with a config, and where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub origin: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.origin, self.line, self.col, self.message)
    }
}

struct Report<'a> {
    origin: &'a str,
    doc: Located<'a>,
    problems: Vec<Problem>,
}

impl Report<'_> {
    fn add(&mut self, path: &[Step<'_>], message: impl Into<String>) {
        let (line, col) = self.doc.position(path);
        self.problems.push(Problem { origin: self.origin.to_string(), line, col, message: message.into() });
    }
}

/// What [`is_name`] accepts, for messages.
const NAME_RULE: &str = "letters, digits, '_', '-' or '.', starting with a letter, digit or '_', without '..'";

/// A name that is also a path segment: starts with a letter, digit or '_' (so never `.`,
/// `..` or a hidden or option-like name) and holds no `..`.
fn is_name(s: &str) -> bool {
    s.len() <= 128
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        && !s.contains("..")
}

/// librdkafka properties `[kafka] properties` may not set: ones that load code or run commands,
/// and ones FinLake sets itself (where to connect, the group, offset handling).
const FORBIDDEN_PROPERTIES: [(&str, &str); 12] = [
    ("plugin.library.paths", "loads shared libraries into the process"),
    ("ssl.engine.location", "loads an OpenSSL engine into the process"),
    ("ssl.providers", "loads OpenSSL providers into the process"),
    ("sasl.kerberos.kinit.cmd", "runs a shell command"),
    ("bootstrap.servers", "is set from kafka.brokers"),
    ("metadata.broker.list", "is set from kafka.brokers"),
    ("group.id", "is set from kafka.group_id"),
    ("enable.auto.commit", "is managed by FinLake (positions live in Delta)"),
    ("enable.auto.offset.store", "is managed by FinLake (positions live in Delta)"),
    ("auto.offset.reset", "is managed by FinLake (positions live in Delta)"),
    ("client.dns.lookup", "changes where the client connects"),
    ("broker.address.family", "changes where the client connects"),
];

pub fn validate(config: &Config, text: &str, origin: &str) -> Vec<Problem> {
    let mut r = Report { origin, doc: Located::new(text), problems: Vec::new() };
    use Step::{Index, Key};

    if let Some(url) = config.lake.url() {
        let scheme = url.split_once("://").map_or("", |(s, _)| s);
        if !matches!(scheme, "s3" | "s3a" | "hdfs" | "viewfs" | "file") {
            r.add(
                &[Key("lake"), Key("root")],
                format!("lake.root {url:?}: unsupported scheme {scheme:?} (a directory, s3://bucket/prefix or hdfs://host:port/path)"),
            );
        }
    }
    if config.kafka.brokers.trim().is_empty() {
        r.add(&[Key("kafka"), Key("brokers")], "kafka.brokers is empty: use \"embedded\" or host:port[,host:port]");
    }
    if config.kafka.is_embedded() && !(1..=64).contains(&config.kafka.partitions) {
        r.add(&[Key("kafka"), Key("partitions")], "kafka.partitions must be between 1 and 64");
    }
    if config.api.enabled && config.api.listen.parse::<SocketAddr>().is_err() {
        r.add(
            &[Key("api"), Key("listen")],
            format!("api.listen {:?} is not an address like 127.0.0.1:8080", config.api.listen),
        );
    }
    for (i, host) in config.api.allowed_hosts.iter().enumerate() {
        if host.is_empty() || host.contains(['/', ' ', '@']) {
            r.add(&[Key("api"), Key("allowed_hosts"), Index(i)], format!("{host:?} is not a host name"));
        }
    }
    if !(16..=65_536).contains(&config.api.query_memory_mb) {
        r.add(&[Key("api"), Key("query_memory_mb")], "api.query_memory_mb must be between 16 and 65536");
    }
    let m = &config.maintenance;
    let durations = [
        ("interval", &m.interval, 1_000_000),
        ("time_travel", &m.time_travel, 60_000_000),
        ("dead_letter_retention", &m.dead_letter_retention, 60_000_000),
    ];
    for (key, text, least) in durations {
        match parse_duration_us(text) {
            Ok(us) if us < least => r.add(
                &[Key("maintenance"), Key(key)],
                format!("maintenance.{key} must be at least {}s", least / 1_000_000),
            ),
            Ok(_) => {}
            Err(e) => r.add(&[Key("maintenance"), Key(key)], e),
        }
    }
    if m.small_file_mb == 0 || m.small_file_mb > m.target_file_mb || m.target_file_mb > 4096 {
        r.add(
            &[Key("maintenance"), Key("small_file_mb")],
            "maintenance.small_file_mb must be at least 1 and at most target_file_mb (at most 4096)",
        );
    }
    if m.min_small_files < 2 {
        r.add(&[Key("maintenance"), Key("min_small_files")], "maintenance.min_small_files must be at least 2");
    }
    if !(1..=1000).contains(&m.checkpoint_every) {
        r.add(
            &[Key("maintenance"), Key("checkpoint_every")],
            "maintenance.checkpoint_every must be between 1 and 1000",
        );
    }
    if m.state_snapshots == 0 {
        r.add(&[Key("maintenance"), Key("state_snapshots")], "maintenance.state_snapshots must be at least 1");
    }
    if !(1..=64).contains(&config.api.max_queries) {
        r.add(&[Key("api"), Key("max_queries")], "api.max_queries must be between 1 and 64");
    }
    for key in config.kafka.properties.keys() {
        let k = key.trim().to_ascii_lowercase();
        if let Some((_, why)) = FORBIDDEN_PROPERTIES.iter().find(|(f, _)| *f == k) {
            r.add(
                &[Key("kafka"), Key("properties"), Key(key.as_str())],
                format!("kafka property {key:?} is not allowed here: it {why}"),
            );
        }
        if k == "partition.assignment.strategy" && config.kafka.properties[key].contains("cooperative") {
            r.add(
                &[Key("kafka"), Key("properties"), Key(key.as_str())],
                "cooperative-sticky assignment is not supported: FinLake re-reads its positions from Delta at each eager rebalance (use \"range\" or \"roundrobin\")",
            );
        }
    }
    if config.plugins.timeout_ms == 0 {
        r.add(&[Key("plugins"), Key("timeout_ms")], "plugins.timeout_ms must be at least 1");
    }
    if !(1..=4096).contains(&config.plugins.memory_mb) {
        r.add(&[Key("plugins"), Key("memory_mb")], "plugins.memory_mb must be between 1 and 4096");
    }
    if config.plugins.recycle_growth_mb > 4096 {
        r.add(
            &[Key("plugins"), Key("recycle_growth_mb")],
            "plugins.recycle_growth_mb must be between 0 (never) and 4096",
        );
    }
    if let Some(sim) = config.simulator() {
        if !(0.0..=1.0).contains(&sim.malformed_ratio) {
            r.add(&[Key("simulator"), Key("malformed_ratio")], "simulator.malformed_ratio must be between 0 and 1");
        }
        for (i, stream) in sim.streams.iter().enumerate() {
            let at = |k| [Key("simulator"), Key("streams"), Index(i), Key(k)];
            if !(stream.rate > 0.0 && stream.rate <= 1_000_000.0) {
                r.add(&at("rate"), "rate must be in (0, 1000000] records/s");
            }
            if !(stream.clock_speed > 0.0 && stream.clock_speed <= 1_000_000.0) {
                r.add(&at("clock_speed"), "clock_speed must be in (0, 1000000] (1 = wall clock)");
            }
            if config.kafka.is_embedded() && !config.kafka.topics.contains(&stream.topic) {
                r.add(
                    &at("topic"),
                    format!(
                        "topic {:?} is not in kafka.topics, so the embedded broker does not create it",
                        stream.topic
                    ),
                );
            }
        }
    }

    let mut table_names: HashMap<&str, usize> = HashMap::new();
    let mut paths = Paths::default();
    for (i, t) in config.tables.iter().enumerate() {
        let at = |k| [Key("tables"), Index(i), Key(k)];
        if !is_name(&t.name) {
            r.add(&at("name"), format!("table name {:?} must be {NAME_RULE}", t.name));
        }
        if table_names.insert(&t.name, i).is_some() {
            r.add(&at("name"), format!("table {:?} is declared twice", t.name));
        }
        let raw = t.path.clone().unwrap_or_else(|| t.name.clone());
        paths.claim(&mut r, &raw, format!("table {:?}", t.name), &at(if t.path.is_some() { "path" } else { "name" }));
        if let Some(layer) = &t.layer
            && !["bronze", "silver", "gold"].contains(&layer.as_str())
        {
            r.add(&at("layer"), format!("layer {layer:?} is not bronze, silver or gold"));
        }
        validate_columns(&mut r, i, t);
    }

    let mut pipeline_names = BTreeSet::new();
    let mut writer_of: HashMap<&str, &str> = HashMap::new();
    for (i, p) in config.pipelines.iter().enumerate() {
        if !is_name(&p.name) {
            r.add(
                &[Key("pipelines"), Index(i), Key("name")],
                format!("pipeline name {:?} must be {NAME_RULE}", p.name),
            );
        }
        if !pipeline_names.insert(p.name.as_str()) {
            r.add(&[Key("pipelines"), Index(i), Key("name")], format!("pipeline {:?} is declared twice", p.name));
        }
        validate_pipeline(&mut r, config, i, p, &table_names, &mut writer_of);
        if is_name(&p.dead_letter_table) && !table_names.contains_key(p.dead_letter_table.as_str()) {
            let at = [Key("pipelines"), Index(i), Key("dead_letter_table")];
            paths.claim(&mut r, &p.dead_letter_table, format!("dead-letter table {:?}", p.dead_letter_table), &at);
        }
        if is_name(&p.name) {
            let at = [Key("pipelines"), Index(i), Key("name")];
            let state = super::state_path(&p.name);
            paths.claim(&mut r, &state, format!("the state table of pipeline {:?}", p.name), &at);
        }
    }
    let mut taken: BTreeSet<String> = config.tables.iter().map(|t| t.name.clone()).collect();
    taken.extend(config.pipelines.iter().map(|p| p.dead_letter_table.clone()));
    for (i, g) in config.gold.iter().enumerate() {
        validate_gold(&mut r, config, i, g, &mut taken);
        let at = [Key("gold"), Index(i), Key(if g.path.is_some() { "path" } else { "name" })];
        let raw = g.path.clone().unwrap_or_else(|| format!("gold/{}", g.name));
        paths.claim(&mut r, &raw, format!("gold table {:?}", g.name), &at);
        let at = [Key("gold"), Index(i), Key("name")];
        paths.claim(&mut r, &g.late_relative_path(), format!("late table {:?}", g.late_table_name()), &at);
    }
    paths.check_nesting(&mut r);
    r.problems
}

/// Every table directory under the lake root, normalised: one table per path, none inside
/// another (maintenance of the outer one would remove the inner one's files).
#[derive(Default)]
struct Paths {
    /// (normalised path, what owns it, where it is declared).
    taken: Vec<(String, String, (usize, usize))>,
}

impl Paths {
    fn claim(&mut self, r: &mut Report<'_>, raw: &str, owner: String, at: &[Step<'_>]) {
        match super::normalize_table_path(raw) {
            Err(e) => r.add(at, e),
            Ok(path) => {
                if let Some((_, other, _)) = self.taken.iter().find(|(p, _, _)| *p == path) {
                    r.add(at, format!("{owner} and {other} share the path {path:?} under the lake root"));
                } else {
                    self.taken.push((path, owner, r.doc.position(at)));
                }
            }
        }
    }

    fn check_nesting(&self, r: &mut Report<'_>) {
        for (inner, owner, (line, col)) in &self.taken {
            if let Some((outer, other, _)) =
                self.taken.iter().find(|(p, _, _)| inner.len() > p.len() && inner.starts_with(&format!("{p}/")))
            {
                r.problems.push(Problem {
                    origin: r.origin.to_string(),
                    line: *line,
                    col: *col,
                    message: format!(
                        "{owner} (path {inner:?}) lies inside {other} (path {outer:?}); give it its own directory"
                    ),
                });
            }
        }
    }
}

fn validate_gold(r: &mut Report<'_>, config: &Config, i: usize, g: &GoldConfig, taken: &mut BTreeSet<String>) {
    use Step::{Index, Key};
    let at = |k| [Key("gold"), Index(i), Key(k)];
    for (key, name) in [("name", g.name.clone()), ("late_table", g.late_table_name())] {
        if !is_name(&name) || name.contains(['-', '.']) {
            r.add(&at(key), format!("gold table name {name:?} must be letters, digits or '_' (it is a SQL name)"));
        } else if !taken.insert(name.clone()) {
            r.add(&at(key), format!("table name {name:?} is already used by another table"));
        }
    }
    let window = match parse_duration_us(&g.window) {
        Ok(w) if (1_000_000..=7 * 86_400_000_000).contains(&w) => Some(w),
        Ok(_) => {
            r.add(&at("window"), "window must be between 1s and 7d");
            None
        }
        Err(e) => {
            r.add(&at("window"), e);
            None
        }
    };
    match parse_duration_us(&g.allowed_lateness) {
        Ok(l) if window.is_some_and(|w| l > 100 * w) => {
            r.add(&at("allowed_lateness"), "allowed_lateness over 100 windows keeps windows open for too long")
        }
        Ok(_) => {}
        Err(e) => r.add(&at("allowed_lateness"), e),
    }
    match parse_duration_us(&g.future_skew) {
        Ok(s) if s < 1_000_000 => r.add(&at("future_skew"), "future_skew must be at least 1s"),
        Ok(_) => {}
        Err(e) => r.add(&at("future_skew"), e),
    }
    if !(100..=3_600_000).contains(&g.poll_ms) {
        r.add(&at("poll_ms"), "poll_ms must be between 100 and 3600000");
    }
    if g.select.is_empty() {
        r.add(&at("select"), "select needs at least one aggregate, e.g. \"count(*) AS trades\"");
    }
    for (s, item) in g.select.iter().enumerate() {
        let alias = item.rsplit_once(" AS ").or_else(|| item.rsplit_once(" as ")).map(|(_, a)| a.trim());
        if !alias.is_some_and(|a| is_name(a) && !a.contains(['-', '.'])) {
            r.add(
                &[Key("gold"), Index(i), Key("select"), Index(s)],
                format!("{item:?} needs a column name: write it as \"<expression> AS <name>\""),
            );
        }
    }
    let Some(source) = config.table(&g.source) else {
        r.add(&at("source"), format!("source {:?} is not a declared [[tables]] table", g.source));
        return;
    };
    let column = |name: &str| {
        source.columns.iter().find(|c| c.name == name).map(|c| c.kind).or_else(|| {
            (source.kafka_columns && KAFKA_COLUMNS.contains(&name)).then_some(match name {
                "kafka_timestamp" => ColumnType::Timestamp,
                "kafka_offset" => ColumnType::Long,
                "kafka_partition" => ColumnType::Int,
                _ => ColumnType::String,
            })
        })
    };
    match column(&g.event_time) {
        Some(ColumnType::Timestamp) => {}
        Some(other) => r.add(
            &at("event_time"),
            format!("event_time column {:?} has type {other:?}; it must be a timestamp", g.event_time),
        ),
        None => r.add(&at("event_time"), format!("{:?} is not a column of {:?}", g.event_time, g.source)),
    }
    for (k, col) in g.group_by.iter().enumerate() {
        if column(col).is_none() {
            r.add(
                &[Key("gold"), Index(i), Key("group_by"), Index(k)],
                format!("{col:?} is not a column of {:?}", g.source),
            );
        }
    }
}

fn validate_columns(r: &mut Report<'_>, i: usize, t: &TableConfig) {
    use Step::{Index, Key};
    if t.columns.is_empty() {
        r.add(&[Key("tables"), Index(i), Key("columns")], format!("table {:?} has no columns", t.name));
    }
    let mut seen = BTreeSet::new();
    for (c, col) in t.columns.iter().enumerate() {
        let at = [Key("tables"), Index(i), Key("columns"), Index(c)];
        if !is_name(&col.name) || col.name.contains(['-', '.']) {
            r.add(&at, format!("column name {:?} must be letters, digits or '_'", col.name));
        }
        if !seen.insert(col.name.as_str()) {
            r.add(&at, format!("column {:?} is declared twice in table {:?}", col.name, t.name));
        }
        if t.kafka_columns && KAFKA_COLUMNS.contains(&col.name.as_str()) {
            r.add(
                &at,
                format!(
                    "column {:?} is added by the host (kafka_columns = true); rename it or set kafka_columns = false",
                    col.name
                ),
            );
        }
    }
    if let Some(key) = &t.unique_key {
        let at = [Key("tables"), Index(i), Key("unique_key")];
        match t.columns.iter().find(|c| &c.name == key) {
            None => r.add(&at, format!("unique_key {key:?} is not a column of table {:?}", t.name)),
            Some(c) if !matches!(c.kind, ColumnType::String | ColumnType::Long | ColumnType::Int) => {
                r.add(&at, format!("unique_key {key:?} has type {:?}; use a string or integer column", c.kind))
            }
            Some(_) if t.partition_by.contains(key) => {
                r.add(&at, format!("unique_key {key:?} is a partition column; pick a per-record column"))
            }
            Some(_) => {}
        }
    }
    match parse_duration_us(&t.dedup_horizon) {
        Ok(h) if !(1_000_000..=30 * 86_400_000_000).contains(&h) => r.add(
            &[Key("tables"), Index(i), Key("dedup_horizon")],
            "dedup_horizon must be between 1s and 30d (its keys are held in memory)",
        ),
        Ok(_) => {}
        Err(e) => r.add(&[Key("tables"), Index(i), Key("dedup_horizon")], e),
    }
    for (p, part) in t.partition_by.iter().enumerate() {
        let at = [Key("tables"), Index(i), Key("partition_by"), Index(p)];
        match t.columns.iter().find(|c| &c.name == part) {
            None => r.add(&at, format!("partition column {part:?} is not a column of table {:?}", t.name)),
            Some(c) if matches!(c.kind, ColumnType::Binary | ColumnType::Double) => r.add(
                &at,
                format!(
                    "partition column {part:?} has type {:?}; partition by text, integers, booleans or dates",
                    c.kind
                ),
            ),
            Some(_) => {}
        }
    }
}

fn validate_pipeline<'c>(
    r: &mut Report<'_>,
    config: &'c Config,
    i: usize,
    p: &'c PipelineConfig,
    tables: &HashMap<&str, usize>,
    writer_of: &mut HashMap<&'c str, &'c str>,
) {
    use Step::{Index, Key};
    let at = |k| [Key("pipelines"), Index(i), Key(k)];
    if p.topic.trim().is_empty() {
        r.add(&at("topic"), "topic is empty");
    } else if config.kafka.is_embedded() && !config.kafka.topics.contains(&p.topic) {
        r.add(
            &at("topic"),
            format!("topic {:?} is not in kafka.topics, so the embedded broker does not create it", p.topic),
        );
    }
    if !(1..=100_000).contains(&p.batch.max_records) {
        r.add(
            &[Key("pipelines"), Index(i), Key("batch"), Key("max_records")],
            "batch.max_records must be between 1 and 100000",
        );
    }
    if p.flush.max_records == 0 || p.flush.max_bytes == 0 || p.flush.max_latency_ms == 0 {
        r.add(&at("flush"), "flush.max_records, max_bytes and max_latency_ms must all be positive");
    }
    if !is_name(&p.dead_letter_table) {
        r.add(&at("dead_letter_table"), format!("dead_letter_table {:?} must be {NAME_RULE}", p.dead_letter_table));
    } else if tables.contains_key(p.dead_letter_table.as_str()) {
        r.add(&at("dead_letter_table"), format!("dead_letter_table {:?} is also declared in [[tables]]; dead-letter tables have a fixed schema and must not be declared", p.dead_letter_table));
    }
    claim(r, writer_of, &p.dead_letter_table, &p.name, &at("dead_letter_table"));
    if p.stages.is_empty() {
        r.add(&at("stages"), "a pipeline needs at least one [[pipelines.stages]]");
        return;
    }

    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    for (s, stage) in p.stages.iter().enumerate() {
        let sat = |k| [Key("pipelines"), Index(i), Key("stages"), Index(s), Key(k)];
        if !is_name(&stage.plugin) {
            r.add(&sat("plugin"), format!("plugin name {:?} must be {NAME_RULE}", stage.plugin));
        }
        if ids.insert(stage.id(), s).is_some() {
            r.add(
                &sat(if stage.id.is_some() { "id" } else { "plugin" }),
                format!("stage id {:?} is used twice in pipeline {:?}; give one an `id`", stage.id(), p.name),
            );
        }
        for (key, file) in &stage.config_files {
            if !super::paths::config_file_path_ok(file) {
                r.add(
                    &[Key("pipelines"), Index(i), Key("stages"), Index(s), Key("config_files"), Key(key.as_str())],
                    format!("config_files.{key} = {:?} must be a relative path under the config's directory (no '..', not absolute)", file.display().to_string()),
                );
            }
        }
        if stage.timeout_ms == Some(0) {
            r.add(&sat("timeout_ms"), "timeout_ms must be at least 1");
        }
        if stage.memory_mb.is_some_and(|m| !(1..=4096).contains(&m)) {
            r.add(&sat("memory_mb"), "memory_mb must be between 1 and 4096");
        }
        if stage.outputs.is_empty() {
            r.add(
                &sat("plugin"),
                format!("stage {:?} has no outputs; map each plugin output to a table or stage", stage.id()),
            );
        }
        if tables.contains_key(stage.id()) {
            r.add(&sat("plugin"), format!("stage id {:?} is also a table name; give the stage an `id`", stage.id()));
        }
    }

    // Targets, and the graph they form.
    let mut fed: BTreeSet<&str> = BTreeSet::new();
    let mut edges: Vec<(&str, &str)> = Vec::new();
    for (s, stage) in p.stages.iter().enumerate() {
        for (output, target) in &stage.outputs {
            let oat = [Key("pipelines"), Index(i), Key("stages"), Index(s), Key("outputs"), Key(output.as_str())];
            if ids.contains_key(target.as_str()) {
                if target == stage.id() {
                    r.add(&oat, format!("output {output:?} feeds its own stage"));
                }
                fed.insert(target);
                edges.push((stage.id(), target));
            } else if tables.contains_key(target.as_str()) {
                claim(r, writer_of, target, &p.name, &oat);
            } else {
                r.add(&oat, format!("output {output:?} targets {target:?}, which is neither a declared table nor a stage of pipeline {:?}", p.name));
            }
        }
    }
    if fed.len() == ids.len() {
        r.add(&at("stages"), "every stage is fed by another stage: at least one must read the topic");
    }
    if let Some(cycle_at) = find_cycle(&ids, &edges) {
        let s = ids[cycle_at];
        r.add(&[Key("pipelines"), Index(i), Key("stages"), Index(s)], format!("stage {cycle_at:?} is part of a cycle"));
    }
}

/// A table has exactly one writing pipeline: that pipeline alone owns its offsets.
fn claim<'c>(
    r: &mut Report<'_>,
    writer_of: &mut HashMap<&'c str, &'c str>,
    table: &'c str,
    pipeline: &'c str,
    path: &[Step<'_>],
) {
    match writer_of.get(table) {
        Some(other) if *other != pipeline => r.add(
            path,
            format!("table {table:?} is already written by pipeline {other:?}; each table has one writing pipeline"),
        ),
        _ => {
            writer_of.insert(table, pipeline);
        }
    }
}

fn find_cycle<'a>(ids: &BTreeMap<&'a str, usize>, edges: &[(&'a str, &'a str)]) -> Option<&'a str> {
    // Kahn's algorithm: whatever cannot be ordered sits on a cycle.
    let mut indegree: BTreeMap<&str, usize> = ids.keys().map(|k| (*k, 0)).collect();
    for (_, to) in edges {
        *indegree.entry(to).or_default() += 1;
    }
    let mut ready: Vec<&str> = indegree.iter().filter(|(_, d)| **d == 0).map(|(k, _)| *k).collect();
    let mut done = 0;
    while let Some(n) = ready.pop() {
        done += 1;
        for (from, to) in edges {
            if *from == n {
                let d = indegree.get_mut(to)?;
                *d -= 1;
                if *d == 0 {
                    ready.push(to);
                }
            }
        }
    }
    if done == indegree.len() { None } else { indegree.into_iter().find(|(_, d)| *d > 0).map(|(k, _)| k) }
}
