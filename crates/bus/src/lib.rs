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
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Bootstrap brokers, comma-separated `host:port`.
    pub brokers: String,
    /// librdkafka `security.protocol` (`plaintext`, `ssl`, `sasl_plaintext`, `sasl_ssl`).
    pub security_protocol: String,
    /// CA certificate file for TLS; `None` uses the system store.
    pub ssl_ca_location: Option<String>,
    /// Client certificate file (PEM) for mutual TLS.
    pub ssl_certificate_location: Option<String>,
    /// The client certificate's private key file (PEM).
    pub ssl_key_location: Option<String>,
    /// Password of an encrypted private key (secret).
    pub ssl_key_password: Option<String>,
    /// SASL credentials for the `sasl_*` protocols.
    pub sasl: Option<Sasl>,
}

/// SASL credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Sasl {
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: String,
    /// User name.
    pub username: String,
    /// Password (secret).
    pub password: String,
}

impl std::fmt::Debug for Sasl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sasl")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("brokers", &self.brokers)
            .field("security_protocol", &self.security_protocol)
            .field("ssl_ca_location", &self.ssl_ca_location)
            .field("ssl_certificate_location", &self.ssl_certificate_location)
            .field("ssl_key_location", &self.ssl_key_location)
            .field("sasl", &self.sasl)
            .finish_non_exhaustive()
    }
}

impl ClientSettings {
    /// Settings for a plaintext broker at `brokers`.
    pub fn plaintext(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            security_protocol: "plaintext".into(),
            ssl_ca_location: None,
            ssl_certificate_location: None,
            ssl_key_location: None,
            ssl_key_password: None,
            sasl: None,
        }
    }

    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("security.protocol", &self.security_protocol)
            .set("client.id", "cyberflag");
        let optional = [
            ("ssl.ca.location", &self.ssl_ca_location),
            ("ssl.certificate.location", &self.ssl_certificate_location),
            ("ssl.key.location", &self.ssl_key_location),
            ("ssl.key.password", &self.ssl_key_password),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                config.set(name, value);
            }
        }
        if let Some(sasl) = &self.sasl {
            config
                .set("sasl.mechanism", &sasl.mechanism)
                .set("sasl.username", &sasl.username)
                .set("sasl.password", &sasl.password);
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
