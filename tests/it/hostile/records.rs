//! Records that used to stop a layer, skip data quietly, or double it.

use std::time::Duration;

use finlake::config::Config;
use finlake::query::QueryOptions;
use rdkafka::producer::FutureRecord;

use super::*;

/// One trade, as the simulator writes them, with its event time `ts` (text or epoch ms).
fn trade(id: &str, ts: &str) -> String {
    format!(
        r#"{{"trade_id":"{id}","symbol":"AAPL","price":100.5,"quantity":10,"side":"buy","exchange":"XNAS","ts":{ts}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_time_far_in_the_future_does_not_stall_gold() {
    let topic = unique("hostile-future");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 1).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    trades_config(dir.path(), &topic);
    let file = dir.path().join("pipelines.toml");
    let mut config = Config::load(&file).unwrap();
    for g in &mut config.gold {
        g.poll_ms = 200;
    }
    std::fs::write(&file, toml::to_string(&config).unwrap()).unwrap();
    let config = Config::load(&file).unwrap();
    let service = Service::start(config.clone(), brokers.clone()).await.unwrap();

    let count = |sql: &'static str| {
        let config = config.clone();
        async move {
            let options = QueryOptions::default();
            match finlake::query::run(&finlake::lake::catalog(&config), &config.lake.root, sql, &options).await {
                Ok(out) => finlake::query::format::json_rows(&out.batches)
                    .first()
                    .and_then(|r| r.values().next()?.as_i64())
                    .unwrap_or(0),
                Err(_) => 0,
            }
        }
    };
    // Ten minutes ago, one trade a second for two minutes, then one from year 9999.
    let start = chrono::Utc::now().timestamp_millis() - 10 * 60_000;
    let mut values: Vec<String> = (0..120).map(|i| trade(&format!("a{i}"), &(start + i * 1000).to_string())).collect();
    values.push(trade("future", "\"9999-01-01T00:00:00Z\""));
    produce_values(&brokers, &topic, &values).await;
    eventually("a first gold window", || async {
        let (silver, dead, gold) = (
            count("SELECT count(*) FROM silver_trades").await,
            count("SELECT count(*) FROM dead_letters").await,
            count("SELECT count(*) FROM gold_trades_1m").await,
        );
        println!("silver {silver}, dead letters {dead}, gold {gold}");
        gold >= 1
    })
    .await;
    // Two more minutes of trades: their windows close too, and none of them is late.
    let values: Vec<String> = (120..240).map(|i| trade(&format!("b{i}"), &(start + i * 1000).to_string())).collect();
    produce_values(&brokers, &topic, &values).await;
    eventually("gold windows over the later minutes", || async {
        count("SELECT count(DISTINCT window_start) FROM gold_trades_1m").await >= 3
    })
    .await;
    let late = count("SELECT count(*) FROM gold_trades_1m_late").await;
    let letters = count("SELECT count(*) FROM dead_letters WHERE reason LIKE '%ahead of the clock%'").await;
    println!("late rows: {late}, dead letters for the future trade: {letters}");
    assert_eq!(late, 0, "rows after the future trade were counted late");
    assert_eq!(letters, 1);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_timestamps_near_the_end_of_time_do_not_overflow() {
    let run = start_chaos("{ tag = \"a\" }", |t| t).await;
    let producer = finlake::kafka::producer::create_producer(&run.brokers, &Default::default()).unwrap();
    for value in ["edge", "REJECT-edge"] {
        let record = FutureRecord::to(&run.topic).key("k").payload(value).timestamp(i64::MAX - 1);
        producer.send(record, Duration::from_secs(10)).await.map_err(|(e, _)| e).unwrap();
    }
    eventually("1 row and 1 dead letter", || async { run.rows().await == 1 && run.dead().await == 1 }).await;
    let config = Config::load(&run.dir.path().join("pipelines.toml")).unwrap();
    let sql = "SELECT kafka_timestamp FROM tagged WHERE value = 'edge'";
    let out = finlake::query::run(&finlake::lake::catalog(&config), &config.lake.root, sql, &QueryOptions::default())
        .await
        .unwrap();
    let rows = finlake::query::format::json_rows(&out.batches);
    println!("{sql}: {rows:?}");
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["kafka_timestamp"].is_null(), "an overflowed time was stored: {rows:?}");
    let letters = run.dead_letters().await;
    assert!(letters.iter().all(|l| l.kafka_timestamp_ms.is_none()), "{letters:?}");
    run.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_broken_dead_letter_sets_the_batch_aside_and_goes_on() {
    // `trap_on = ""` traps on every record: a broken plugin.
    let run = start_chaos("{ tag = \"a\", trap_on = \"\" }", |t| {
        t.replace("pause_after_failed_batches = 2", "pause_after_failed_batches = 2\non_broken = \"dead_letter\"")
    })
    .await;
    let values: Vec<String> = (0..6).map(|i| format!("v-{i}")).collect();
    produce_values(&run.brokers, &run.topic, &values).await;
    eventually("6 dead letters", || async { run.dead().await == 6 }).await;
    let snapshot = run.snapshot();
    println!("state {:?}, letters {:?}", snapshot.state, run.dead_letters().await.first().map(|l| l.reason.clone()));
    assert_eq!(snapshot.state, finlake_api::PipelineState::Running);
    let letters = run.dead_letters().await;
    let kinds: Vec<&str> = letters.iter().map(|l| l.error_kind.as_str()).collect();
    assert!(letters.iter().all(|l| l.error_kind == "broken" && l.reason.contains("on_broken")), "{kinds:?}");
    assert_exactly_once("dead letters", &dead_letter_coordinates(&run.lake("dead_letters")).await);
    run.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_the_broker_no_longer_has_are_reported_not_skipped_quietly() {
    let run = start_chaos("{ tag = \"a\" }", |t| t).await;
    produce_values(&run.brokers, &run.topic, &["first".to_string()]).await;
    eventually("1 row", || async { run.rows().await == 1 }).await;
    let Running { broker, brokers, topic, dir, service, .. } = run;
    service.shutdown().await;
    // While the pipeline is down, far more than the embedded broker keeps (≈5 MB per
    // partition) arrives: the oldest records are evicted before they are read.
    let filler = "x".repeat(4000);
    let values: Vec<String> = (0..5000).map(|i| format!("{i}-{filler}")).collect();
    produce_values(&brokers, &topic, &values).await;
    let service =
        Service::start(Config::load(&dir.path().join("pipelines.toml")).unwrap(), brokers.clone()).await.unwrap();
    let stats = service.registry.get("p").unwrap();
    eventually("the skip reported", || async {
        stats.snapshot().last_error.unwrap_or_default().contains("no longer on the broker")
    })
    .await;
    println!("reported: {:?}", stats.snapshot().last_error);
    service.shutdown().await;
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_dead_letter_table_does_not_re_read_the_topic() {
    let run = start_chaos("{ tag = \"a\" }", |t| t).await;
    let values: Vec<String> = (0..30).map(|i| format!("ok-{i}")).collect();
    produce_values(&run.brokers, &run.topic, &values).await;
    eventually("30 rows", || async { run.rows().await == 30 }).await;
    let Running { broker, brokers, topic, dir, service, .. } = run;
    service.shutdown().await;
    let file = dir.path().join("pipelines.toml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("dead_letter_table = \"dead_letters\"", "dead_letter_table = \"dead_letters_v2\"");
    std::fs::write(&file, text).unwrap();
    let service = Service::start(Config::load(&file).unwrap(), brokers.clone()).await.unwrap();
    let more: Vec<String> = (30..35).map(|i| format!("ok-{i}")).collect();
    produce_values(&brokers, &topic, &more).await;
    eventually("35 rows", || async { kafka_coordinates(&dir.path().join("lake/tagged")).await.len() == 35 }).await;
    let records_in = service.registry.get("p").unwrap().snapshot().records_in;
    println!("records through the plugin after the rename: {records_in}");
    assert_eq!(records_in, 5, "the topic was read again through the plugin");
    service.shutdown().await;
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_cluster_id_fails_and_retries_instead_of_guessing() {
    let run = start_chaos("{ tag = \"a\" }", |t| t).await;
    let values: Vec<String> = (0..10).map(|i| format!("ok-{i}")).collect();
    produce_values(&run.brokers, &run.topic, &values).await;
    eventually("10 rows", || async { run.rows().await == 10 }).await;
    let Running { broker, brokers, topic, dir, service, .. } = run;
    service.shutdown().await;
    // The next start cannot learn the cluster id (a lookup that timed out). Guessing one would
    // make every table look empty and read the topic again into them.
    finlake::pipeline::fault::hide_cluster_id_once(&topic);
    let service =
        Service::start(Config::load(&dir.path().join("pipelines.toml")).unwrap(), brokers.clone()).await.unwrap();
    let stats = service.registry.get("p").unwrap();
    eventually("the missing cluster id reported", || async {
        stats.snapshot().last_error.unwrap_or_default().contains("cluster id")
    })
    .await;
    println!("{:?}: {:?}", stats.snapshot().state, stats.snapshot().last_error);
    let more: Vec<String> = (10..15).map(|i| format!("ok-{i}")).collect();
    produce_values(&brokers, &topic, &more).await;
    let table = dir.path().join("lake/tagged");
    eventually("15 rows after the retry", || async { kafka_coordinates(&table).await.len() == 15 }).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_exactly_once("tagged", &kafka_coordinates(&table).await);
    service.shutdown().await;
    drop(broker);
}

#[test]
fn two_dead_letters_from_one_record_at_one_stage_are_both_pending() {
    use finlake::dlq::{DeadLetterRow, Filter, REPLAYED, pending};
    let letter = |value: &str, reason: &str| DeadLetterRow {
        pipeline: "p".into(),
        stage: "score".into(),
        plugin: "fraud-score".into(),
        plugin_version: "1".into(),
        error_kind: "rejected".into(),
        reason: reason.into(),
        target_table: None,
        topic: "t".into(),
        partition: 0,
        offset: 7,
        kafka_timestamp_ms: None,
        key: None,
        value: value.as_bytes().to_vec(),
        failed_at_ms: 10,
    };
    // A stage fed two rows from one record, both refused.
    let (a, b) = (letter("row a", "bad a"), letter("row b", "bad b"));
    assert_eq!(pending(&[a.clone(), b.clone()], &Filter::default()).len(), 2);
    // One of them replayed: the other is still pending.
    let mut marker = a.clone();
    marker.error_kind = REPLAYED.into();
    marker.reason = "replay 1: ok, 1 row(s)".into();
    let left = pending(&[a, b, marker], &Filter::default());
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].value, b"row b");
}

#[test]
fn replay_csv_refuses_times_that_are_not_finite_numbers() {
    use finlake::simulate::creditcard::{HEADER, read_rows};
    let v: String = (0..28).map(|_| ",0.1").collect();
    for time in ["inf", "NaN", "1e300", "-5"] {
        let csv = format!("{HEADER}\n{time}{v},1.0,0\n");
        let rows: Vec<_> = read_rows(std::io::Cursor::new(csv)).collect();
        println!("Time {time}: {:?}", rows[0].as_ref().err());
        assert!(rows[0].as_ref().is_err_and(|e| e.contains("line 2") && e.contains("Time")), "Time {time} accepted");
    }
}
