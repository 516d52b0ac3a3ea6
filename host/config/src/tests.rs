use super::*;

const SHIPPED: &str = include_str!("../../../pipelines.toml");

fn problems(text: &str) -> Vec<String> {
    match Config::parse_and_validate(text, "p.toml") {
        Ok(_) => vec![],
        Err(e) => e.problems().iter().map(ToString::to_string).collect(),
    }
}

fn with(extra: &str) -> String {
    format!("{SHIPPED}\n{extra}")
}

#[test]
fn shipped_config_is_valid_and_round_trips() {
    let config = Config::parse_and_validate(SHIPPED, "pipelines.toml").expect("shipped config is valid");
    assert!(config.kafka.is_embedded());
    assert_eq!(config.pipelines[0].stages.len(), 2);
    let text = toml::to_string(&config).expect("serializes");
    let again = Config::parse_and_validate(&text, "round-trip").expect("round trip parses");
    assert_eq!(config, again);
}

#[test]
fn syntax_error_has_line_and_column() {
    let p = problems("[kafka]\nbrokers = \"embedded\"\ntopics = [\"a\",\n[api]\n");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("p.toml:4:"), "{p:?}");
}

#[test]
fn unknown_key_is_located() {
    let p = problems("[kafka]\nbrokers = \"embedded\"\nbroker_list = \"x\"\n");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("p.toml:3:1: unknown field `broker_list`"), "{p:?}");
}

#[test]
fn wrong_type_is_located() {
    let p = problems("[kafka]\npartitions = \"three\"\n");
    assert!(p[0].starts_with("p.toml:2:14:"), "{p:?}");
    assert!(p[0].contains("invalid type"), "{p:?}");
}

#[test]
fn unknown_output_target_is_located() {
    let text = SHIPPED.replace("outputs = { trades = \"silver_trades\" }", "outputs = { trades = \"silver_trade\" }");
    let p = problems(&text);
    let line = SHIPPED.lines().position(|l| l.contains("trades = \"silver_trades\"")).unwrap() + 1;
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with(&format!("p.toml:{line}:13:")), "{p:?}");
    assert!(p[0].contains("neither a declared table nor a stage"), "{p:?}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = SHIPPED
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"localhost\"")
        .replace("partition_by = [\"symbol\"]", "partition_by = [\"sym\"]")
        .replace("memory_mb = 256", "memory_mb = 0");
    let p = problems(&text);
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p.iter().any(|m| m.contains("api.listen")));
    assert!(p.iter().any(|m| m.contains("partition column \"sym\"")));
    assert!(p.iter().any(|m| m.contains("plugins.memory_mb")));
}

#[test]
fn duplicate_table_and_reserved_column() {
    let p = problems(&with(
        "[[tables]]\nname = \"bronze_trades\"\npath = \"x\"\ncolumns = [{ name = \"kafka_offset\", type = \"long\" }]\n",
    ));
    assert_eq!(p.len(), 2, "{p:?}");
    let line = SHIPPED.lines().count() + 3;
    assert!(p[0].starts_with(&format!("p.toml:{line}:1: table \"bronze_trades\" is declared twice")), "{p:?}");
    assert!(p[1].contains("added by the host"), "{p:?}");
}

#[test]
fn table_written_by_two_pipelines_is_refused() {
    let p = problems(&with(
        "[[pipelines]]\nname = \"again\"\ntopic = \"stock-trades\"\ndead_letter_table = \"dlq2\"\n[[pipelines.stages]]\nplugin = \"passthrough\"\noutputs = { raw = \"bronze_trades\" }\n",
    ));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("already written by pipeline \"stock-trades\""), "{p:?}");
}

#[test]
fn stage_cycles_and_unknown_topics_are_refused() {
    let p = problems(&with(
        "[[pipelines]]\nname = \"loop\"\ntopic = \"nope\"\ndead_letter_table = \"dlq3\"\n\
         [[pipelines.stages]]\nid = \"a\"\nplugin = \"x\"\noutputs = { o = \"b\" }\n\
         [[pipelines.stages]]\nid = \"b\"\nplugin = \"x\"\noutputs = { o = \"a\" }\n",
    ));
    assert!(p.iter().any(|m| m.contains("topic \"nope\" is not in kafka.topics")), "{p:?}");
    assert!(p.iter().any(|m| m.contains("at least one must read the topic")), "{p:?}");
    assert!(p.iter().any(|m| m.contains("part of a cycle")), "{p:?}");
}

#[test]
fn relative_paths_resolve_against_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pipelines.toml");
    std::fs::write(&file, SHIPPED).unwrap();
    let config = Config::load(&file).unwrap();
    assert_eq!(config.lake.root, dir.path().join("lake"));
    assert_eq!(config.plugin_path("passthrough"), dir.path().join("plugins/dist/passthrough.wasm"));
}

#[test]
fn an_object_storage_root_is_a_url_not_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pipelines.toml");
    std::fs::write(&file, SHIPPED.replace("root = \"lake\"", "root = \"s3://bucket/prefix\"")).unwrap();
    let config = Config::load(&file).unwrap();
    assert_eq!(config.lake.root, std::path::PathBuf::from("s3://bucket/prefix"));
    assert_eq!(config.lake.url(), Some("s3://bucket/prefix"));
    let bad = problems(&SHIPPED.replace("root = \"lake\"", "root = \"ftp://host/lake\""));
    assert!(bad.iter().any(|p| p.contains("unsupported scheme \"ftp\"")), "{bad:?}");
    assert!(bad.iter().any(|p| p.starts_with("p.toml:")), "located: {bad:?}");
}

#[test]
fn unique_key_must_be_a_per_record_column() {
    let text = SHIPPED.replace("unique_key = \"trade_id\"", "unique_key = \"symbol\"");
    let p = problems(&text);
    let line = SHIPPED.lines().position(|l| l.starts_with("unique_key")).unwrap() + 1;
    assert_eq!(
        p,
        vec![format!("p.toml:{line}:1: unique_key \"symbol\" is a partition column; pick a per-record column")]
    );
    let p = problems(&SHIPPED.replace("unique_key = \"trade_id\"", "unique_key = \"tradeid\""));
    assert!(p[0].contains("unique_key \"tradeid\" is not a column"), "{p:?}");
}

#[test]
fn gold_problems_are_located() {
    let text = with(
        r#"
[[gold]]
name = "g1"
source = "silver_nope"
window = "90x"
select = ["count(*)"]

[[gold]]
name = "g2"
source = "silver_trades"
event_time = "price"
window = "1m"
allowed_lateness = "soon"
group_by = ["sector"]
select = ["count(*) AS n"]
"#,
    );
    let p = problems(&text);
    let base = SHIPPED.lines().count() + 1;
    let at = |line: usize, needle: &str| {
        let prefix = format!("p.toml:{}:", base + line);
        assert!(p.iter().any(|m| m.starts_with(&prefix) && m.contains(needle)), "{needle:?} at {prefix}: {p:#?}");
    };
    at(4, "not a declared [[tables]] table");
    at(5, "unit must be");
    at(6, "needs a column name");
    at(11, "it must be a timestamp");
    at(13, "not a duration");
    at(14, "\"sector\" is not a column");
    assert_eq!(p.len(), 6, "{p:#?}");
}

#[test]
fn durations_parse() {
    assert_eq!(parse_duration_us("1m"), Ok(60_000_000));
    assert_eq!(parse_duration_us("500ms"), Ok(500_000));
    assert_eq!(parse_duration_us("1d"), Ok(86_400_000_000));
    assert!(parse_duration_us("m").is_err());
    assert!(parse_duration_us("5 weeks").is_err());
}
