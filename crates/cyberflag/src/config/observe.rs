//! `[security]`, `[metrics]` and `[log]`: the small sections every role shares.

use serde::{Deserialize, Serialize};

use super::Listen;

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
    /// Address serving `/metrics`, `/healthz` and `/readyz` for long-running roles; empty
    /// switches it off.
    pub listen: Listen,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: Listen::on(std::net::SocketAddr::from(([127, 0, 0, 1], 9464))),
        }
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
