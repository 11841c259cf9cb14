//! `[clickhouse]`: the store.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, ServerUrl, refuse};

/// `[clickhouse]`: the server, the database and the role's credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseConfig {
    /// HTTP endpoint of the server (no credentials in it: see `user` and `password`).
    pub url: ServerUrl,
    /// Database holding cyberflag's tables; created by `cyberflag migrate`.
    pub database: String,
    /// User name.
    pub user: String,
    /// Password.
    pub password: Secret,
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
            url: ServerUrl::parse("http://127.0.0.1:8123").expect("a valid default"),
            database: "cyberflag".into(),
            user: "default".into(),
            password: Secret::default(),
            password_file: String::new(),
            cluster: String::new(),
            insert_timeout_secs: 30,
        }
    }
}

impl ClickHouseConfig {
    /// The URL fit for messages and logs (it carries no credentials: they are refused).
    pub fn display_url(&self) -> &str {
        self.url.as_str()
    }

    /// Refuses values that are well-typed but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let plain = !self.database.is_empty()
            && self
                .database
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain {
            return Err(refuse(
                "clickhouse.database",
                format!(
                    "{:?} is not a plain identifier (letters, digits and _ only)",
                    self.database
                ),
            ));
        }
        if self.insert_timeout_secs == 0 {
            return Err(refuse(
                "clickhouse.insert_timeout_secs",
                "must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// Takes the password from `password_file` when one is named.
    pub(super) fn read_password_file(&mut self) -> Result<(), ConfigError> {
        if self.password_file.is_empty() {
            return Ok(());
        }
        let refuse = |message: String| refuse("clickhouse.password_file", message);
        if !self.password.is_empty() {
            return Err(refuse(
                "set clickhouse.password or clickhouse.password_file, not both".into(),
            ));
        }
        let text = std::fs::read_to_string(&self.password_file)
            .map_err(|error| refuse(format!("cannot read {}: {error}", self.password_file)))?;
        let password = text.trim_end_matches(['\n', '\r']);
        if password.is_empty() {
            return Err(refuse(format!("{} is empty", self.password_file)));
        }
        self.password = Secret::from(password);
        Ok(())
    }

    /// The connection settings of the `warehouse` crate.
    pub fn settings(&self) -> warehouse::Settings {
        warehouse::Settings {
            url: self.url.as_str().to_owned(),
            database: self.database.clone(),
            user: self.user.clone(),
            password: self.password.expose().to_owned(),
            cluster: Some(self.cluster.clone()).filter(|c| !c.is_empty()),
            insert_timeout: std::time::Duration::from_secs(self.insert_timeout_secs),
        }
    }
}
