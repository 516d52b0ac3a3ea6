//! Kafka: the embedded broker, the consumer that seeks from Delta, and producers.

pub mod consumer;
pub mod embedded;
pub mod producer;

pub use consumer::{Lag, PipelineConsumer, Positions, create_consumer};
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
}

/// Base client config shared by every client FinLake creates.
pub fn client_config(brokers: &str, properties: &BTreeMap<String, String>) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    for (k, v) in properties {
        c.set(k, v);
    }
    c
}
