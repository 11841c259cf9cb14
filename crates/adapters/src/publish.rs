//! Publishing export files to the raw topic.
//!
//! Rows are read on a blocking thread and handed over a bounded channel, so memory stays
//! bounded whatever the file size. Each message is signed and sent; acknowledgements are
//! awaited **in send order**, so the rows acknowledged form a contiguous prefix of the file and
//! the checkpoint can advance to it. The checkpoint is saved every `checkpoint_every` rows and
//! at the end of each file.
//!
//! After a crash, rows the broker acknowledged but the checkpoint had not yet recorded are sent
//! again: at most `checkpoint_every + max_in_flight` per source. They are byte-identical to the
//! first copies, and `ingest` stores a given version of a crime once, so they never change a
//! count. Nothing unacknowledged is ever recorded as done, so nothing is lost.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use model::ForceId;
use tokio::sync::mpsc;
use wire::{Dialect, RawMessage, SCHEMA, Signer, SourcePosition};

use crate::checkpoint::{CheckpointError, Checkpoints, Progress, identify_reader};
use crate::dialect::{self, Context, Item, ReadError, Row};
use crate::profile::Mapping;
use crate::summary::Summary;

/// Tuning for a run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Ignore checkpoints and publish every row again (byte-identical messages).
    pub resend: bool,
    /// Rows between checkpoint saves.
    pub checkpoint_every: u64,
    /// Messages awaiting acknowledgement at most.
    pub max_in_flight: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            resend: false,
            checkpoint_every: 2_000,
            max_in_flight: 10_000,
        }
    }
}

/// Receives progress for display (a progress bar on a terminal, plain lines otherwise).
pub trait Reporter: Send + Sync {
    /// A file starts; `rows` is an estimate of its rows.
    fn start(&self, file: &str, rows: u64);
    /// `rows` more rows are done.
    fn advance(&self, rows: u64);
    /// The file is done.
    fn finish(&self, file: &str);
}

/// Everything needed to turn rows into signed messages.
#[derive(Debug)]
pub struct Publishing {
    /// The raw-topic producer.
    pub publisher: bus::Publisher,
    /// Signs payloads with the force's key.
    pub signer: Signer,
    /// Pseudonymises references with the force's key.
    pub pseudonymiser: wire::Pseudonymiser,
    /// The force.
    pub force: ForceId,
    /// The input format.
    pub dialect: Dialect,
    /// The mapping, for force exports.
    pub mapping: Option<Mapping>,
    /// The adapter instance name.
    pub adapter: String,
}

/// Why publishing stopped.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The file could not be read as the dialect.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        source: ReadError,
    },
    /// The broker refused or did not acknowledge a message in time.
    #[error("publishing to {topic}: {source}")]
    Broker {
        /// The topic.
        topic: String,
        /// The error.
        source: bus::Error,
    },
    /// The checkpoint could not be saved.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

impl Publishing {
    /// The context readers need.
    pub fn context(&self) -> Context<'_> {
        Context {
            force: self.force,
            dialect: self.dialect,
            mapping: self.mapping.as_ref(),
            pseudonymiser: &self.pseudonymiser,
        }
    }

    /// The signed message for one row, or `None` for a row that is not published.
    pub fn message(&self, source: &str, row: Row) -> Option<(String, Vec<u8>, String)> {
        let (record, malformed) = match row.item {
            Item::Record(record) => (Some(record), None),
            Item::Malformed(reason) => (None, Some(reason)),
            Item::Skipped(_) => return None,
        };
        let message = RawMessage {
            schema: SCHEMA.to_owned(),
            force: self.force.as_str().to_owned(),
            dialect: self.dialect,
            adapter: self.adapter.clone(),
            source: SourcePosition {
                name: source.to_owned(),
                line: row.line,
            },
            record,
            malformed,
        };
        let payload = message.to_bytes();
        let signature = self.signer.sign(&payload);
        Some((message.key(), payload, signature))
    }

    /// Sends one signed message; returns its pending acknowledgement.
    pub async fn send(
        &self,
        key: &str,
        payload: &[u8],
        signature: &str,
    ) -> Result<bus::Delivery, PublishError> {
        let headers: [(&str, &[u8]); 3] = [
            (wire::HEADER_SCHEMA, SCHEMA.as_bytes()),
            (wire::HEADER_KEY_ID, self.signer.key_id().as_bytes()),
            (wire::HEADER_SIGNATURE, signature.as_bytes()),
        ];
        self.publisher
            .send(bus::Outgoing {
                key: key.as_bytes(),
                payload,
                headers: &headers,
            })
            .await
            .map_err(|source| self.broker_error(source))
    }

    fn broker_error(&self, source: bus::Error) -> PublishError {
        PublishError::Broker {
            topic: self.publisher.topic().to_owned(),
            source,
        }
    }

    /// Publishes one file, resuming from its checkpoint, and adds what happened to `summary`.
    pub async fn publish_file(
        &self,
        path: &Path,
        checkpoints: &mut Checkpoints,
        options: Options,
        summary: &mut Summary,
        reporter: &dyn Reporter,
    ) -> Result<(), PublishError> {
        let file = std::fs::File::open(path).map_err(|e| PublishError::Read {
            file: path.into(),
            source: ReadError::Io(e),
        })?;
        self.publish_open(path, file, checkpoints, options, summary, reporter)
            .await
    }

    /// [`Publishing::publish_file`] for a file already opened (a spool file opened by
    /// [`crate::spool::open`]): its identity and its rows are read from this one handle, so
    /// they are the same file's even if the path changes meanwhile.
    pub async fn publish_open(
        &self,
        path: &Path,
        mut file: std::fs::File,
        checkpoints: &mut Checkpoints,
        options: Options,
        summary: &mut Summary,
        reporter: &dyn Reporter,
    ) -> Result<(), PublishError> {
        use std::io::Seek;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let read_error = |source| PublishError::Read {
            file: path.into(),
            source,
        };
        let (identity, estimated_rows) = identify_reader(&mut file)
            .and_then(|identified| file.rewind().map(|()| identified))
            .map_err(|e| read_error(ReadError::Io(e)))?;
        if options.resend {
            checkpoints.forget(&identity);
        }
        let start = match checkpoints.get(&identity) {
            Some(progress) if progress.complete => {
                summary.files_already_done += 1;
                tracing::info!(file = %name, "already published; skipping");
                return Ok(());
            }
            Some(progress) => progress.rows_done,
            None => 0,
        };
        summary.files_read += 1;
        reporter.start(&name, estimated_rows.saturating_sub(start));

        let (sender, mut receiver) = mpsc::channel::<Row>(4096);
        let context = OwnedContext::from(self);
        let reader = tokio::task::spawn_blocking(move || -> Result<_, ReadError> {
            let context = context.borrow();
            dialect::read(context, file, &mut |row| sender.blocking_send(row).is_ok())
        });

        let mut in_flight: VecDeque<(u64, Option<bus::Delivery>)> = VecDeque::new();
        let mut index = 0u64;
        let mut acknowledged = start;
        let mut saved = start;
        let mut outcome = Ok(());
        while let Some(row) = receiver.recv().await {
            index += 1;
            if index <= start {
                summary.already_done += 1;
                continue;
            }
            summary.read += 1;
            match &row.item {
                Item::Skipped(reason) => summary.skip(reason, &name, row.line),
                Item::Malformed(reason) => summary.malformed(reason, &name, row.line),
                Item::Record(_) => {}
            }
            let delivery = match self.message(&name, row) {
                None => None,
                Some((key, payload, signature)) => {
                    match self.send(&key, &payload, &signature).await {
                        Ok(delivery) => Some(delivery),
                        Err(error) => {
                            outcome = Err(error);
                            break;
                        }
                    }
                }
            };
            in_flight.push_back((index, delivery));
            while in_flight.len() > options.max_in_flight {
                if let Err(error) = self
                    .settle(&mut in_flight, &mut acknowledged, summary)
                    .await
                {
                    outcome = Err(error);
                    break;
                }
            }
            if outcome.is_err() {
                break;
            }
            if acknowledged >= saved + options.checkpoint_every {
                reporter.advance(acknowledged - saved);
                checkpoints.set(&identity, progress(&name, acknowledged, false));
                checkpoints.save()?;
                saved = acknowledged;
            }
        }
        drop(receiver);
        if outcome.is_ok() {
            while !in_flight.is_empty() {
                if let Err(error) = self
                    .settle(&mut in_flight, &mut acknowledged, summary)
                    .await
                {
                    outcome = Err(error);
                    break;
                }
            }
        }
        // Whatever happened, record the acknowledged prefix.
        let read = reader
            .await
            .map_err(|e| read_error(ReadError::Io(std::io::Error::other(e))))?;
        let complete = outcome.is_ok() && read.is_ok();
        checkpoints.set(&identity, progress(&name, acknowledged, complete));
        checkpoints.save()?;
        reporter.advance(acknowledged.saturating_sub(saved));
        reporter.finish(&name);
        outcome?;
        match read {
            Ok(report) => {
                summary.dropped_fields.extend(report.dropped_fields);
                Ok(())
            }
            Err(ReadError::Stopped) => Ok(()),
            Err(error) => Err(read_error(error)),
        }
    }

    /// Awaits the oldest pending acknowledgement.
    async fn settle(
        &self,
        in_flight: &mut VecDeque<(u64, Option<bus::Delivery>)>,
        acknowledged: &mut u64,
        summary: &mut Summary,
    ) -> Result<(), PublishError> {
        if let Some((index, delivery)) = in_flight.pop_front() {
            if let Some(delivery) = delivery {
                bus::Publisher::acknowledged(delivery)
                    .await
                    .map_err(|source| self.broker_error(source))?;
                summary.published += 1;
            }
            *acknowledged = index;
        }
        Ok(())
    }
}

fn progress(name: &str, rows_done: u64, complete: bool) -> Progress {
    Progress {
        name: name.to_owned(),
        rows_done,
        complete,
    }
}

/// The reader's context, owned so it can move to the blocking thread.
struct OwnedContext {
    force: ForceId,
    dialect: Dialect,
    mapping: Option<Mapping>,
    pseudonymiser: wire::Pseudonymiser,
}

impl From<&Publishing> for OwnedContext {
    fn from(publishing: &Publishing) -> Self {
        Self {
            force: publishing.force,
            dialect: publishing.dialect,
            mapping: publishing.mapping.clone(),
            pseudonymiser: publishing.pseudonymiser.clone(),
        }
    }
}

impl OwnedContext {
    fn borrow(&self) -> Context<'_> {
        Context {
            force: self.force,
            dialect: self.dialect,
            mapping: self.mapping.as_ref(),
            pseudonymiser: &self.pseudonymiser,
        }
    }
}

/// Default delivery timeout: how long one message may wait for the broker before the run
/// fails (and resumes from its checkpoint on the next start).
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);
