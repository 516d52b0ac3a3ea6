//! How a pipeline run fails.

use crate::kafka::KafkaError;
use crate::plugin::PluginError;
use crate::sink::SinkError;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("pipeline {pipeline}: {message}")]
    Other { pipeline: String, message: String },
}

impl PipelineError {
    /// Another process writes this pipeline's progress (P4): the pipeline must stop.
    pub fn is_another_writer(&self) -> bool {
        matches!(self, PipelineError::Sink(SinkError::Lake(crate::delta::DeltaError::AnotherWriter { .. })))
    }
}

impl From<rdkafka::error::KafkaError> for PipelineError {
    fn from(e: rdkafka::error::KafkaError) -> Self {
        PipelineError::Kafka(KafkaError::Client(e))
    }
}
