//! Config edits that point outside the lake, hand a plugin the wrong file, load code into
//! the Kafka client, or break a gold job — refused on every path into the config.

use std::collections::BTreeMap;
use std::time::Duration;

use finlake::config::Config;

use super::*;

const BASE: &str = r#"
[kafka]
brokers = "b:9092"

[[tables]]
name = "t"
columns = [{ name = "value", type = "string" }]

[[tables]]
name = "ts"
columns = [{ name = "value", type = "string" }, { name = "event_time", type = "timestamp" }]

[[pipelines]]
name = "p"
topic = "x"
dead_letter_table = "dead"

[[pipelines.stages]]
plugin = "chaos"
outputs = { out = "t", other = "ts" }
"#;

fn problems(text: &str) -> String {
    match Config::parse_and_validate(text, "t.toml") {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn names_and_paths_cannot_leave_the_lake_or_share_a_directory() {
    let cases = [
        (BASE.replace("dead_letter_table = \"dead\"", "dead_letter_table = \"..\""), "dead_letter_table"),
        (BASE.replace("name = \"p\"", "name = \"..\""), "pipeline name"),
        (
            format!(
                "{BASE}\n[[gold]]\nname = \"g\"\nsource = \"ts\"\nwindow = \"1m\"\nselect = [\"count(*) AS n\"]\npath = \"/tmp/escape\"\n"
            ),
            "relative to the lake root",
        ),
        (
            format!(
                "{BASE}\n[[gold]]\nname = \"g\"\nsource = \"ts\"\nwindow = \"1m\"\nselect = [\"count(*) AS n\"]\npath = \"../../escape\"\n"
            ),
            "no '..'",
        ),
        (
            BASE.replacen("name = \"t\"", "name = \"t\"\npath = \"x/\"", 1).replacen(
                "name = \"ts\"",
                "name = \"ts\"\npath = \"./x\"",
                1,
            ),
            "share the path \"x\"",
        ),
        (
            BASE.replacen("name = \"t\"", "name = \"t\"\npath = \"a\"", 1).replacen(
                "name = \"ts\"",
                "name = \"ts\"\npath = \"a/b\"",
                1,
            ),
            "lies inside",
        ),
    ];
    for (text, expected) in cases {
        let found = problems(&text);
        println!("{expected}: {found}");
        assert!(found.contains(expected), "expected {expected:?} in: {found:?}");
        assert!(found.starts_with("t.toml:"), "located: {found}");
    }
}

#[test]
fn config_files_stay_in_the_config_directory_and_are_regular_files() {
    let absolute = BASE.replace("outputs = { out", "config_files = { model = \"/dev/zero\" }\noutputs = { out");
    assert!(problems(&absolute).contains("relative path under the config's directory"), "{}", problems(&absolute));

    // Past validation (a symlink, a FIFO): refused when the plugin is initialised.
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.json"), "{\"password\": \"hunter2\"}").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.json"), dir.path().join("link.json")).unwrap();
    let fifo = dir.path().join("fifo.json");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let runtime = finlake::plugin::PluginRuntime::new(&shared_cache_dir()).unwrap();
    let loaded = runtime.load_file(&plugin_dir().join("chaos.wasm"), Some("chaos")).unwrap();
    for (file, expected) in [("link.json", "outside the config's directory"), ("fifo.json", "not a regular file")] {
        let text =
            BASE.replace("outputs = { out", &format!("config_files = {{ model = \"{file}\" }}\noutputs = {{ out"));
        let config = Config::from_text(&text, "t.toml", Some(&dir.path().join("pipelines.toml"))).unwrap();
        let stage = &config.pipelines[0].stages[0];
        // A FIFO would block a read for ever: the answer must come at once.
        let started = std::time::Instant::now();
        let err = finlake::pipeline::stage_instance(&config, stage, loaded.clone()).err().expect("refused");
        println!("{file}: {err}");
        assert!(err.to_string().contains(expected), "{err}");
        assert!(!err.to_string().contains("hunter2"));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[test]
fn kafka_properties_that_load_code_or_redirect_the_client_are_refused() {
    for (key, why) in [
        ("plugin.library.paths", "loads shared libraries"),
        ("sasl.kerberos.kinit.cmd", "runs a shell command"),
        ("bootstrap.servers", "kafka.brokers"),
        ("group.id", "kafka.group_id"),
    ] {
        let text = BASE
            .replace("brokers = \"b:9092\"", &format!("brokers = \"b:9092\"\nproperties = {{ \"{key}\" = \"x\" }}"));
        let found = problems(&text);
        println!("{key}: {found}");
        assert!(found.contains(why), "{key}: {found}");
    }
    // Several hosts rely on eager rebalances (positions re-read from Delta at each one).
    let text = BASE.replace(
        "brokers = \"b:9092\"",
        "brokers = \"b:9092\"\nproperties = { \"partition.assignment.strategy\" = \"cooperative-sticky\" }",
    );
    let found = problems(&text);
    assert!(found.contains("cooperative-sticky assignment is not supported"), "{found}");
    assert!(found.contains(":"), "located: {found}");
}

/// librdkafka is built with TLS and SASL: a client configured for SASL_SSL with SCRAM is
/// accepted, and a TLS connection to a TLS listener (`openssl s_server`, with a CA the client
/// trusts) completes its handshake.
#[tokio::test]
async fn the_kafka_client_speaks_tls_and_sasl() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let props =
        |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
    let sasl = props(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "SCRAM-SHA-256"),
        ("sasl.username", "u"),
        ("sasl.password", "p"),
    ]);
    let sasl_client = finlake::kafka::producer::create_producer("127.0.0.1:9", &sasl);
    assert!(sasl_client.is_ok(), "SASL_SSL with SCRAM is supported: {:?}", sasl_client.err());

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = tokio::process::Command::new("openssl")
        .args(["s_server", "-accept", &port.to_string(), "-naccept", "1", "-key"])
        .arg(&key)
        .arg("-cert")
        .arg(&cert)
        // s_server quits at the end of its stdin: keep it open.
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tls = props(&[("security.protocol", "SSL"), ("ssl.ca.location", cert.to_str().unwrap())]);
    let producer = finlake::kafka::producer::create_producer(&format!("localhost:{port}"), &tls).unwrap();
    // Not a Kafka broker behind the TLS: the metadata request fails, after the handshake.
    let _ = tokio::task::spawn_blocking(move || {
        use rdkafka::producer::Producer;
        producer.client().fetch_metadata(None, Duration::from_secs(3)).err()
    })
    .await;
    let output = tokio::time::timeout(Duration::from_secs(10), server.wait_with_output()).await;
    let log = match output {
        Ok(Ok(o)) => format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
        other => panic!("s_server did not finish: {other:?}"),
    };
    println!("openssl s_server: {log}");
    assert!(log.contains("CIPHER is"), "no TLS handshake: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gold_select_that_does_not_plan_is_refused_by_put_config() {
    let topic = unique("hostile-gold");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = trades_config(dir.path(), &topic);
    let file = dir.path().join("pipelines.toml");
    let service = Service::start(Config::load(&file).unwrap(), broker.bootstrap_servers()).await.unwrap();
    let api = format!("http://{}", service.api_addr.unwrap());
    let broken = text.replacen("count(*) AS trades", "avg(no_such_column) AS trades", 1);
    assert_ne!(broken, text, "the shipped gold select has count(*) AS trades");
    let client = reqwest::Client::new();
    for dry in ["true", "false"] {
        let res = client.put(format!("{api}/api/config?dry_run={dry}")).body(broken.clone()).send().await.unwrap();
        let (status, body) = (res.status().as_u16(), res.text().await.unwrap());
        println!("PUT (dry_run={dry}) a gold select on a missing column: {status} {body}");
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("no_such_column"), "{body}");
        assert!(body.contains(&format!("{}:", file.display())), "located: {body}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text, "the file is unchanged");
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_pipeline_is_marked_failed_and_restarted() {
    let run = start_chaos("{ tag = \"a\" }", |t| t).await;
    let marker = unique("PANIC");
    finlake::pipeline::fault::panic_once_on(marker.as_bytes());
    produce_values(&run.brokers, &run.topic, &["a".to_string(), marker.clone(), "b".to_string()]).await;
    eventually("the panic reported", || async { run.snapshot().last_error.unwrap_or_default().contains("panicked") })
        .await;
    println!("after the panic: {:?} {:?}", run.snapshot().state, run.snapshot().last_error);
    // Restarted from Delta's offsets: every record lands once.
    eventually("3 rows after the restart", || async { run.rows().await == 3 }).await;
    assert_exactly_once("tagged", &kafka_coordinates(&run.lake("tagged")).await);
    assert_eq!(run.snapshot().state, finlake_api::PipelineState::Running);
    run.service.shutdown().await;
}
