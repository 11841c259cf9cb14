//! Delivering alerts to Prometheus Alertmanager (`POST /api/v2/alerts`, alerting.md §6).
//!
//! Delivery is an outbox over ClickHouse: every alert change is a stored revision, and a
//! receiver's accepted revisions are stored too. What is pending for a receiver is every alert
//! whose latest revision is newer than the last one it accepted, so an alert stored before a
//! crash or while the receiver was down is delivered later, and a revision is sent again only
//! if the process died between the receiver's acceptance and the delivery record (at least
//! once; Alertmanager deduplicates by labels).

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use cyberflag::config::Config;
use serde_json::{Value, json};
use warehouse::{AlertKind, AlertRow, AlertStatus, DeliveryRow, Warehouse};

/// Alerts per request.
const CHUNK: usize = 100;
/// How far back resolved alerts are still delivered to a receiver that missed them.
const RESOLVED_HORIZON_DAYS: i64 = 30;

/// One Alertmanager.
pub struct Receiver {
    /// The URL without credentials: how deliveries are recorded and logged.
    pub name: String,
    endpoint: reqwest::Url,
}

impl Receiver {
    /// Receivers from `alerts.webhooks`.
    pub fn from_config(config: &Config) -> anyhow::Result<Vec<Receiver>> {
        config
            .alert_webhooks()
            .into_iter()
            .map(|base| {
                // The error never shows the URL: it may carry credentials.
                let endpoint = reqwest::Url::parse(&format!("{base}/api/v2/alerts"))
                    .map_err(|e| anyhow::anyhow!("alerts.webhooks: a URL is invalid: {e}"))?;
                let mut shown = endpoint.clone();
                let _ = shown.set_username("");
                let _ = shown.set_password(None);
                Ok(Receiver {
                    name: shown.to_string(),
                    endpoint,
                })
            })
            .collect()
    }
}

/// The Alertmanager alert for one revision.
pub fn alertmanager_alert(alert: &AlertRow, config: &Config) -> Value {
    let numbers = alert.numbers();
    let alertname = match (alert.kind(), alert.method()) {
        (AlertKind::Rise, _) => "CyberCrimeRise",
        (AlertKind::DataQuality, "silent-force") => "ForceSilent",
        (AlertKind::DataQuality, _) => "CyberFlagShareCollapsed",
    };
    let severity = match alert.kind() {
        AlertKind::Rise => "warning",
        AlertKind::DataQuality => "info",
    };
    let mut labels = json!({
        "alertname": alertname,
        "alert_id": alert.alert_id(),
        "force": alert.force(),
        "method": alert.method(),
        "severity": severity,
        "service": "cyberflag",
    });
    if !alert.offence_group().is_empty() {
        labels["offence_group"] = json!(alert.offence_group());
    }
    let number =
        |v: Option<f64>, digits: usize| v.map(|v| format!("{v:.digits$}")).unwrap_or_default();
    let summary = match (alert.kind(), alert.method()) {
        (AlertKind::Rise, method) => format!(
            "{}/{}: {} observed against {} expected ({method}, week of {})",
            alert.force(),
            alert.offence_group(),
            numbers.observed,
            number(numbers.expected, 1),
            numbers.week
        ),
        (AlertKind::DataQuality, "silent-force") => format!(
            "{} has sent no records for {} days",
            alert.force(),
            numbers.observed
        ),
        (AlertKind::DataQuality, _) => format!(
            "{}: cyber-flagged share fell to {:.0}% of the previous year's",
            alert.force(),
            numbers.score.unwrap_or(0.0) * 100.0
        ),
    };
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let ends = match alert.status() {
        AlertStatus::Firing => {
            alert.updated_at() + chrono::Duration::hours(config.alerts.ttl_hours as i64)
        }
        AlertStatus::Resolved => alert.updated_at(),
    };
    let mut body = json!({
        "labels": labels,
        "annotations": {
            "summary": summary,
            "week": numbers.week.to_string(),
            "opened_week": alert.opened_week().to_string(),
            "observed": numbers.observed.to_string(),
            "expected": number(numbers.expected, 3),
            "threshold": number(numbers.threshold, 3),
            "score": number(numbers.score, 3),
            "p_value": numbers.p_value.map(|p| format!("{p:.3e}")).unwrap_or_default(),
            "rank": numbers.rank.to_string(),
            "revision": alert.revision().to_string(),
        },
        "startsAt": time(alert.opened_at()),
        "endsAt": time(ends),
    });
    if let Some(dashboard) = config.alerts.dashboard() {
        let dashboard = dashboard.as_str().trim_end_matches('/');
        body["generatorURL"] = json!(format!(
            "{dashboard}/?force={}&offence_group={}",
            alert.force(),
            alert.offence_group()
        ));
    }
    body
}

/// What one delivery round did.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Revisions accepted.
    pub accepted: usize,
    /// Revisions still pending (receiver refused or unreachable).
    pub pending: usize,
}

/// Delivers every pending revision to every receiver; a refusing receiver keeps its revisions
/// pending for the next round and does not hold up the others.
pub async fn deliver(
    warehouse: &Warehouse,
    receivers: &[Receiver],
    client: &reqwest::Client,
    config: &Config,
) -> anyhow::Result<Delivered> {
    let mut delivered = Delivered::default();
    if receivers.is_empty() {
        return Ok(delivered);
    }
    let since = Utc::now() - chrono::Duration::days(RESOLVED_HORIZON_DAYS);
    let alerts = warehouse
        .recent_alerts(since)
        .await
        .context("reading alerts to deliver")?;
    for receiver in receivers {
        let accepted = warehouse
            .delivered_revisions(&receiver.name)
            .await
            .context("reading deliveries")?;
        let pending: Vec<&AlertRow> = alerts
            .iter()
            .filter(|a| accepted.get(a.alert_id()).is_none_or(|r| *r < a.revision()))
            .collect();
        for chunk in pending.chunks(CHUNK) {
            let body: Vec<Value> = chunk
                .iter()
                .map(|a| alertmanager_alert(a, config))
                .collect();
            match post(client, receiver, &body).await {
                Ok(()) => {
                    let now = Utc::now();
                    let rows: Vec<DeliveryRow> = chunk
                        .iter()
                        .map(|a| DeliveryRow::new(&receiver.name, a, now))
                        .collect();
                    warehouse
                        .insert_deliveries(&rows)
                        .await
                        .context("recording deliveries")?;
                    delivered.accepted += chunk.len();
                    metrics::counter!("cyberflag_alerts_delivered_total", "receiver" => receiver.name.clone())
                        .increment(chunk.len() as u64);
                    tracing::info!(receiver = %receiver.name, alerts = chunk.len(), "alerts delivered");
                }
                Err(error) => {
                    let left = pending.len().saturating_sub(delivered.accepted);
                    delivered.pending += left;
                    metrics::counter!("cyberflag_alerts_delivery_failures_total", "receiver" => receiver.name.clone())
                        .increment(1);
                    tracing::warn!(receiver = %receiver.name, pending = left, error = %error,
                        "alert delivery failed; will retry");
                    break;
                }
            }
        }
    }
    metrics::gauge!("cyberflag_alerts_pending_deliveries").set(delivered.pending as f64);
    Ok(delivered)
}

/// One POST, retried three times with backoff on network errors and 5xx/429 answers.
async fn post(client: &reqwest::Client, receiver: &Receiver, body: &[Value]) -> anyhow::Result<()> {
    let mut wait = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        let outcome = client
            .post(receiver.endpoint.clone())
            .json(body)
            .send()
            .await;
        let retryable = match outcome {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => {
                let status = response.status();
                let text: String = response
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect();
                let error = anyhow::anyhow!("{} answered {status}: {text}", receiver.name);
                if !(status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS) {
                    return Err(error);
                }
                error
            }
            // reqwest's error text names the URL, which may carry credentials: drop it.
            Err(error) => anyhow::anyhow!("{} unreachable: {}", receiver.name, error.without_url()),
        };
        if attempt == 3 {
            return Err(retryable);
        }
        tokio::time::sleep(wait).await;
        wait *= 2;
        attempt += 1;
    }
}
