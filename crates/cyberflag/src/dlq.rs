//! `cyberflag dlq list|replay`: inspect the dead-letter topic and, after a fix (a key added to
//! the keyring, a parser corrected), send chosen records back to the raw topic.
//!
//! Replay re-publishes each chosen message as it first arrived (key, payload and original
//! headers, without the dead-letter ones), so `ingest` verifies and normalises it again. What
//! is still wrong is dead-lettered again with its reason; what now passes is stored, and a
//! record replayed twice is stored once (storage is keyed by crime and version).
//!
//! Everything listed is outside data: `list` shows ingest's own dead-letter headers (the last
//! of each name, so copies that came with the message cannot stand in for them), escapes every
//! field, and shows a force only as far as it can be trusted: from the payload when its
//! signature verifies against the keyring, otherwise the key's claim, marked unverified.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use cyberflag::cli::DlqFilter;
use cyberflag::config::Config;
use ingest::service::{HEADER_DLQ_MESSAGE, HEADER_DLQ_REASON, HEADER_DLQ_SOURCE};

/// One dead-lettered message, decoded for people.
struct Entry {
    message: bus::Received,
    reason: String,
    detail: String,
    source: String,
    force: String,
    /// Whether `force` comes from a payload whose signature the keyring verified; otherwise
    /// it is the unsigned message key's claim.
    verified: bool,
    at: Option<DateTime<Utc>>,
}

/// The value of the **last** header named `header`: ingest appends its own dead-letter
/// headers after the message's, so a `cyberflag-dlq-*` header that came with the message (a
/// forgery) can never stand in for ingest's.
fn last_header<'a>(message: &'a bus::Received, header: &str) -> Option<&'a [u8]> {
    message
        .headers
        .iter()
        .rev()
        .find(|(name, _)| name == header)
        .map(|(_, value)| value.as_slice())
}

fn text(message: &bus::Received, header: &str) -> String {
    last_header(message, header)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

/// The force of a dead-lettered message: from its payload when the signature verifies against
/// the keyring (the same check ingest makes), otherwise the unsigned key's claim, unverified.
fn force_of(message: &bus::Received, keyring: Option<&wire::Keyring>) -> (String, bool) {
    if let Some(keyring) = keyring
        && let Ok(raw) = ingest::normalise::verify(
            keyring,
            message.header(wire::HEADER_KEY_ID),
            message.header(wire::HEADER_SIGNATURE),
            &message.payload,
        )
    {
        return (raw.force, true);
    }
    let key = String::from_utf8_lossy(&message.key);
    (key.split('/').next().unwrap_or_default().to_owned(), false)
}

/// The keyring that tells genuine forces from claimed ones; `None` (every force then shows as
/// unverified) when none is configured or it cannot be used.
fn verification_keyring(config: &Config) -> Option<wire::Keyring> {
    if config.security.keyring.is_empty() {
        return None;
    }
    match crate::keyring::KeyringFile::load(&config.security)
        .and_then(|keyring| keyring.verification())
    {
        Ok(keyring) => Some(keyring),
        Err(error) => {
            stderr_line!(
                "note: forces are shown unverified, the keyring cannot be used: {error:#}"
            );
            None
        }
    }
}

/// Every dead-lettered message matching `filter`, oldest first.
fn read(filter: &DlqFilter, config: &Config) -> anyhow::Result<Vec<Entry>> {
    let messages = bus::read_topic(
        &config.kafka_client(),
        &config.kafka.dlq_topic,
        Duration::from_secs(600),
    )
    .with_context(|| {
        format!(
            "reading {} from {}",
            config.kafka.dlq_topic, config.kafka.brokers
        )
    })?;
    let keyring = verification_keyring(config);
    let mut entries: Vec<Entry> = messages
        .into_iter()
        .map(|message| {
            let (force, verified) = force_of(&message, keyring.as_ref());
            Entry {
                reason: text(&message, HEADER_DLQ_REASON),
                detail: text(&message, HEADER_DLQ_MESSAGE),
                source: text(&message, HEADER_DLQ_SOURCE),
                force,
                verified,
                at: message
                    .timestamp_ms
                    .and_then(DateTime::<Utc>::from_timestamp_millis),
                message,
            }
        })
        .filter(|e| filter.reason.is_empty() || filter.reason.contains(&e.reason))
        .filter(|e| filter.force.is_empty() || filter.force.contains(&e.force))
        .filter(|e| {
            let day = e.at.map(|t| t.date_naive());
            filter.since.is_none_or(|s| day.is_some_and(|d| d >= s))
                && filter.until.is_none_or(|u| day.is_some_and(|d| d <= u))
        })
        .collect();
    entries.sort_by_key(|e| (e.at, e.message.partition, e.message.offset));
    Ok(entries)
}

/// One line of `dlq list`: every field is outside data (headers and keys anyone with write
/// access to the raw topic chose), so each is escaped and none can add a line or a column,
/// or drive the terminal.
fn row(entry: &Entry) -> String {
    use model::text::printable;
    let force = if entry.verified {
        printable(&entry.force).into_owned()
    } else {
        format!("{} (unverified)", printable(&entry.force))
    };
    format!(
        "{}\t{}\t{}\t{}\t{}",
        entry.at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        printable(&entry.reason),
        force,
        printable(&entry.source),
        printable(&entry.detail),
    )
}

pub fn list(filter: DlqFilter, config: &Config) -> anyhow::Result<()> {
    let entries = read(&filter, config)?;
    crate::out!("dead-lettered\treason\tforce\tsource\tdetail");
    let mut by_reason: std::collections::BTreeMap<&str, u64> = Default::default();
    for entry in &entries {
        *by_reason.entry(entry.reason.as_str()).or_default() += 1;
        crate::out!("{}", row(entry));
    }
    let summary: Vec<String> = by_reason
        .iter()
        .map(|(r, n)| format!("{n} {}", model::text::printable(r)))
        .collect();
    stderr_line!(
        "{} dead-lettered message(s) match{}",
        entries.len(),
        if summary.is_empty() {
            String::new()
        } else {
            format!(": {}", summary.join(", "))
        }
    );
    Ok(())
}

pub async fn replay(filter: DlqFilter, dry_run: bool, config: &Config) -> anyhow::Result<()> {
    let entries = read(&filter, config)?;
    if dry_run {
        stderr_line!(
            "{} message(s) would be replayed to {}",
            entries.len(),
            config.kafka.raw_topic
        );
        return Ok(());
    }
    let publisher = bus::Publisher::new(
        &config.kafka_client(),
        config.kafka.raw_topic.clone(),
        Duration::from_secs(60),
    )?;
    let progress = crate::telemetry::progress_bar(entries.len() as u64, "replaying");
    let mut deliveries = Vec::with_capacity(entries.len());
    for entry in &entries {
        let headers: Vec<(&str, &[u8])> = entry
            .message
            .headers
            .iter()
            .filter(|(name, _)| !name.starts_with("cyberflag-dlq-"))
            .map(|(name, value)| (name.as_str(), value.as_slice()))
            .collect();
        deliveries.push(
            publisher
                .send(bus::Outgoing {
                    key: &entry.message.key,
                    payload: &entry.message.payload,
                    headers: &headers,
                })
                .await?,
        );
        progress.inc(1);
    }
    for delivery in deliveries {
        bus::Publisher::acknowledged(delivery).await?;
    }
    progress.finish_and_clear();
    tracing::info!(replayed = entries.len(), topic = %config.kafka.raw_topic, "dead-lettered messages replayed");
    stderr_line!(
        "replayed {} message(s) to {}; `cyberflag ingest` takes them from there",
        entries.len(),
        config.kafka.raw_topic
    );
    Ok(())
}
