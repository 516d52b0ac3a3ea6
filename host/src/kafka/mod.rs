//! Kafka: the embedded broker, the consumer that seeks from Delta, and producers.

pub mod consumer;
pub mod embedded;
pub mod producer;

pub use consumer::{Assignment, ConsumerShared, Handoff, Lag, PipelineConsumer, Positions, create_consumer};
pub use embedded::EmbeddedBroker;

use std::collections::BTreeMap;

use rdkafka::ClientConfig;

#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("Kafka client: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    #[error(
        "topic {topic:?} does not exist on {brokers} (create it, or list it in kafka.topics for the embedded broker)"
    )]
    NoTopic { topic: String, brokers: String },
    #[error("embedded broker: {0}")]
    Embedded(String),
    #[error("{0}")]
    Config(String),
}

/// This process's name among the hosts of a consumer group: `FINLAKE_HOST_ID`, else the
/// machine's host name and the process id. Sent as Kafka's `client.id` (group tools show it)
/// and shown by `/api/pipelines`.
pub fn host_id() -> String {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        std::env::var("FINLAKE_HOST_ID").ok().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| {
            let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_string())
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "finlake".into());
            format!("{name}-{}", std::process::id())
        })
    })
    .clone()
}

/// The consumer group of pipeline `name`: one group per pipeline, so that a topic read by two
/// pipelines is read whole by each.
pub fn group_of(config: &crate::config::Config, pipeline: &str) -> String {
    format!("{}-{pipeline}", config.kafka.group_id)
}

/// Base client config shared by every client FinLake creates.
pub fn client_config(brokers: &str, properties: &BTreeMap<String, String>) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    c.set("client.id", host_id());
    for (k, v) in properties {
        c.set(k, v);
    }
    c
}
