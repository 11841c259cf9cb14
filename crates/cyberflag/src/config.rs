//! Typed configuration: built-in defaults, then a TOML file, then `CYBERFLAG_*` variables.
//!
//! Every key lives in a section (`[kafka]`, `[clickhouse]`, `[log]`), and every key can be set
//! from the environment as `CYBERFLAG_<SECTION>_<KEY>` in upper case, for example
//! `CYBERFLAG_KAFKA_RAW_TOPIC`. Section names never contain `_`, so the first `_` after the
//! prefix is the section separator. Unknown keys, in the file or in the environment, are
//! rejected at start-up: a misspelt variable must not silently leave a default in force.
//!
//! The file is `--config FILE` (or `CYBERFLAG_CONFIG`) when given, and otherwise
//! `./cyberflag.toml` when it exists (`cargo xtask stack up` writes one for development).

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The environment variable prefix of every configuration key.
pub const ENV_PREFIX: &str = "CYBERFLAG_";

/// Variables with the prefix that are not configuration keys (they choose the file or the log
/// filter before configuration is read).
pub const META_ENV_VARS: &[&str] = &["CYBERFLAG_CONFIG", "CYBERFLAG_LOG"];

/// The file read when no `--config` is given, if it exists in the working directory.
pub const DEFAULT_FILE: &str = "cyberflag.toml";

/// The whole configuration of every role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The Kafka (or Kafka-compatible) broker and the topics cyberflag uses.
    pub kafka: KafkaConfig,
    /// The ClickHouse server that stores records and answers statistics.
    pub clickhouse: ClickHouseConfig,
    /// Log output.
    pub log: LogConfig,
    /// Keys and credentials.
    pub security: SecurityConfig,
    /// Prometheus metrics of long-running roles.
    pub metrics: MetricsConfig,
    /// Force adapters.
    pub adapter: AdapterConfig,
    /// The ingest consumer.
    pub ingest: IngestConfig,
    /// Alerting on sudden rises and on data quality.
    pub alerts: AlertsConfig,
    /// The statistics API and dashboard.
    pub api: ApiConfig,
}

/// `[api]`: `cyberflag api` and `cyberflag token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Address the API, its dashboard and its `/metrics` listen on.
    pub listen: String,
    /// Token file (TOML: SHA-256 digests of the tokens and the disclosure key) that
    /// `cyberflag token` edits and the API re-reads whenever its content changes.
    pub tokens_file: String,
    /// Published figures from 1 up to this are shown as suppressed outside a viewer's exact
    /// scope (at most 100).
    pub suppress_max: u64,
    /// Largest perturbation (±) the cell-key method applies to one grid cell outside a
    /// viewer's exact scope (1 to 10; 0 would publish exact counts).
    pub perturbation_max: u64,
    /// Requests a minute each token may make (its query budget), refilled continuously.
    pub requests_per_minute: u64,
    /// Requests a token may make at once before the per-minute rate applies.
    pub request_burst: u64,
    /// Seconds between count snapshots built by the API (0: never; run `cyberflag snapshot`).
    pub snapshot_secs: u64,
    /// The API builds a snapshot early once this many versions were stored after the last one
    /// (each adds work to every query until the next snapshot).
    pub snapshot_changes: u64,
    /// A snapshot is cut this many seconds before the server's clock, so inserts in flight
    /// when it starts are in it or after it, never lost between.
    pub snapshot_margin_secs: u64,
    /// Seconds a request waits for ClickHouse before it is answered 504.
    pub query_timeout_secs: u64,
    /// PEM certificate chain for HTTPS (with `tls_key_file`); empty: plain HTTP.
    pub tls_cert_file: String,
    /// PEM private key for HTTPS (secret file: its path is logged, never its content).
    pub tls_key_file: String,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            tokens_file: ".cyberflag/tokens.toml".into(),
            suppress_max: 7,
            perturbation_max: 2,
            requests_per_minute: 120,
            request_burst: 60,
            snapshot_secs: 600,
            snapshot_changes: 5_000,
            snapshot_margin_secs: 120,
            query_timeout_secs: 30,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
        }
    }
}

/// `[alerts]`: `cyberflag alerts run`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Seconds between evaluations of the service (new complete weeks, data quality).
    pub interval_secs: u64,
    /// Benjamini–Hochberg false-discovery rate over every test of a week (0 < fdr < 1).
    pub fdr: f64,
    /// Prior weight of the NB CUSUM on force and national totals in the weighted
    /// Benjamini–Hochberg control (every other test weighs 1).
    pub primary_weight: f64,
    /// Farrington flexible's `alpha` (Noufaily settings otherwise).
    pub farrington_alpha: f64,
    /// The NB CUSUM's alarm level (R `c.ARL`).
    pub cusum_threshold: f64,
    /// Weeks the NB CUSUM watches, ending with the evaluated week.
    pub cusum_window: u64,
    /// A rise alert resolves after this many evaluated weeks without a finding.
    pub quiet_weeks: u64,
    /// A force that has sent nothing for this many days raises a data-quality alert.
    pub silent_days: u64,
    /// A force's cyber-flag share below this fraction of its previous year's share (and
    /// significantly so) raises a data-quality alert.
    pub flag_share_drop: f64,
    /// Alertmanager base URLs, comma-separated (`POST <url>/api/v2/alerts`); empty: store only.
    /// Secret: URLs may carry credentials.
    pub webhooks: String,
    /// Seconds between delivery attempts while a receiver is refusing.
    pub retry_secs: u64,
    /// Hours a firing alert stays active at the receiver without news (its `endsAt`).
    pub ttl_hours: u64,
    /// Base URL of the dashboard, for each alert's `generatorURL`; empty: none.
    pub dashboard_url: String,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            interval_secs: 3_600,
            fdr: 0.05,
            primary_weight: 10.0,
            farrington_alpha: 0.01,
            cusum_threshold: 5.0,
            cusum_window: 26,
            quiet_weeks: 4,
            silent_days: 14,
            flag_share_drop: 0.5,
            webhooks: String::new(),
            retry_secs: 30,
            ttl_hours: 24 * 8,
            dashboard_url: String::new(),
        }
    }
}

/// `[ingest]`: the consumer that stores records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Kafka consumer group; processes in one group split the partitions.
    pub group: String,
    /// Rows per INSERT at most.
    pub batch_rows: u64,
    /// Approximate bytes per INSERT at most.
    pub batch_bytes: u64,
    /// Longest time, in milliseconds, a record waits in a batch.
    pub batch_interval_ms: u64,
    /// Record versions remembered for duplicate detection (twice this many at most).
    pub seen_capacity: u64,
    /// Static group membership id, unique per process and stable across its restarts (e.g. the
    /// pod name); empty for dynamic membership.
    pub instance_id: String,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            group: "cyberflag-ingest".into(),
            batch_rows: 20_000,
            batch_bytes: 32 * 1024 * 1024,
            batch_interval_ms: 1_000,
            seen_capacity: 500_000,
            instance_id: String::new(),
        }
    }
}

/// `[security]`: where keys come from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Keyring file (TOML): per force, the signing key id and key, and in development the
    /// pseudonymisation key. `ingest` verifies signatures with it; an adapter whose profile
    /// names no keys takes its force's keys from it. Empty: none.
    pub keyring: String,
    /// A development or demonstration setup: the example keys and push token shipped in
    /// `deploy/` are accepted, and secret files other users can read are warned about, not
    /// refused. Never in production (see `crate::secrets`).
    pub development: bool,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address serving `/metrics` for long-running roles; empty disables it.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9464".into(),
        }
    }
}

/// `[adapter]`: defaults for force adapters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdapterConfig {
    /// Directory for checkpoints of profiles that do not name one.
    pub state_dir: String,
    /// Rows between checkpoint saves (bounds re-sends after a crash).
    pub checkpoint_every: u64,
    /// Messages awaiting broker acknowledgement at most (bounds memory and re-sends).
    pub max_in_flight: u64,
}

impl Default for AdapterConfig {
    fn default() -> Self {
        Self {
            state_dir: ".cyberflag/state".into(),
            checkpoint_every: 2_000,
            max_in_flight: 10_000,
        }
    }
}

/// `[kafka]`: where records travel between roles.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
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
    /// `security.protocol` for every client: `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`.
    pub security_protocol: String,
    /// CA certificate file for TLS to the brokers (empty: the system store).
    pub ssl_ca_location: String,
    /// Client certificate (PEM) for mutual TLS to the brokers; empty: none.
    pub ssl_certificate_location: String,
    /// The client certificate's private key (PEM); empty: none.
    pub ssl_key_location: String,
    /// Password of that key, if it is encrypted (secret).
    pub ssl_key_password: String,
    /// SASL mechanism for `sasl_*` protocols: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub sasl_mechanism: String,
    /// SASL user name.
    pub sasl_username: String,
    /// SASL password (secret).
    pub sasl_password: String,
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
            security_protocol: "plaintext".into(),
            ssl_ca_location: String::new(),
            ssl_certificate_location: String::new(),
            ssl_key_location: String::new(),
            ssl_key_password: String::new(),
            sasl_mechanism: "SCRAM-SHA-512".into(),
            sasl_username: String::new(),
            sasl_password: String::new(),
        }
    }
}

/// `[clickhouse]`: the store.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseConfig {
    /// HTTP endpoint of the server.
    pub url: String,
    /// Database holding cyberflag's tables; created by `cyberflag migrate`.
    pub database: String,
    /// User name.
    pub user: String,
    /// Password (secret: never logged, redacted by `cyberflag config show`).
    pub password: String,
    /// File holding the password instead (a mounted secret; a trailing newline is ignored).
    pub password_file: String,
    /// Cluster name (from the servers' `remote_servers`) the schema spans; empty for one server.
    pub cluster: String,
    /// Seconds an insert may take to send its rows, and again to be acknowledged, before it is
    /// retried (a stalled network otherwise holds it until the kernel drops the connection).
    /// An insert stamps its rows when it starts, so twice this must stay below
    /// `api.snapshot_margin_secs`, or a slow insert could land behind a snapshot's cut.
    pub insert_timeout_secs: u64,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8123".into(),
            database: "cyberflag".into(),
            user: "default".into(),
            password: String::new(),
            password_file: String::new(),
            cluster: String::new(),
            insert_timeout_secs: 30,
        }
    }
}

impl ClickHouseConfig {
    /// The URL fit for messages and logs: credentials redacted (configuration refuses a URL
    /// carrying them, so this is the second line of defence).
    pub fn display_url(&self) -> std::borrow::Cow<'_, str> {
        crate::secrets::redact_url(&self.url)
    }
}

impl std::fmt::Debug for AlertsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertsConfig")
            .field("interval_secs", &self.interval_secs)
            .field("fdr", &self.fdr)
            .field("webhooks", &redact(&self.webhooks))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("raw_topic", &self.raw_topic)
            .field("dlq_topic", &self.dlq_topic)
            .field("security_protocol", &self.security_protocol)
            .field("ssl_ca_location", &self.ssl_ca_location)
            .field("ssl_certificate_location", &self.ssl_certificate_location)
            .field("ssl_key_location", &self.ssl_key_location)
            .field("ssl_key_password", &redact(&self.ssl_key_password))
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("sasl_username", &self.sasl_username)
            .field("sasl_password", &redact(&self.sasl_password))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ClickHouseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseConfig")
            .field("url", &crate::secrets::redact_url(&self.url))
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &redact(&self.password))
            .field("password_file", &self.password_file)
            .field("cluster", &self.cluster)
            .field("insert_timeout_secs", &self.insert_timeout_secs)
            .finish()
    }
}

/// `[log]`: diagnostics on standard error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `cyberflag=debug,info`; `CYBERFLAG_LOG` overrides it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An explicitly named file does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    /// A key is unknown, a value has the wrong type, or the file is not TOML.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// A `CYBERFLAG_*` variable names no key.
    #[error("unknown environment variable {name}{hint}")]
    UnknownVariable {
        /// The variable.
        name: String,
        /// ", did you mean …?" when a key is close.
        hint: String,
    },
    /// A variable's value does not have its key's type.
    #[error("{name}={value:?}: expected {expected}")]
    VariableType {
        /// The variable.
        name: String,
        /// Its value (never a secret: secrets are strings and strings always parse).
        value: String,
        /// The type of the key.
        expected: &'static str,
    },
    /// A value is well-typed but unusable.
    #[error("invalid configuration: {key}: {message}")]
    Value {
        /// The dotted key, e.g. `kafka.raw_partitions`.
        key: &'static str,
        /// What is wrong and what would be right.
        message: String,
    },
}

impl Config {
    /// Loads defaults, then `file` (or `./cyberflag.toml` if present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`Config::load`], with the environment given explicitly.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.into())),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_FILE).exists() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_FILE));
            }
            None => {}
        }
        let overrides = environment_overrides(env)?;
        let mut config: Config = figment
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        config.read_password_file()?;
        config.check()?;
        Ok(config)
    }

    /// Takes the ClickHouse password from `clickhouse.password_file` when one is named.
    fn read_password_file(&mut self) -> Result<(), ConfigError> {
        let clickhouse = &mut self.clickhouse;
        if clickhouse.password_file.is_empty() {
            return Ok(());
        }
        let refuse = |message: String| ConfigError::Value {
            key: "clickhouse.password_file",
            message,
        };
        if !clickhouse.password.is_empty() {
            return Err(refuse(
                "set clickhouse.password or clickhouse.password_file, not both".into(),
            ));
        }
        let text = std::fs::read_to_string(&clickhouse.password_file).map_err(|error| {
            refuse(format!("cannot read {}: {error}", clickhouse.password_file))
        })?;
        let password = text.trim_end_matches(['\n', '\r']);
        if password.is_empty() {
            return Err(refuse(format!("{} is empty", clickhouse.password_file)));
        }
        clickhouse.password = password.to_owned();
        Ok(())
    }

    /// Rejects values that are well-typed but cannot work, so the process fails at start-up.
    fn check(&self) -> Result<(), ConfigError> {
        let positive = |key, value: i32| {
            if value >= 1 {
                Ok(())
            } else {
                Err(ConfigError::Value {
                    key,
                    message: format!("must be at least 1, got {value}"),
                })
            }
        };
        positive("kafka.raw_partitions", self.kafka.raw_partitions)?;
        positive("kafka.dlq_partitions", self.kafka.dlq_partitions)?;
        positive("kafka.replication_factor", self.kafka.replication_factor)?;
        if self.adapter.checkpoint_every == 0 || self.adapter.max_in_flight == 0 {
            return Err(ConfigError::Value {
                key: "adapter.checkpoint_every",
                message: "adapter.checkpoint_every and adapter.max_in_flight must be at least 1"
                    .into(),
            });
        }
        if self.ingest.batch_rows == 0
            || self.ingest.batch_bytes == 0
            || self.ingest.batch_interval_ms == 0
        {
            return Err(ConfigError::Value {
                key: "ingest.batch_rows",
                message: "ingest.batch_rows, batch_bytes and batch_interval_ms must be at least 1"
                    .into(),
            });
        }
        if self.ingest.batch_rows > 1_000_000 {
            return Err(ConfigError::Value {
                key: "ingest.batch_rows",
                message: "at most 1000000, so one INSERT stays one block".into(),
            });
        }
        if !self.metrics.listen.is_empty()
            && self.metrics.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(ConfigError::Value {
                key: "metrics.listen",
                message: format!(
                    "{:?} is not an address like 127.0.0.1:9464",
                    self.metrics.listen
                ),
            });
        }
        let non_empty = |key, value: &str| {
            if value.trim().is_empty() {
                Err(ConfigError::Value {
                    key,
                    message: "must not be empty".into(),
                })
            } else {
                Ok(())
            }
        };
        non_empty("kafka.brokers", &self.kafka.brokers)?;
        non_empty("kafka.raw_topic", &self.kafka.raw_topic)?;
        non_empty("kafka.dlq_topic", &self.kafka.dlq_topic)?;
        non_empty("clickhouse.url", &self.clickhouse.url)?;
        if crate::secrets::url_has_credentials(&self.clickhouse.url) {
            return Err(ConfigError::Value {
                key: "clickhouse.url",
                message: format!(
                    "{} carries credentials, which anyone shown the configuration, an error or \
                     a log line would see: put them in clickhouse.user and clickhouse.password \
                     (CYBERFLAG_CLICKHOUSE_PASSWORD) instead",
                    crate::secrets::redact_url(&self.clickhouse.url)
                ),
            });
        }
        if self.kafka.raw_topic == self.kafka.dlq_topic {
            return Err(ConfigError::Value {
                key: "kafka.dlq_topic",
                message: "must differ from kafka.raw_topic".into(),
            });
        }
        let database_ok = !self.clickhouse.database.is_empty()
            && self
                .clickhouse
                .database
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !database_ok {
            return Err(ConfigError::Value {
                key: "clickhouse.database",
                message: format!(
                    "{:?} is not a plain identifier (letters, digits and _ only)",
                    self.clickhouse.database
                ),
            });
        }
        let kafka = &self.kafka;
        if kafka.security_protocol.starts_with("sasl_")
            && (kafka.sasl_username.is_empty() || kafka.sasl_password.is_empty())
        {
            return Err(ConfigError::Value {
                key: "kafka.sasl_username",
                message: format!(
                    "security protocol {} needs kafka.sasl_username and kafka.sasl_password",
                    kafka.security_protocol
                ),
            });
        }
        if !matches!(
            kafka.sasl_mechanism.as_str(),
            "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"
        ) {
            return Err(ConfigError::Value {
                key: "kafka.sasl_mechanism",
                message: format!(
                    "{:?} is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
                    kafka.sasl_mechanism
                ),
            });
        }
        if kafka.ssl_certificate_location.is_empty() != kafka.ssl_key_location.is_empty() {
            return Err(ConfigError::Value {
                key: "kafka.ssl_certificate_location",
                message: "a client certificate needs its key (kafka.ssl_key_location), and the \
                          other way round"
                    .into(),
            });
        }
        if self.api.tls_cert_file.is_empty() != self.api.tls_key_file.is_empty() {
            return Err(ConfigError::Value {
                key: "api.tls_cert_file",
                message: "HTTPS needs both api.tls_cert_file and api.tls_key_file".into(),
            });
        }
        if self.api.query_timeout_secs == 0 {
            return Err(ConfigError::Value {
                key: "api.query_timeout_secs",
                message: "must be at least 1".into(),
            });
        }
        if self.clickhouse.insert_timeout_secs == 0 {
            return Err(ConfigError::Value {
                key: "clickhouse.insert_timeout_secs",
                message: "must be at least 1".into(),
            });
        }
        if 2 * self.clickhouse.insert_timeout_secs >= self.api.snapshot_margin_secs {
            return Err(ConfigError::Value {
                key: "clickhouse.insert_timeout_secs",
                message: format!(
                    "an insert can be in flight for twice this ({} s), which must stay below \
                     api.snapshot_margin_secs ({} s): rows stamped before a snapshot's cut \
                     must have landed when it is built",
                    2 * self.clickhouse.insert_timeout_secs,
                    self.api.snapshot_margin_secs
                ),
            });
        }
        let tls_set = [
            ("kafka.ssl_ca_location", &kafka.ssl_ca_location),
            (
                "kafka.ssl_certificate_location",
                &kafka.ssl_certificate_location,
            ),
            ("kafka.ssl_key_location", &kafka.ssl_key_location),
            ("kafka.ssl_key_password", &kafka.ssl_key_password),
        ]
        .into_iter()
        .find(|(_, value)| !value.is_empty());
        if let Some((key, _)) = tls_set
            && !kafka.security_protocol.ends_with("ssl")
        {
            return Err(ConfigError::Value {
                key,
                message: format!(
                    "is set but kafka.security_protocol is {}: the brokers would be reached \
                     without TLS; set it to ssl or sasl_ssl, or remove the TLS settings",
                    kafka.security_protocol
                ),
            });
        }
        if !kafka.security_protocol.starts_with("sasl_")
            && (!kafka.sasl_username.is_empty() || !kafka.sasl_password.is_empty())
        {
            return Err(ConfigError::Value {
                key: "kafka.sasl_username",
                message: format!(
                    "SASL credentials are set but kafka.security_protocol is {}; set it to \
                     sasl_ssl (or sasl_plaintext), or remove them",
                    kafka.security_protocol
                ),
            });
        }
        if !matches!(
            self.kafka.security_protocol.as_str(),
            "plaintext" | "ssl" | "sasl_plaintext" | "sasl_ssl"
        ) {
            return Err(ConfigError::Value {
                key: "kafka.security_protocol",
                message: format!(
                    "{:?} is not one of plaintext, ssl, sasl_plaintext, sasl_ssl",
                    self.kafka.security_protocol
                ),
            });
        }
        let alerts = &self.alerts;
        let fraction = |key, value: f64| {
            if value > 0.0 && value < 1.0 {
                Ok(())
            } else {
                Err(ConfigError::Value {
                    key,
                    message: format!("must be between 0 and 1 (exclusive), got {value}"),
                })
            }
        };
        fraction("alerts.fdr", alerts.fdr)?;
        fraction("alerts.farrington_alpha", alerts.farrington_alpha)?;
        fraction("alerts.flag_share_drop", alerts.flag_share_drop)?;
        if !(alerts.primary_weight.is_finite() && alerts.primary_weight > 0.0) {
            return Err(ConfigError::Value {
                key: "alerts.primary_weight",
                message: format!("must be positive, got {}", alerts.primary_weight),
            });
        }
        if !(alerts.cusum_threshold.is_finite() && alerts.cusum_threshold > 0.0) {
            return Err(ConfigError::Value {
                key: "alerts.cusum_threshold",
                message: format!("must be positive, got {}", alerts.cusum_threshold),
            });
        }
        for (key, value) in [
            ("alerts.interval_secs", alerts.interval_secs),
            ("alerts.cusum_window", alerts.cusum_window),
            ("alerts.quiet_weeks", alerts.quiet_weeks),
            ("alerts.silent_days", alerts.silent_days),
            ("alerts.retry_secs", alerts.retry_secs),
            ("alerts.ttl_hours", alerts.ttl_hours),
        ] {
            if value == 0 {
                return Err(ConfigError::Value {
                    key,
                    message: "must be at least 1".into(),
                });
            }
        }
        if self.api.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Value {
                key: "api.listen",
                message: format!(
                    "{:?} is not an address like 127.0.0.1:8080",
                    self.api.listen
                ),
            });
        }
        self.disclosure_rule()?;
        for (key, value) in [
            ("api.requests_per_minute", self.api.requests_per_minute),
            ("api.request_burst", self.api.request_burst),
        ] {
            if value == 0 || value > 1_000_000 {
                return Err(ConfigError::Value {
                    key,
                    message: format!("must be between 1 and 1000000, got {value}"),
                });
            }
        }
        for url in self.alert_webhooks() {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Value {
                    key: "alerts.webhooks",
                    message: "every webhook must be an http:// or https:// URL".into(),
                });
            }
        }
        Ok(())
    }

    /// The configured Alertmanager base URLs.
    pub fn alert_webhooks(&self) -> Vec<String> {
        self.alerts
            .webhooks
            .split(',')
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty())
            .collect()
    }

    /// The API's disclosure rule; settings that would void its guarantee are refused, naming
    /// the key.
    pub fn disclosure_rule(&self) -> Result<api::disclosure::Rule, ConfigError> {
        api::disclosure::Rule::new(self.api.suppress_max, self.api.perturbation_max).map_err(
            |error| ConfigError::Value {
                key: match error.parameter() {
                    "suppress_max" => "api.suppress_max",
                    _ => "api.perturbation_max",
                },
                message: error.to_string(),
            },
        )
    }

    /// The configuration as TOML with secrets replaced by `<redacted>`.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.clickhouse.password = redact(&self.clickhouse.password).into();
        shown.clickhouse.url = crate::secrets::redact_url(&self.clickhouse.url).into_owned();
        shown.kafka.ssl_key_password = redact(&self.kafka.ssl_key_password).into();
        shown.kafka.sasl_password = redact(&self.kafka.sasl_password).into();
        shown.alerts.webhooks = redact(&self.alerts.webhooks).into();
        toml::to_string_pretty(&shown).unwrap_or_else(|error| format!("# unprintable: {error}"))
    }

    /// The Kafka client settings every role shares.
    pub fn kafka_client(&self) -> bus::ClientSettings {
        let set = |value: &String| Some(value.clone()).filter(|v| !v.is_empty());
        let kafka = &self.kafka;
        bus::ClientSettings {
            brokers: kafka.brokers.clone(),
            security_protocol: kafka.security_protocol.clone(),
            ssl_ca_location: set(&kafka.ssl_ca_location),
            ssl_certificate_location: set(&kafka.ssl_certificate_location),
            ssl_key_location: set(&kafka.ssl_key_location),
            ssl_key_password: set(&kafka.ssl_key_password),
            sasl: kafka
                .security_protocol
                .starts_with("sasl_")
                .then(|| bus::Sasl {
                    mechanism: kafka.sasl_mechanism.clone(),
                    username: kafka.sasl_username.clone(),
                    password: kafka.sasl_password.clone(),
                }),
        }
    }

    /// The ClickHouse connection settings.
    pub fn warehouse(&self) -> warehouse::Settings {
        warehouse::Settings {
            url: self.clickhouse.url.clone(),
            database: self.clickhouse.database.clone(),
            user: self.clickhouse.user.clone(),
            password: self.clickhouse.password.clone(),
            cluster: Some(self.clickhouse.cluster.clone()).filter(|c| !c.is_empty()),
            insert_timeout: std::time::Duration::from_secs(self.clickhouse.insert_timeout_secs),
        }
    }
}

/// Turns `CYBERFLAG_*` variables into a table of overrides, typed by the key's default: a
/// string key takes the value verbatim (so a numeric password stays a string), a number or
/// boolean key must parse as one.
fn environment_overrides(
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<toml::Table, ConfigError> {
    let keys = keys();
    let mut overrides = toml::Table::new();
    for (name, value) in env {
        if !name.starts_with(ENV_PREFIX) || META_ENV_VARS.contains(&name.as_str()) {
            continue;
        }
        let Some(key) = keys.iter().find(|key| key.env == name) else {
            let hint = closest_key(&keys, &name)
                .map(|key| format!(", did you mean {key}?"))
                .unwrap_or_default();
            return Err(ConfigError::UnknownVariable { name, hint });
        };
        let typed = match &key.default_value {
            toml::Value::String(_) => toml::Value::String(value),
            toml::Value::Integer(_) => match value.trim().parse() {
                Ok(number) => toml::Value::Integer(number),
                Err(_) => {
                    return Err(ConfigError::VariableType {
                        name,
                        value,
                        expected: "an integer",
                    });
                }
            },
            toml::Value::Float(_) => match value.trim().parse() {
                Ok(number) => toml::Value::Float(number),
                Err(_) => {
                    return Err(ConfigError::VariableType {
                        name,
                        value,
                        expected: "a number",
                    });
                }
            },
            toml::Value::Boolean(_) => match value.trim() {
                "true" | "1" => toml::Value::Boolean(true),
                "false" | "0" => toml::Value::Boolean(false),
                _ => {
                    return Err(ConfigError::VariableType {
                        name,
                        value,
                        expected: "true or false",
                    });
                }
            },
            other => other.clone(),
        };
        let (section, field) = key.path.split_once('.').unwrap_or((key.path.as_str(), ""));
        if let toml::Value::Table(table) = overrides
            .entry(section.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        {
            table.insert(field.to_owned(), typed);
        }
    }
    Ok(overrides)
}

/// The known variable sharing the longest prefix with a misspelt one.
fn closest_key(keys: &[Key], name: &str) -> Option<String> {
    let common = |a: &str, b: &str| a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    keys.iter()
        .map(|key| (common(&key.env, name), &key.env))
        .filter(|(length, _)| *length > ENV_PREFIX.len() + 3)
        .max_by_key(|(length, _)| *length)
        .map(|(_, env)| env.clone())
}

fn redact(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "<redacted>" }
}

/// One configuration key: its dotted path and its environment variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// `section.key`, as written in the TOML file.
    pub path: String,
    /// `CYBERFLAG_SECTION_KEY`.
    pub env: String,
    /// The default, as TOML.
    pub default: String,
    /// The default value, whose type is the key's type.
    pub default_value: toml::Value,
}

/// Every configuration key, derived from the defaults so the list can never drift from the type.
pub fn keys() -> Vec<Key> {
    let mut keys = Vec::new();
    let Ok(toml::Value::Table(root)) = toml::Value::try_from(Config::default()) else {
        return keys;
    };
    for (section, value) in root {
        let toml::Value::Table(fields) = value else {
            continue;
        };
        for (field, default) in fields {
            keys.push(Key {
                path: format!("{section}.{field}"),
                env: format!(
                    "{ENV_PREFIX}{}_{}",
                    section.to_uppercase(),
                    field.to_uppercase()
                ),
                default: default.to_string(),
                default_value: default,
            });
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads the configuration inside a figment jail: a private working directory and an
    /// environment that is restored afterwards, so tests cannot see each other's variables.
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail closure returns figment::Error"
    )]
    fn load_in_jail(
        env: &[(&str, &str)],
        file: Option<&str>,
        check: impl FnOnce(Result<Config, ConfigError>),
    ) {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            for (key, value) in env {
                jail.set_env(key, value);
            }
            if let Some(text) = file {
                jail.create_file(DEFAULT_FILE, text)?;
            }
            check(Config::load(None));
            Ok(())
        });
    }

    #[test]
    fn defaults_match_the_documented_stack() {
        load_in_jail(&[], None, |config| {
            let config = config.unwrap();
            assert_eq!(config, Config::default());
            assert_eq!(config.kafka.brokers, "127.0.0.1:9092");
            assert_eq!(config.clickhouse.url, "http://127.0.0.1:8123");
            assert_eq!(config.clickhouse.database, "cyberflag");
            assert_eq!(config.kafka.raw_topic, "cyberflag.raw.v1");
            assert_eq!(config.kafka.dlq_topic, "cyberflag.dlq.v1");
        });
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let file = "[kafka]\nraw_topic = \"from-file\"\nbrokers = \"file:9092\"\n";
        load_in_jail(
            &[("CYBERFLAG_KAFKA_RAW_TOPIC", "from-env")],
            Some(file),
            |config| {
                let config = config.unwrap();
                assert_eq!(config.kafka.raw_topic, "from-env");
                assert_eq!(config.kafka.brokers, "file:9092");
                assert_eq!(config.kafka.dlq_topic, "cyberflag.dlq.v1");
            },
        );
    }

    #[test]
    fn numeric_looking_secrets_stay_strings() {
        load_in_jail(
            &[("CYBERFLAG_CLICKHOUSE_PASSWORD", "123456")],
            None,
            |config| {
                assert_eq!(config.unwrap().clickhouse.password, "123456");
            },
        );
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        load_in_jail(&[("CYBERFLAG_KAFKA_BORKERS", "x:1")], None, |config| {
            let message = config.unwrap_err().to_string();
            assert!(message.contains("CYBERFLAG_KAFKA_BORKERS"), "{message}");
            assert!(
                message.contains("did you mean CYBERFLAG_KAFKA_BROKERS"),
                "{message}"
            );
        });
        load_in_jail(&[], Some("[clickhouse]\ndatabse = \"x\"\n"), |config| {
            let message = config.unwrap_err().to_string();
            assert!(message.contains("databse"), "{message}");
        });
        load_in_jail(&[("CYBERFLAG_NOSUCHSECTION_KEY", "1")], None, |config| {
            assert!(config.is_err());
        });
    }

    #[test]
    fn disclosure_settings_that_void_the_guarantee_are_refused() {
        for (var, value, key) in [
            (
                "CYBERFLAG_API_PERTURBATION_MAX",
                "0",
                "api.perturbation_max",
            ),
            (
                "CYBERFLAG_API_PERTURBATION_MAX",
                "11",
                "api.perturbation_max",
            ),
            ("CYBERFLAG_API_SUPPRESS_MAX", "101", "api.suppress_max"),
            (
                "CYBERFLAG_API_REQUESTS_PER_MINUTE",
                "0",
                "api.requests_per_minute",
            ),
            ("CYBERFLAG_API_REQUEST_BURST", "0", "api.request_burst"),
        ] {
            load_in_jail(&[(var, value)], None, |config| {
                let message = config.unwrap_err().to_string();
                assert!(message.contains(key), "{var}={value}: {message}");
            });
        }
        // The rule of the defaults, and no suppression at all, are fine: a count of 1 or more
        // is never published as 0 whatever suppress_max is.
        load_in_jail(&[("CYBERFLAG_API_SUPPRESS_MAX", "0")], None, |config| {
            let rule = config.unwrap().disclosure_rule().unwrap();
            assert_eq!((rule.suppress_max(), rule.perturbation_max()), (0, 2));
        });
    }

    #[test]
    fn unusable_values_fail_fast() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "CYBERFLAG_KAFKA_RAW_PARTITIONS",
                "0",
                "kafka.raw_partitions",
            ),
            ("CYBERFLAG_KAFKA_BROKERS", " ", "kafka.brokers"),
            (
                "CYBERFLAG_KAFKA_DLQ_TOPIC",
                "cyberflag.raw.v1",
                "kafka.dlq_topic",
            ),
            (
                "CYBERFLAG_CLICKHOUSE_DATABASE",
                "x; DROP",
                "clickhouse.database",
            ),
            (
                "CYBERFLAG_KAFKA_SECURITY_PROTOCOL",
                "tls",
                "kafka.security_protocol",
            ),
            // SASL without credentials.
            (
                "CYBERFLAG_KAFKA_SECURITY_PROTOCOL",
                "sasl_ssl",
                "kafka.sasl_username",
            ),
            (
                "CYBERFLAG_KAFKA_SASL_MECHANISM",
                "MD5",
                "kafka.sasl_mechanism",
            ),
            // A client certificate without its key, a server certificate without its key.
            (
                "CYBERFLAG_KAFKA_SSL_CERTIFICATE_LOCATION",
                "/etc/client.pem",
                "kafka.ssl_certificate_location",
            ),
            (
                "CYBERFLAG_API_TLS_CERT_FILE",
                "/etc/api.pem",
                "api.tls_cert_file",
            ),
            (
                "CYBERFLAG_CLICKHOUSE_INSERT_TIMEOUT_SECS",
                "0",
                "clickhouse.insert_timeout_secs",
            ),
            // Twice the insert timeout reaches the snapshot margin (120 s).
            (
                "CYBERFLAG_CLICKHOUSE_INSERT_TIMEOUT_SECS",
                "60",
                "api.snapshot_margin_secs",
            ),
            // TLS or SASL settings the protocol would silently ignore.
            (
                "CYBERFLAG_KAFKA_SSL_CA_LOCATION",
                "/etc/ca.pem",
                "kafka.ssl_ca_location",
            ),
            (
                "CYBERFLAG_KAFKA_SASL_PASSWORD",
                "secret",
                "kafka.sasl_username",
            ),
        ];
        for (var, value, key) in cases {
            load_in_jail(&[(var, value)], None, |config| {
                let message = config.unwrap_err().to_string();
                assert!(message.contains(key), "{var}={value}: {message}");
            });
        }
        load_in_jail(
            &[("CYBERFLAG_KAFKA_RAW_PARTITIONS", "many")],
            None,
            |config| {
                assert!(config.is_err());
            },
        );
    }

    #[test]
    fn meta_variables_are_not_configuration_keys() {
        load_in_jail(&[("CYBERFLAG_LOG", "debug")], None, |config| {
            assert!(config.is_ok());
        });
    }

    #[test]
    fn an_explicit_missing_file_is_an_error() {
        let error = Config::load(Some(Path::new("/nonexistent/cyberflag.toml"))).unwrap_err();
        assert!(matches!(error, ConfigError::MissingFile(_)));
    }

    #[test]
    fn every_key_has_an_environment_variable_that_round_trips() {
        let keys = keys();
        assert!(keys.len() >= 12);
        for key in &keys {
            assert!(key.env.starts_with(ENV_PREFIX));
            let (section, field) = key.path.split_once('.').unwrap();
            assert!(
                !section.contains('_'),
                "section names must not contain _: {section}"
            );
            assert_eq!(
                key.env,
                format!("CYBERFLAG_{}_{}", section, field).to_uppercase()
            );
        }
    }

    /// A password in the ClickHouse URL is refused at start-up, and the refusal does not
    /// repeat it; the URL is redacted wherever the configuration is shown.
    #[test]
    fn credentials_in_the_clickhouse_url_are_refused_without_being_shown() {
        for url in [
            "http://ingest:pw-Zx81@clickhouse:8123",
            "http://clickhouse:8123/?user=ingest&password=pw-Zx81",
        ] {
            load_in_jail(&[("CYBERFLAG_CLICKHOUSE_URL", url)], None, |config| {
                let message = config.unwrap_err().to_string();
                assert!(message.contains("clickhouse.url"), "{message}");
                assert!(message.contains("clickhouse.password"), "{message}");
                assert!(!message.contains("pw-Zx81"), "{message}");
            });
            let mut config = Config::default();
            config.clickhouse.url = url.into();
            assert!(!config.to_redacted_toml().contains("pw-Zx81"));
            assert!(!format!("{config:?}").contains("pw-Zx81"));
        }
        load_in_jail(
            &[(
                "CYBERFLAG_CLICKHOUSE_URL",
                "https://clickhouse.example.org:8443",
            )],
            None,
            |config| assert!(config.is_ok()),
        );
    }

    #[test]
    fn the_clickhouse_password_comes_from_its_file() {
        let dir = std::env::temp_dir().join(format!("cyberflag-password-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("password");
        std::fs::write(&file, "s3cret-from-file\n").unwrap();
        let path = file.display().to_string();
        let load = |vars: &[(&str, &str)]| {
            Config::load_from(
                None,
                vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            )
        };
        let config = load(&[("CYBERFLAG_CLICKHOUSE_PASSWORD_FILE", &path)]).unwrap();
        assert_eq!(config.warehouse().password, "s3cret-from-file");
        assert!(!config.to_redacted_toml().contains("s3cret"));
        let both = load(&[
            ("CYBERFLAG_CLICKHOUSE_PASSWORD_FILE", &path),
            ("CYBERFLAG_CLICKHOUSE_PASSWORD", "x"),
        ]);
        assert!(both.unwrap_err().to_string().contains("not both"));
        let missing = dir.join("absent").display().to_string();
        let error = load(&[("CYBERFLAG_CLICKHOUSE_PASSWORD_FILE", &missing)]).unwrap_err();
        assert!(error.to_string().contains("cannot read"), "{error}");
        std::fs::write(&file, "\n").unwrap();
        assert!(load(&[("CYBERFLAG_CLICKHOUSE_PASSWORD_FILE", &path)]).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn secrets_are_redacted() {
        let mut config = Config::default();
        config.clickhouse.password = "hunter2-secret".into();
        config.kafka.ssl_key_password = "hunter3-secret".into();
        config.kafka.sasl_password = "hunter4-secret".into();
        for secret in ["hunter2-secret", "hunter3-secret", "hunter4-secret"] {
            assert!(!config.to_redacted_toml().contains(secret));
            assert!(!format!("{config:?}").contains(secret));
            assert!(!format!("{:?}", config.kafka_client()).contains(secret));
        }
    }
}
