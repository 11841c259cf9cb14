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
//!
//! Each section is a module of its own with its type, its defaults and its `validate`; values
//! are typed (enums, socket addresses, URLs, [`Secret`]s), so most mistakes stop the load with
//! the key named, and `validate` refuses what is well-typed but cannot work. Checks that span
//! sections are in [`Config::validate`].

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod adapter;
mod alerts;
mod api;
mod clickhouse;
mod ingest;
mod kafka;
mod observe;
mod secret;
mod types;

pub use adapter::AdapterConfig;
pub use alerts::AlertsConfig;
pub use api::ApiConfig;
pub use clickhouse::ClickHouseConfig;
pub use ingest::IngestConfig;
pub use kafka::{KafkaConfig, SaslMechanism, SecurityProtocol};
pub use observe::{LogConfig, LogFormat, MetricsConfig, SecurityConfig};
pub use secret::Secret;
pub use types::{Listen, OptionalUrl, ServerUrl};

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

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An explicitly named file does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    /// A key is unknown, a value has the wrong type or is malformed, or the file is not TOML.
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

/// The refusal of `key`'s value, saying why.
fn refuse(key: &'static str, message: String) -> ConfigError {
    ConfigError::Value { key, message }
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
        config.clickhouse.read_password_file()?;
        config.validate()?;
        Ok(config)
    }

    /// Every section's own checks, then the checks that span sections, so the process fails
    /// at start-up on a value that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.kafka.validate()?;
        self.clickhouse.validate()?;
        self.adapter.validate()?;
        self.ingest.validate()?;
        self.alerts.validate()?;
        self.api.validate()?;
        if 2 * self.clickhouse.insert_timeout_secs >= self.api.snapshot_margin_secs {
            return Err(refuse(
                "clickhouse.insert_timeout_secs",
                format!(
                    "an insert can be in flight for twice this ({} s), which must stay below \
                     api.snapshot_margin_secs ({} s): rows stamped before a snapshot's cut \
                     must have landed when it is built",
                    2 * self.clickhouse.insert_timeout_secs,
                    self.api.snapshot_margin_secs
                ),
            ));
        }
        Ok(())
    }

    /// The configured Alertmanager base URLs (checked when the configuration loaded).
    pub fn alert_webhooks(&self) -> Vec<String> {
        self.alerts.webhook_urls().unwrap_or_default()
    }

    /// The API's disclosure rule; settings that would void its guarantee are refused, naming
    /// the key.
    pub fn disclosure_rule(&self) -> Result<::api::disclosure::Rule, ConfigError> {
        self.api.disclosure_rule()
    }

    /// The configuration as TOML; every [`Secret`] shows as `<redacted>`, and URLs cannot
    /// carry credentials.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|error| format!("# unprintable: {error}"))
    }

    /// The Kafka client settings every role shares.
    pub fn kafka_client(&self) -> bus::ClientSettings {
        self.kafka.client()
    }

    /// The ClickHouse connection settings.
    pub fn warehouse(&self) -> warehouse::Settings {
        self.clickhouse.settings()
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
            assert_eq!(config.clickhouse.url.as_str(), "http://127.0.0.1:8123");
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
                assert_eq!(config.unwrap().clickhouse.password.expose(), "123456");
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
    /// repeat it; no configuration can hold one, so none can show it.
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
            assert!(ServerUrl::parse(url).is_err());
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

    /// Values are typed: a malformed address, URL or enum stops the load naming its key.
    #[test]
    fn malformed_values_are_refused_naming_the_key() {
        for (var, value, key) in [
            ("CYBERFLAG_API_LISTEN", "localhost", "api.listen"),
            ("CYBERFLAG_METRICS_LISTEN", "9464", "metrics.listen"),
            (
                "CYBERFLAG_CLICKHOUSE_URL",
                "127.0.0.1:8123",
                "clickhouse.url",
            ),
            (
                "CYBERFLAG_ALERTS_DASHBOARD_URL",
                "dashboard",
                "alerts.dashboard_url",
            ),
            (
                "CYBERFLAG_ALERTS_WEBHOOKS",
                "http://am:9093,am2",
                "alerts.webhooks",
            ),
            ("CYBERFLAG_KAFKA_BROKERS", "kafka", "kafka.brokers"),
            ("CYBERFLAG_LOG_FORMAT", "xml", "log.format"),
        ] {
            load_in_jail(&[(var, value)], None, |config| {
                let message = config.unwrap_err().to_string();
                assert!(message.contains(key), "{var}={value}: {message}");
            });
        }
        load_in_jail(&[("CYBERFLAG_METRICS_LISTEN", "")], None, |config| {
            assert_eq!(config.unwrap().metrics.listen.address(), None);
        });
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
        config.alerts.webhooks = "http://user:hunter5-secret@am:9093".into();
        for secret in [
            "hunter2-secret",
            "hunter3-secret",
            "hunter4-secret",
            "hunter5-secret",
        ] {
            assert!(!config.to_redacted_toml().contains(secret));
            assert!(!format!("{config:?}").contains(secret));
            assert!(!format!("{:?}", config.kafka_client()).contains(secret));
        }
    }
}
