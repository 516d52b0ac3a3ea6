//! An in-process Kafka-protocol broker (librdkafka's mock cluster) for demos and tests.
//!
//! It speaks the real protocol on a loopback port, so any Kafka client (kcat included) can
//! use it. It keeps data in memory only, and only the most recent ~5 MB per partition.

use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, DefaultProducerContext, Producer};

use super::KafkaError;

/// The broker: the mock cluster lives as long as the client that owns it.
pub struct EmbeddedBroker {
    owner: BaseProducer<DefaultProducerContext>,
}

impl EmbeddedBroker {
    /// Starts a one-broker cluster and creates `topics` with `partitions` each.
    #[allow(unsafe_code)]
    pub fn start(topics: &[String], partitions: i32) -> Result<Self, KafkaError> {
        let owner: BaseProducer<DefaultProducerContext> =
            ClientConfig::new().set("test.mock.num.brokers", "1").create()?;
        let broker = EmbeddedBroker { owner };
        let cluster = broker.cluster()?;
        // Each FinLake consumer group has one member (one host per pipeline and lake), so
        // waiting `group.initial.rebalance.delay.ms` (3 s, as on a Kafka broker) for others to
        // join only delays every start. SAFETY: the pointer is the live mock cluster owned by
        // `broker.owner`, which outlives this call.
        unsafe {
            let native = rdkafka_sys::rd_kafka_handle_mock_cluster(broker.owner.client().native_ptr());
            if !native.is_null() {
                rdkafka_sys::rd_kafka_mock_group_initial_rebalance_delay_ms(native, 0);
            }
        }
        for topic in topics {
            cluster
                .create_topic(topic, partitions, 1)
                .map_err(|e| KafkaError::Embedded(format!("cannot create topic {topic}: {e}")))?;
        }
        drop(cluster);
        Ok(broker)
    }

    fn cluster(&self) -> Result<MockCluster<'_, DefaultProducerContext>, KafkaError> {
        self.owner.client().mock_cluster().ok_or_else(|| KafkaError::Embedded("the mock cluster is gone".into()))
    }

    /// Bootstrap address (`127.0.0.1:PORT`).
    pub fn bootstrap_servers(&self) -> String {
        self.cluster().map(|c| c.bootstrap_servers()).unwrap_or_default()
    }

    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), KafkaError> {
        self.cluster()?
            .create_topic(topic, partitions, 1)
            .map_err(|e| KafkaError::Embedded(format!("cannot create topic {topic}: {e}")))
    }
}
