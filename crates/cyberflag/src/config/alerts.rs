//! `[alerts]`: `cyberflag alerts run`.

use serde::{Deserialize, Serialize};

use super::{ConfigError, OptionalUrl, Secret, ServerUrl, refuse};

/// `[alerts]`: the detectors' settings, the service's schedule and where alerts are delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub webhooks: Secret,
    /// Seconds between delivery attempts while a receiver is refusing.
    pub retry_secs: u64,
    /// Hours a firing alert stays active at the receiver without news (its `endsAt`).
    pub ttl_hours: u64,
    /// Base URL of the dashboard, for each alert's `generatorURL`; empty: none.
    pub dashboard_url: OptionalUrl,
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
            webhooks: Secret::default(),
            retry_secs: 30,
            ttl_hours: 24 * 8,
            dashboard_url: OptionalUrl::default(),
        }
    }
}

impl AlertsConfig {
    /// Refuses values that are well-typed but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("alerts.fdr", self.fdr),
            ("alerts.farrington_alpha", self.farrington_alpha),
            ("alerts.flag_share_drop", self.flag_share_drop),
        ] {
            if !(value > 0.0 && value < 1.0) {
                return Err(refuse(
                    key,
                    format!("must be between 0 and 1 (exclusive), got {value}"),
                ));
            }
        }
        for (key, value) in [
            ("alerts.primary_weight", self.primary_weight),
            ("alerts.cusum_threshold", self.cusum_threshold),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(refuse(key, format!("must be positive, got {value}")));
            }
        }
        for (key, value) in [
            ("alerts.interval_secs", self.interval_secs),
            ("alerts.cusum_window", self.cusum_window),
            ("alerts.quiet_weeks", self.quiet_weeks),
            ("alerts.silent_days", self.silent_days),
            ("alerts.retry_secs", self.retry_secs),
            ("alerts.ttl_hours", self.ttl_hours),
        ] {
            if value == 0 {
                return Err(refuse(key, "must be at least 1".into()));
            }
        }
        self.webhook_urls()?;
        Ok(())
    }

    /// The Alertmanager base URLs, without trailing `/`, each checked to be an http(s) URL.
    /// They may carry credentials, so an invalid one is reported by position, not by text.
    pub fn webhook_urls(&self) -> Result<Vec<String>, ConfigError> {
        self.webhooks
            .expose()
            .split(',')
            .map(|url| url.trim().trim_end_matches('/'))
            .filter(|url| !url.is_empty())
            .enumerate()
            .map(|(index, text)| {
                url::Url::parse(text)
                    .ok()
                    .filter(|url| matches!(url.scheme(), "http" | "https"))
                    .map(|_| text.to_owned())
                    .ok_or_else(|| {
                        refuse(
                            "alerts.webhooks",
                            format!("webhook {} is not an http:// or https:// URL", index + 1),
                        )
                    })
            })
            .collect()
    }

    /// The dashboard's base URL, if set.
    pub fn dashboard(&self) -> Option<&ServerUrl> {
        self.dashboard_url.get()
    }
}
