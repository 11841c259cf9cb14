//! `[kafka]`: where records travel between roles.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, refuse};

/// `[kafka]`: the brokers, the topics, and how every client reaches the brokers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap brokers, comma-separated `host:port`.
    pub brokers: String,
    /// Topic the force adapters publish raw records to.
    pub raw_topic: String,
    /// Topic every rejected record goes to, with its reason.
    pub dlq_topic: String,
    /// Partitions of the raw topic; the unit of parallelism of `ingest`.
    pub raw_partitions: i32,
    /// Partitions of the dead-letter topic.
    pub dlq_partitions: i32,
    /// Replication factor for created topics (1 on a single broker, 3 in production).
    pub replication_factor: i32,
    /// `security.protocol` of every client.
    pub security_protocol: SecurityProtocol,
    /// CA certificate file for TLS to the brokers (empty: the system store).
    pub ssl_ca_location: String,
    /// Client certificate (PEM) for mutual TLS to the brokers; empty: none.
    pub ssl_certificate_location: String,
    /// The client certificate's private key (PEM); empty: none.
    pub ssl_key_location: String,
    /// Password of that key, if it is encrypted.
    pub ssl_key_password: Secret,
    /// SASL mechanism for `sasl_*` protocols.
    pub sasl_mechanism: SaslMechanism,
    /// SASL user name.
    pub sasl_username: String,
    /// SASL password.
    pub sasl_password: Secret,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            raw_topic: "cyberflag.raw.v1".into(),
            dlq_topic: "cyberflag.dlq.v1".into(),
            raw_partitions: 12,
            dlq_partitions: 3,
            replication_factor: 1,
            security_protocol: SecurityProtocol::Plaintext,
            ssl_ca_location: String::new(),
            ssl_certificate_location: String::new(),
            ssl_key_location: String::new(),
            ssl_key_password: Secret::default(),
            sasl_mechanism: SaslMechanism::ScramSha512,
            sasl_username: String::new(),
            sasl_password: Secret::default(),
        }
    }
}

/// How clients reach the brokers (librdkafka's `security.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityProtocol {
    /// No TLS, no authentication (loopback and development only).
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL without TLS.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// librdkafka's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Ssl => "ssl",
            Self::SaslPlaintext => "sasl_plaintext",
            Self::SaslSsl => "sasl_ssl",
        }
    }

    /// Whether the connection is encrypted.
    pub fn tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// Whether clients authenticate with SASL.
    pub fn sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// The SASL mechanism of `sasl_*` protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaslMechanism {
    /// `PLAIN` (over TLS only, in practice).
    #[serde(rename = "PLAIN")]
    Plain,
    /// `SCRAM-SHA-256`.
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    /// `SCRAM-SHA-512`.
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    /// librdkafka's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl KafkaConfig {
    /// Refuses values that are well-typed but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("kafka.raw_partitions", self.raw_partitions),
            ("kafka.dlq_partitions", self.dlq_partitions),
            ("kafka.replication_factor", self.replication_factor),
        ] {
            if value < 1 {
                return Err(refuse(key, format!("must be at least 1, got {value}")));
            }
        }
        for (key, value) in [
            ("kafka.brokers", &self.brokers),
            ("kafka.raw_topic", &self.raw_topic),
            ("kafka.dlq_topic", &self.dlq_topic),
        ] {
            if value.trim().is_empty() {
                return Err(refuse(key, "must not be empty".into()));
            }
        }
        if let Some(broker) = self
            .brokers
            .split(',')
            .map(str::trim)
            .find(|broker| !is_host_port(broker))
        {
            return Err(refuse(
                "kafka.brokers",
                format!("{broker:?} is not a host:port pair (comma-separate several)"),
            ));
        }
        if self.raw_topic == self.dlq_topic {
            return Err(refuse(
                "kafka.dlq_topic",
                "must differ from kafka.raw_topic".into(),
            ));
        }
        let protocol = self.security_protocol;
        if protocol.sasl() && (self.sasl_username.is_empty() || self.sasl_password.is_empty()) {
            return Err(refuse(
                "kafka.sasl_username",
                format!(
                    "security protocol {} needs kafka.sasl_username and kafka.sasl_password",
                    protocol.as_str()
                ),
            ));
        }
        if !protocol.sasl() && (!self.sasl_username.is_empty() || !self.sasl_password.is_empty()) {
            return Err(refuse(
                "kafka.sasl_username",
                format!(
                    "SASL credentials are set but kafka.security_protocol is {}; set it to \
                     sasl_ssl (or sasl_plaintext), or remove them",
                    protocol.as_str()
                ),
            ));
        }
        if self.ssl_certificate_location.is_empty() != self.ssl_key_location.is_empty() {
            return Err(refuse(
                "kafka.ssl_certificate_location",
                "a client certificate needs its key (kafka.ssl_key_location), and the other way \
                 round"
                    .into(),
            ));
        }
        let tls_set = [
            ("kafka.ssl_ca_location", self.ssl_ca_location.is_empty()),
            (
                "kafka.ssl_certificate_location",
                self.ssl_certificate_location.is_empty(),
            ),
            ("kafka.ssl_key_location", self.ssl_key_location.is_empty()),
            ("kafka.ssl_key_password", self.ssl_key_password.is_empty()),
        ]
        .into_iter()
        .find(|(_, empty)| !empty);
        if let Some((key, _)) = tls_set
            && !protocol.tls()
        {
            return Err(refuse(
                key,
                format!(
                    "is set but kafka.security_protocol is {}: the brokers would be reached \
                     without TLS; set it to ssl or sasl_ssl, or remove the TLS settings",
                    protocol.as_str()
                ),
            ));
        }
        Ok(())
    }

    /// The client settings every role shares.
    pub fn client(&self) -> bus::ClientSettings {
        let set = |value: &str| Some(value.to_owned()).filter(|v| !v.is_empty());
        bus::ClientSettings {
            brokers: self.brokers.clone(),
            security_protocol: self.security_protocol.as_str().to_owned(),
            ssl_ca_location: set(&self.ssl_ca_location),
            ssl_certificate_location: set(&self.ssl_certificate_location),
            ssl_key_location: set(&self.ssl_key_location),
            ssl_key_password: set(self.ssl_key_password.expose()),
            sasl: self.security_protocol.sasl().then(|| bus::Sasl {
                mechanism: self.sasl_mechanism.as_str().to_owned(),
                username: self.sasl_username.clone(),
                password: self.sasl_password.expose().to_owned(),
            }),
        }
    }
}

/// `host:port` with a non-empty host and a numeric port.
fn is_host_port(text: &str) -> bool {
    text.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok()
    })
}
