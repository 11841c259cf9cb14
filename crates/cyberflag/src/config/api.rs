//! `[api]`: `cyberflag api` and `cyberflag token`.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::{ConfigError, refuse};

/// `[api]`: where the API listens, its tokens, its disclosure control and its count snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Address the API, its dashboard and its `/metrics` listen on.
    pub listen: SocketAddr,
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
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
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

impl ApiConfig {
    /// Refuses values that are well-typed but cannot work, and any disclosure setting that
    /// would void the guarantee.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tls_cert_file.is_empty() != self.tls_key_file.is_empty() {
            return Err(refuse(
                "api.tls_cert_file",
                "HTTPS needs both api.tls_cert_file and api.tls_key_file".into(),
            ));
        }
        if self.query_timeout_secs == 0 {
            return Err(refuse(
                "api.query_timeout_secs",
                "must be at least 1".into(),
            ));
        }
        self.disclosure_rule()?;
        for (key, value) in [
            ("api.requests_per_minute", self.requests_per_minute),
            ("api.request_burst", self.request_burst),
        ] {
            if value == 0 || value > 1_000_000 {
                return Err(refuse(
                    key,
                    format!("must be between 1 and 1000000, got {value}"),
                ));
            }
        }
        Ok(())
    }

    /// The disclosure rule; settings that would void its guarantee are refused, naming the key.
    pub fn disclosure_rule(&self) -> Result<::api::disclosure::Rule, ConfigError> {
        ::api::disclosure::Rule::new(self.suppress_max, self.perturbation_max).map_err(|error| {
            refuse(
                match error.parameter() {
                    "suppress_max" => "api.suppress_max",
                    _ => "api.perturbation_max",
                },
                error.to_string(),
            )
        })
    }
}
