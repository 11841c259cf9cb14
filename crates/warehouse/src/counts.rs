//! Count snapshots: the current-state counts that make statistics fast at national scale.
//!
//! [`Warehouse::build_snapshot`] counts, force by force (bounded memory), the current recorded
//! crimes per (recorded day, force, offence code and group, category, age band, online flag)
//! from every version stored up to a cut-off, into a new `crime_counts` partition, and then
//! marks the snapshot complete in `count_snapshots`. Queries about now read the latest complete
//! snapshot plus the crimes changed after its cut-off (`StatsQuery::sql_with`), so they stay
//! exact while the snapshot ages. The cut-off lies `margin` seconds before the server's clock:
//! an INSERT still in flight when the build starts carries an earlier `stored_at` and must be
//! visible by then.

use std::time::Instant;

use crate::stats::{CURRENT, Snapshot, unescape_tsv};
use crate::{Error, Warehouse};

/// What a build did.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotReport {
    /// The snapshot.
    pub snapshot: Snapshot,
    /// Groups written.
    pub groups: u64,
    /// Forces counted.
    pub forces: usize,
    /// Seconds taken.
    pub seconds: f64,
}

impl Warehouse {
    /// The latest complete snapshot, if any.
    pub async fn latest_snapshot(&self) -> Result<Option<Snapshot>, Error> {
        let text = self
            .fetch_tsv(
                "SELECT snapshot, toUInt32(cutoff) FROM count_snapshots \
                 ORDER BY snapshot DESC LIMIT 1",
                Vec::new(),
            )
            .await?;
        Ok(text.lines().next().and_then(|line| {
            let (id, cutoff) = line.split_once('\t')?;
            Some(Snapshot {
                id: id.parse().ok()?,
                cutoff: cutoff.parse().ok()?,
            })
        }))
    }

    /// Versions stored after `snapshot`'s cut-off: the work every query about now adds to
    /// reading the snapshot.
    pub async fn changes_since(&self, snapshot: Snapshot) -> Result<u64, Error> {
        Ok(self
            .fetch_tsv(
                &format!(
                    "SELECT count() FROM crime_changes WHERE stored_at > toDateTime({})",
                    snapshot.cutoff
                ),
                Vec::new(),
            )
            .await?
            .trim()
            .parse()
            .unwrap_or(0))
    }

    /// Builds a new snapshot cut `margin_secs` before the server's clock, then drops every
    /// older snapshot but the previous one (queries in flight may still read it).
    pub async fn build_snapshot(&self, margin_secs: u32) -> Result<SnapshotReport, Error> {
        let started = Instant::now();
        let now: u32 = self
            .fetch_tsv("SELECT toUInt32(now())", Vec::new())
            .await?
            .trim()
            .parse()
            .unwrap_or(0);
        let cutoff = now.saturating_sub(margin_secs);
        // Snapshot ids increase even when two builds share a cut-off second.
        let previous = self.latest_snapshot().await?;
        let id = previous.map_or(cutoff, |p| cutoff.max(p.id + 1));
        let counts = format!("{}{}", self.local_table("crime_counts"), self.on_cluster());
        self.client
            .query(&format!("ALTER TABLE {counts} DROP PARTITION {id}"))
            .execute()
            .await
            .ok();
        let forces: Vec<String> = self
            .fetch_tsv(
                "SELECT DISTINCT force FROM crime_versions ORDER BY force",
                Vec::new(),
            )
            .await?
            .lines()
            .map(unescape_tsv)
            .collect();
        let inner = CURRENT.replace(
            " FROM crime_versions GROUP BY",
            &format!(" FROM crime_versions WHERE force = ? AND stored_at <= toDateTime({cutoff}) GROUP BY"),
        );
        let insert = format!(
            "INSERT INTO crime_counts SELECT {id}, recorded_date, force, offence_code, \
             offence_group, category, age_band, cyber, count() FROM ({inner}) \
             WHERE status = 'recorded' GROUP BY recorded_date, force, offence_code, \
             offence_group, category, age_band, cyber"
        );
        for force in &forces {
            self.client.query(&insert).bind(force).execute().await?;
        }
        let groups: u64 = self
            .fetch_tsv(
                &format!("SELECT count() FROM crime_counts WHERE snapshot = {id}"),
                Vec::new(),
            )
            .await?
            .trim()
            .parse()
            .unwrap_or(0);
        let seconds = started.elapsed().as_secs_f64();
        self.client
            .query(&format!(
                "INSERT INTO count_snapshots VALUES ({id}, toDateTime({cutoff}), now(), {groups}, {seconds})"
            ))
            .execute()
            .await?;
        // Keep this snapshot and the one before it; drop the rest, and interrupted builds.
        let keep = previous.map_or(id, |p| p.id);
        let stale = self
            .fetch_tsv(
                &format!("SELECT DISTINCT snapshot FROM crime_counts WHERE snapshot < {keep}"),
                Vec::new(),
            )
            .await?;
        for old in stale.lines().filter_map(|l| l.parse::<u32>().ok()) {
            self.client
                .query(&format!("ALTER TABLE {counts} DROP PARTITION {old}"))
                .execute()
                .await?;
        }
        Ok(SnapshotReport {
            snapshot: Snapshot { id, cutoff },
            groups,
            forces: forces.len(),
            seconds,
        })
    }
}
