//! Kafka transport for cyberflag, through `rdkafka` (librdkafka 2.12, built from source).
//!
//! This is the only crate that links `rdkafka`; nothing else sees its types. It owns the client
//! settings every role shares, topic administration, an idempotent producer, and consumers. Against the local broker (Tansu 0.6.0)
//! topics are never auto-created and transactions are never used, so topics are created here,
//! explicitly, before anything produces.

mod admin;
mod consumer;
mod group;
mod producer;

pub use admin::{
    TopicOutcome, TopicSpec, create_topics, describe_topics, group_progress, watermarks,
};
pub use consumer::{Received, read_topic};
pub use group::{GroupConsumer, Incoming};
pub use producer::{Ack, Delivery, Outgoing, Publisher};

use rdkafka::ClientConfig;

/// A message's headers, copied out of librdkafka's buffer, in order.
pub(crate) fn owned_headers(message: &impl rdkafka::Message) -> Vec<(String, Vec<u8>)> {
    use rdkafka::message::Headers;
    message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| {
                    (
                        h.key.to_owned(),
                        h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Connection settings shared by every Kafka client of every role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Bootstrap brokers, comma-separated `host:port`.
    pub brokers: String,
    /// librdkafka `security.protocol` (`plaintext`, `ssl`, `sasl_plaintext`, `sasl_ssl`).
    pub security_protocol: String,
    /// CA certificate file for TLS; `None` uses the system store.
    pub ssl_ca_location: Option<String>,
}

impl ClientSettings {
    /// Settings for a plaintext broker at `brokers`.
    pub fn plaintext(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            security_protocol: "plaintext".into(),
            ssl_ca_location: None,
        }
    }

    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("security.protocol", &self.security_protocol)
            .set("client.id", "cyberflag");
        if let Some(ca) = &self.ssl_ca_location {
            config.set("ssl.ca.location", ca);
        }
        config
    }
}

/// Why a Kafka operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client could not be created from the settings (a bad setting, not a network error).
    #[error("invalid Kafka client settings: {0}")]
    Client(#[source] rdkafka::error::KafkaError),
    /// The brokers did not answer or refused the request.
    #[error("Kafka request failed: {0}")]
    Broker(#[source] rdkafka::error::KafkaError),
    /// A topic could not be created.
    #[error("cannot create topic {topic}: {reason}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// The broker's error code.
        reason: String,
    },
    /// A topic exists with fewer partitions than configured; ordering per crime depends on
    /// the partition count, so this is never fixed silently.
    #[error(
        "topic {topic} exists with {actual} partition(s) but {expected} are configured; \
         change kafka.*_partitions or recreate the topic"
    )]
    PartitionMismatch {
        /// The topic.
        topic: String,
        /// Partitions configured.
        expected: i32,
        /// Partitions the broker reports.
        actual: i32,
    },
}
