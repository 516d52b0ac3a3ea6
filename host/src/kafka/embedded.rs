//! An in-process Kafka-protocol broker (librdkafka's mock cluster) for demos and tests.
//!
//! It speaks the real protocol on a loopback port, so any Kafka client (kcat included) can
//! use it. It keeps data in memory only, and only the most recent ~5 MB per partition.

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use super::KafkaError;

pub struct EmbeddedBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl EmbeddedBroker {
    /// Starts a one-broker cluster and creates `topics` with `partitions` each.
    pub fn start(topics: &[String], partitions: i32) -> Result<Self, KafkaError> {
        let cluster = MockCluster::new(1)?;
        for topic in topics {
            cluster
                .create_topic(topic, partitions, 1)
                .map_err(|e| KafkaError::Embedded(format!("cannot create topic {topic}: {e}")))?;
        }
        Ok(EmbeddedBroker { cluster })
    }

    /// Bootstrap address (`127.0.0.1:PORT`).
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), KafkaError> {
        self.cluster
            .create_topic(topic, partitions, 1)
            .map_err(|e| KafkaError::Embedded(format!("cannot create topic {topic}: {e}")))
    }
}
