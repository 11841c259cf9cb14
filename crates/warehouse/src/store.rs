//! Writing record versions: the `crime_versions` row and its insert.

use chrono::{DateTime, NaiveDate, Utc};
use model::{CrimeRecord, DatePrecision, Status};
use serde::Serialize;

use crate::{Error, Warehouse};

/// Where a record came from on the raw topic (lineage and the replay position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// One row of `crime_versions`, in column order (RowBinary has no names: the order is the
/// contract, checked against the live table by an integration test).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, clickhouse::Row)]
pub struct CrimeVersionRow {
    force: String,
    crime_ref: String,
    version: u64,
    /// Enum8: 1 recorded, 2 cancelled, 3 transferred.
    status: i8,
    transferred_to: String,
    offence_code: String,
    offence_group: String,
    category: String,
    cyber: u8,
    /// Date: days since 1970-01-01.
    recorded_date: u16,
    /// Enum8: 1 day, 2 month.
    recorded_precision: i8,
    offence_from: Option<u16>,
    offence_to: Option<u16>,
    victim_age: Option<u8>,
    age_band: String,
    outcome: String,
    lsoa: String,
    source_format: String,
    adapter: String,
    /// DateTime: seconds since the epoch.
    received_at: u32,
    source_topic: String,
    source_partition: i32,
    source_offset: i64,
    stored_at: u32,
}

/// The column names, in order.
pub const CRIME_VERSION_COLUMNS: [&str; 24] = [
    "force",
    "crime_ref",
    "version",
    "status",
    "transferred_to",
    "offence_code",
    "offence_group",
    "category",
    "cyber",
    "recorded_date",
    "recorded_precision",
    "offence_from",
    "offence_to",
    "victim_age",
    "age_band",
    "outcome",
    "lsoa",
    "source_format",
    "adapter",
    "received_at",
    "source_topic",
    "source_partition",
    "source_offset",
    "stored_at",
];

fn days(date: NaiveDate) -> u16 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    u16::try_from((date - epoch).num_days()).unwrap_or(0)
}

fn seconds(time: DateTime<Utc>) -> u32 {
    u32::try_from(time.timestamp()).unwrap_or(0)
}

impl CrimeVersionRow {
    /// The row for a validated record. Derived columns (group, band, category) come from
    /// `model`, so the rules live in one place.
    pub fn new(record: &CrimeRecord, source: &SourceOffset, stored_at: DateTime<Utc>) -> Self {
        let (status, transferred_to) = match record.status {
            Status::Recorded => (1, String::new()),
            Status::Cancelled => (2, String::new()),
            Status::Transferred { to } => (3, to.as_str().to_owned()),
        };
        Self {
            force: record.force.as_str().to_owned(),
            crime_ref: record.crime_ref.as_str().to_owned(),
            version: record.version,
            status,
            transferred_to,
            offence_code: record
                .offence_code
                .map(|c| c.to_string())
                .unwrap_or_default(),
            offence_group: record
                .offence_group()
                .map(|g| g.as_str().to_owned())
                .unwrap_or_default(),
            category: record
                .effective_category()
                .map(|c| c.slug().to_owned())
                .unwrap_or_default(),
            cyber: u8::from(record.cyber),
            recorded_date: days(record.recorded.date),
            recorded_precision: match record.recorded.precision {
                DatePrecision::Day => 1,
                DatePrecision::Month => 2,
            },
            offence_from: record.offence_dates.map(|r| days(r.from)),
            offence_to: record.offence_dates.map(|r| days(r.to)),
            victim_age: record.victim_age,
            age_band: record.age_band().as_str().to_owned(),
            outcome: record
                .outcome
                .as_ref()
                .map(|o| o.to_string())
                .unwrap_or_default(),
            lsoa: record
                .lsoa
                .as_ref()
                .map(|l| l.as_str().to_owned())
                .unwrap_or_default(),
            source_format: record.lineage.source_format.as_str().to_owned(),
            adapter: record.lineage.adapter.clone(),
            received_at: seconds(record.lineage.received_at),
            source_topic: source.topic.clone(),
            source_partition: source.partition,
            source_offset: source.offset,
            stored_at: seconds(stored_at),
        }
    }

    /// Approximate encoded size, for cutting batches by bytes.
    pub fn encoded_len(&self) -> usize {
        80 + self.force.len()
            + self.crime_ref.len()
            + self.offence_code.len()
            + self.offence_group.len()
            + self.category.len()
            + self.outcome.len()
            + self.adapter.len()
            + self.source_topic.len()
    }
}

impl Warehouse {
    /// Inserts `rows` in one INSERT (one block, so all or nothing on every server version).
    /// `stored_at` becomes the time of this attempt: count snapshots cut at a stored time and
    /// take everything stored later from `crime_changes`, so a retried batch must not carry
    /// the time of an earlier, failed attempt.
    pub async fn insert_versions(&self, rows: &[CrimeVersionRow]) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let now = u32::try_from(Utc::now().timestamp()).unwrap_or(u32::MAX);
        let mut insert = self.insert::<CrimeVersionRow>("crime_versions").await?;
        for row in rows {
            if row.stored_at == now {
                insert.write(row).await?;
            } else {
                let mut row = row.clone();
                row.stored_at = now;
                insert.write(&row).await?;
            }
        }
        insert.end().await?;
        Ok(())
    }
}
