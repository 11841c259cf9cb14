//! The consumer-group loop.
//!
//! Messages are verified, normalised and deduplicated into a batch, cut by rows, bytes or time.
//! A batch is finished in this order, and only then is the next one started:
//!
//! 1. every rejected message goes to the dead-letter topic (original key, payload and headers,
//!    plus the reason and its source position), and the broker's acknowledgements are awaited;
//! 2. the batch's rows are inserted in one INSERT; retryable failures (server down, too many
//!    parts, timeouts) are retried with backoff on the same rows while the partitions are
//!    paused; other failures send the rows' messages to the dead-letter topic as
//!    `store-failed`; a missing table or database stops the process (run `cyberflag migrate`);
//! 3. the next offset of each partition in the batch is committed, synchronously.
//!
//! So an offset never moves past a message that is not stored or dead-lettered. A crash
//! re-delivers at most the uncommitted batch, which stores versions already stored: harmless,
//! since statistics count each crime once at its highest version.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::time::{Duration, Instant};

use bus::{GroupConsumer, Incoming, Publisher};
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use rayon::prelude::*;
use warehouse::{CrimeVersionRow, SourceOffset, Warehouse};
use wire::Keyring;

use crate::dedup::{Identity, SeenVersions, identity};
use crate::normalise::{Rejection, normalise, verify};

/// Header carrying the dead-letter reason code.
pub const HEADER_DLQ_REASON: &str = "cyberflag-dlq-reason";
/// Header carrying the human message.
pub const HEADER_DLQ_MESSAGE: &str = "cyberflag-dlq-message";
/// Header carrying `topic/partition/offset` of the original message.
pub const HEADER_DLQ_SOURCE: &str = "cyberflag-dlq-source";

/// Messages taken from the consumer at once and verified in parallel.
const CHUNK: usize = 2048;

/// How long a member may hold no partitions before it leaves and re-joins its group.
const REJOIN_AFTER: Duration = Duration::from_secs(20);

/// How the service runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Consumer group.
    pub group: String,
    /// Raw topic.
    pub raw_topic: String,
    /// Dead-letter topic.
    pub dlq_topic: String,
    /// Rows per INSERT at most.
    pub batch_rows: usize,
    /// Approximate bytes per INSERT at most.
    pub batch_bytes: usize,
    /// Longest time a message waits in a batch.
    pub batch_interval: Duration,
    /// Exit once everything published so far is stored and committed, after this long
    /// without a message.
    pub exit_when_idle: Option<Duration>,
    /// Versions remembered for duplicate detection (memory: about 50 bytes each, twice).
    pub seen_capacity: usize,
    /// Static group membership id (`group.instance.id`); `None` for a dynamic member.
    pub instance_id: Option<String>,
}

/// What a run did (also exported as metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Messages taken from the raw topic and finished (stored, duplicate or dead-lettered).
    pub received: u64,
    /// Record versions inserted.
    pub stored: u64,
    /// Versions already stored, not inserted again.
    pub duplicates: u64,
    /// Messages dead-lettered, by reason.
    pub dead_lettered: BTreeMap<String, u64>,
}

impl Totals {
    /// All dead-lettered messages.
    pub fn dead_lettered_total(&self) -> u64 {
        self.dead_lettered.values().sum()
    }
}

/// Why the service stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Kafka client could not be created or a request failed for good.
    #[error(transparent)]
    Bus(#[from] bus::Error),
    /// ClickHouse refused the schema: migrations are missing.
    #[error("ClickHouse schema problem: {0}; run `cyberflag migrate`")]
    Schema(warehouse::Error),
}

#[derive(Default)]
struct Batch {
    rows: Vec<CrimeVersionRow>,
    row_messages: Vec<Incoming>,
    pending: HashSet<Identity>,
    rejects: Vec<(Incoming, Rejection)>,
    next_offsets: BTreeMap<i32, i64>,
    received: u64,
    duplicates: u64,
    bytes: usize,
    opened: Option<Instant>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.received == 0
    }
}

/// Runs until `shutdown` resolves (then flushes and commits) or, with `exit_when_idle`, until
/// everything published so far is stored and committed.
pub async fn run(
    settings: &Settings,
    kafka: &bus::ClientSettings,
    warehouse: &Warehouse,
    keyring: &Keyring,
    shutdown: impl Future<Output = ()>,
) -> Result<Totals, IngestError> {
    let mut consumer = GroupConsumer::new(
        kafka,
        &settings.group,
        &settings.raw_topic,
        settings.instance_id.as_deref(),
    )?;
    let mut unassigned_since: Option<Instant> = None;
    let mut seen_rebalances = consumer.rebalances();
    let dlq = Publisher::new(kafka, &settings.dlq_topic, Duration::from_secs(300))?;
    let mut seen = SeenVersions::new(settings.seen_capacity);
    let mut batch = Batch::default();
    let mut totals = Totals::default();
    let started = Instant::now();
    let mut last_message = Instant::now();
    let mut last_lag = Instant::now();
    tokio::pin!(shutdown);
    // Timers are created once: registering a timer per message costs more than the message.
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let flush_timer = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(flush_timer);
    tracing::info!(group = %settings.group, topic = %settings.raw_topic, "ingest started");
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => {
                tracing::info!("shutdown requested: flushing and committing");
                finish(&mut batch, &consumer, &dlq, warehouse, &mut seen, &mut totals).await?;
                break;
            }
            received = consumer.recv() => match received {
                Ok(first) => {
                    // Take everything already fetched (up to a chunk) without waiting, then
                    // verify and normalise the chunk on all cores.
                    let mut chunk = Vec::with_capacity(CHUNK);
                    chunk.push(first);
                    while chunk.len() < CHUNK {
                        match consumer.recv().now_or_never() {
                            Some(Ok(message)) => chunk.push(message),
                            Some(Err(error)) => {
                                tracing::warn!(%error, "consumer error; continuing");
                                break;
                            }
                            None => break,
                        }
                    }
                    chunk.retain(|message| {
                        let ours = message.topic == settings.raw_topic;
                        if !ours {
                            // Offsets are committed per partition of the raw topic; a message
                            // from any other topic (a broker assigning foreign partitions) is
                            // never taken.
                            tracing::error!(topic = %message.topic, partition = message.partition, "message from an unexpected topic ignored");
                        }
                        ours
                    });
                    last_message = Instant::now();
                    let opening = batch.opened.is_none();
                    accept_chunk(chunk, keyring, &seen, &mut batch);
                    if opening && let Some(opened) = batch.opened {
                        flush_timer.as_mut().reset(tokio::time::Instant::from_std(opened + settings.batch_interval));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "consumer error; continuing");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            () = &mut flush_timer, if batch.opened.is_some() => {
                finish(&mut batch, &consumer, &dlq, warehouse, &mut seen, &mut totals).await?;
            }
            _ = tick.tick() => {
                // Newly assigned partitions need time to be fetched: the idle period restarts
                // with every rebalance, or a member could leave before reading them.
                let rebalances = consumer.rebalances();
                if rebalances != seen_rebalances {
                    seen_rebalances = rebalances;
                    last_message = Instant::now();
                }
                if last_lag.elapsed() >= Duration::from_secs(10) {
                    last_lag = Instant::now();
                    record_lag(&consumer);
                }
                // A member the coordinator left without partitions (seen with Tansu 0.6.0 after
                // members were killed) would wait forever: leave and join the group again.
                if consumer.assigned().is_empty() {
                    let since = *unassigned_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= REJOIN_AFTER {
                        tracing::warn!(seconds = REJOIN_AFTER.as_secs(), "no partitions assigned; re-joining the consumer group");
                        finish(&mut batch, &consumer, &dlq, warehouse, &mut seen, &mut totals).await?;
                        drop(consumer);
                        consumer = GroupConsumer::new(kafka, &settings.group, &settings.raw_topic, settings.instance_id.as_deref())?;
                        seen_rebalances = consumer.rebalances();
                        last_message = Instant::now();
                        unassigned_since = None;
                        metrics::counter!("cyberflag_ingest_rejoins_total").increment(1);
                    }
                } else {
                    unassigned_since = None;
                }
                if let Some(idle) = settings.exit_when_idle
                    && batch.is_empty()
                    && last_message.elapsed() >= idle
                    && (!consumer.assigned().is_empty() || started.elapsed() >= idle * 5)
                    && caught_up(&consumer)
                {
                    // Confirm by reading: nothing may exist past any committed offset.
                    match consumer.unread_partitions(kafka, Duration::from_millis(1500)) {
                        Ok(unread) if unread.is_empty() => {
                            tracing::info!("everything published so far is stored and committed");
                            break;
                        }
                        Ok(unread) => {
                            // Idle while records wait: this member is not being fed (a
                            // coordinator that lost track of an assignment). Join again.
                            tracing::warn!(?unread, "idle with unread partitions; re-joining the consumer group");
                            finish(&mut batch, &consumer, &dlq, warehouse, &mut seen, &mut totals).await?;
                            drop(consumer);
                            consumer = GroupConsumer::new(kafka, &settings.group, &settings.raw_topic, settings.instance_id.as_deref())?;
                            seen_rebalances = consumer.rebalances();
                            last_message = Instant::now();
                            metrics::counter!("cyberflag_ingest_rejoins_total").increment(1);
                        }
                        Err(error) => tracing::warn!(%error, "cannot probe for unread records"),
                    }
                }
            }
        }
        if batch.rows.len() >= settings.batch_rows || batch.bytes >= settings.batch_bytes {
            finish(
                &mut batch,
                &consumer,
                &dlq,
                warehouse,
                &mut seen,
                &mut totals,
            )
            .await?;
        }
    }
    dlq.flush(Duration::from_secs(30))?;
    Ok(totals)
}

fn caught_up(consumer: &GroupConsumer) -> bool {
    match consumer.progress() {
        Ok(progress) => progress
            .iter()
            .all(|(_, committed, high)| committed.unwrap_or(0) >= *high),
        Err(error) => {
            tracing::warn!(%error, "cannot read committed offsets");
            false
        }
    }
}

fn record_lag(consumer: &GroupConsumer) {
    if let Ok(progress) = consumer.progress() {
        for (partition, committed, high) in progress {
            let lag = (high - committed.unwrap_or(0)).max(0);
            metrics::gauge!("cyberflag_ingest_lag", "partition" => partition.to_string())
                .set(lag as f64);
        }
    }
}

/// Verifies and normalises a chunk of messages in parallel, then deduplicates them into the
/// batch in order (the order decides which copy of a duplicate is stored).
fn accept_chunk(chunk: Vec<Incoming>, keyring: &Keyring, seen: &SeenVersions, batch: &mut Batch) {
    if chunk.is_empty() {
        return;
    }
    let now = Utc::now();
    let today = now.date_naive();
    let outcomes: Vec<Result<model::CrimeRecord, Rejection>> = chunk
        .par_iter()
        .map(|message| {
            let received_at = message
                .timestamp_ms
                .and_then(DateTime::<Utc>::from_timestamp_millis)
                .unwrap_or(now);
            verify(
                keyring,
                message.header(wire::HEADER_KEY_ID),
                message.header(wire::HEADER_SIGNATURE),
                &message.payload,
            )
            .and_then(|raw| normalise(&raw, received_at, today))
        })
        .collect();
    batch.opened.get_or_insert_with(Instant::now);
    for (message, outcome) in chunk.into_iter().zip(outcomes) {
        accept(message, outcome, now, seen, batch);
    }
}

/// Files one verified-and-normalised message into the batch.
fn accept(
    message: Incoming,
    outcome: Result<model::CrimeRecord, Rejection>,
    now: DateTime<Utc>,
    seen: &SeenVersions,
    batch: &mut Batch,
) {
    batch.received += 1;
    let next = batch.next_offsets.entry(message.partition).or_insert(0);
    *next = (*next).max(message.offset + 1);
    match outcome {
        Ok(record) => {
            let id = identity(&record);
            if seen.contains(id) || !batch.pending.insert(id) {
                batch.duplicates += 1;
                return;
            }
            let source = SourceOffset {
                topic: message.topic.clone(),
                partition: message.partition,
                offset: message.offset,
            };
            let row = CrimeVersionRow::new(&record, &source, now);
            batch.bytes += row.encoded_len();
            batch.rows.push(row);
            batch.row_messages.push(message);
        }
        Err(rejection) => {
            if matches!(rejection.code, "bad-signature" | "force-mismatch") {
                // Audit trail: someone published records a force's key did not sign.
                // The key id and the detail come from the sender: logged as Debug (quoted,
                // control characters escaped) so they cannot forge a log line.
                let key_id: String = message
                    .header(wire::HEADER_KEY_ID)
                    .map(|id| String::from_utf8_lossy(id).chars().take(64).collect())
                    .unwrap_or_default();
                tracing::warn!(
                    target: "audit",
                    reason = rejection.code,
                    key_id = ?key_id,
                    detail = ?rejection.message,
                    topic = %message.topic,
                    partition = message.partition,
                    offset = message.offset,
                    "refused message with bad provenance"
                );
            }
            batch.bytes += message.payload.len();
            batch.rejects.push((message, rejection));
        }
    }
}

/// Dead-letters, stores and commits the batch, in that order; see the module docs.
async fn finish(
    batch: &mut Batch,
    consumer: &GroupConsumer,
    dlq: &Publisher,
    warehouse: &Warehouse,
    seen: &mut SeenVersions,
    totals: &mut Totals,
) -> Result<(), IngestError> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut current = std::mem::take(batch);
    dead_letter(dlq, &current.rejects).await;

    let started = Instant::now();
    let mut attempt = 0u32;
    let mut paused = false;
    loop {
        match warehouse.insert_versions(&current.rows).await {
            Ok(()) => break,
            Err(error) if error.is_retryable() => {
                attempt += 1;
                metrics::counter!("cyberflag_ingest_insert_retries_total").increment(1);
                if !paused {
                    paused = consumer.pause().is_ok();
                }
                let backoff = Duration::from_millis(250 * 2u64.pow(attempt.min(5)));
                tracing::warn!(%error, attempt, backoff_ms = backoff.as_millis() as u64, "insert failed; retrying the same rows");
                tokio::time::sleep(backoff).await;
            }
            Err(error) if is_schema_error(&error) => return Err(IngestError::Schema(error)),
            Err(error) => {
                tracing::error!(%error, rows = current.rows.len(), "insert refused; dead-lettering the batch's rows");
                let rejection = Rejection::new("store-failed", error.to_string());
                let failed: Vec<(Incoming, Rejection)> = current
                    .row_messages
                    .drain(..)
                    .map(|message| (message, rejection.clone()))
                    .collect();
                dead_letter(dlq, &failed).await;
                current.rejects.extend(failed);
                current.rows.clear();
                current.pending.clear();
                break;
            }
        }
    }
    if paused && let Err(error) = consumer.resume() {
        tracing::warn!(%error, "cannot resume partitions");
    }
    metrics::histogram!("cyberflag_ingest_insert_seconds").record(started.elapsed().as_secs_f64());
    metrics::histogram!("cyberflag_ingest_batch_rows").record(current.rows.len() as f64);

    let mut commit_attempt = 0;
    loop {
        match consumer.commit(&current.next_offsets) {
            Ok(skipped) => {
                if !skipped.is_empty() {
                    tracing::info!(
                        ?skipped,
                        "partitions revoked before commit; their new owner re-reads them"
                    );
                }
                break;
            }
            Err(error) if commit_attempt < 5 => {
                commit_attempt += 1;
                tracing::warn!(%error, "commit failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * commit_attempt)).await;
            }
            Err(error) => {
                // The data is stored: failing to commit only means a re-delivery, which stores
                // versions already stored.
                tracing::warn!(%error, "commit failed; the batch will be re-delivered");
                break;
            }
        }
    }

    let stored = current.rows.len() as u64;
    seen.remember(current.pending.drain());
    totals.received += current.received;
    totals.stored += stored;
    totals.duplicates += current.duplicates;
    metrics::counter!("cyberflag_ingest_received_total").increment(current.received);
    metrics::counter!("cyberflag_ingest_stored_total").increment(stored);
    metrics::counter!("cyberflag_ingest_duplicates_total").increment(current.duplicates);
    for (_, rejection) in &current.rejects {
        *totals
            .dead_lettered
            .entry(rejection.code.to_owned())
            .or_default() += 1;
        metrics::counter!("cyberflag_ingest_dead_lettered_total", "reason" => rejection.code)
            .increment(1);
    }
    tracing::debug!(
        received = current.received,
        stored,
        duplicates = current.duplicates,
        rejected = current.rejects.len(),
        "batch committed"
    );
    Ok(())
}

fn is_schema_error(error: &warehouse::Error) -> bool {
    let text = error.to_string();
    // 60: unknown table, 81: unknown database, 16: no such column.
    ["Code: 60", "Code: 81", "Code: 16"]
        .iter()
        .any(|code| text.contains(code))
}

/// Sends rejected messages to the dead-letter topic and waits until the broker has them all,
/// retrying until it does (offsets must not move past an unacknowledged rejection).
async fn dead_letter(dlq: &Publisher, rejects: &[(Incoming, Rejection)]) {
    if rejects.is_empty() {
        return;
    }
    let mut attempt = 0u32;
    loop {
        match send_all(dlq, rejects).await {
            Ok(()) => return,
            Err(error) => {
                attempt += 1;
                let backoff = Duration::from_millis(250 * 2u64.pow(attempt.min(5)));
                tracing::warn!(%error, attempt, "dead-letter topic unavailable; retrying");
                tokio::time::sleep(backoff).await;
            }
        }
    }
}

async fn send_all(dlq: &Publisher, rejects: &[(Incoming, Rejection)]) -> Result<(), bus::Error> {
    let mut deliveries = Vec::with_capacity(rejects.len());
    for (message, rejection) in rejects {
        let source = format!("{}/{}/{}", message.topic, message.partition, message.offset);
        let mut headers: Vec<(&str, &[u8])> = message
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        headers.push((HEADER_DLQ_REASON, rejection.code.as_bytes()));
        headers.push((HEADER_DLQ_MESSAGE, rejection.message.as_bytes()));
        headers.push((HEADER_DLQ_SOURCE, source.as_bytes()));
        deliveries.push(
            dlq.send(bus::Outgoing {
                key: &message.key,
                payload: &message.payload,
                headers: &headers,
            })
            .await?,
        );
    }
    for delivery in deliveries {
        Publisher::acknowledged(delivery).await?;
    }
    Ok(())
}
