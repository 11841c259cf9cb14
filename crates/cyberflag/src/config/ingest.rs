//! `[ingest]`: the consumer that stores records.

use serde::{Deserialize, Serialize};

use super::{ConfigError, refuse};

/// `[ingest]`: its consumer group and how it batches.
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

impl IngestConfig {
    /// Refuses values that are well-typed but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("ingest.batch_rows", self.batch_rows),
            ("ingest.batch_bytes", self.batch_bytes),
            ("ingest.batch_interval_ms", self.batch_interval_ms),
        ] {
            if value == 0 {
                return Err(refuse(key, "must be at least 1".into()));
            }
        }
        if self.batch_rows > 1_000_000 {
            return Err(refuse(
                "ingest.batch_rows",
                "at most 1000000, so one INSERT stays one block".into(),
            ));
        }
        if self.group.trim().is_empty() {
            return Err(refuse("ingest.group", "must not be empty".into()));
        }
        Ok(())
    }
}
