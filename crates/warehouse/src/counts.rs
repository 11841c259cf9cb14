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

use crate::stats::{Bound, CURRENT, Snapshot, known_at, unescape_tsv};
use crate::{Error, Layout, Warehouse};

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

/// Seconds an `ON CLUSTER` drop of old snapshots waits for every replica before the build
/// moves on (the replicas that are down run it from ClickHouse's DDL queue when they return).
const DDL_TIMEOUT_SECS: &str = "20";

/// The latest complete snapshot.
pub(crate) const LATEST_SNAPSHOT: &str =
    "SELECT snapshot, toUInt32(cutoff) FROM count_snapshots ORDER BY snapshot DESC LIMIT 1";

/// The highest snapshot id in `crime_counts`, complete or not.
pub(crate) const SNAPSHOT_HIGHEST_ID: &str = "SELECT max(snapshot) FROM crime_counts";

/// The most replicas a shard of the named cluster has (the bound value): how many replicas a
/// snapshot partition must reach before its insert returns.
pub(crate) const REPLICAS_PER_SHARD: &str =
    "SELECT max(replica_num) FROM system.clusters WHERE cluster = ?";

/// The forces that sent anything, counted one at a time (bounded memory).
pub(crate) const SNAPSHOT_FORCES: &str = "SELECT DISTINCT force FROM crime_versions ORDER BY force";

/// Versions stored after a cut-off.
pub(crate) fn changes_since_sql(cutoff: u32) -> String {
    format!("SELECT count() FROM crime_changes WHERE stored_at > toDateTime({cutoff})")
}

/// Counts one force's current recorded crimes (the force is bound three times) into snapshot
/// `id`, from the versions first stored by the cut-off: a version whose copy in
/// crime_versions is later (stored again, and merged) is looked up in crime_arrivals, which
/// keeps its first copy; only those few versions are.
pub(crate) fn snapshot_insert_sql(id: u32, cutoff: u32, layout: &Layout) -> String {
    let later = format!(
        "(crime_ref, version) IN (SELECT crime_ref, version FROM {} \
         WHERE force = ? AND stored_at > toDateTime({cutoff}))",
        layout.local("crime_versions")
    );
    let known = format!(
        "(stored_at <= toDateTime({cutoff}) OR {})",
        known_at(cutoff, &format!("force = ? AND {later}"), layout)
    );
    let inner = CURRENT.replace(
        " FROM crime_versions GROUP BY",
        &format!(" FROM crime_versions WHERE force = ? AND {known} GROUP BY"),
    );
    format!(
        "INSERT INTO crime_counts SELECT {id}, recorded_date, force, offence_code, \
         offence_group, category, age_band, cyber, count() FROM ({inner}) \
         WHERE status = 'recorded' GROUP BY recorded_date, force, offence_code, \
         offence_group, category, age_band, cyber"
    )
}

/// The groups written to snapshot `id`.
pub(crate) fn snapshot_groups_sql(id: u32) -> String {
    format!("SELECT count() FROM crime_counts WHERE snapshot = {id}")
}

/// Marks snapshot `id` complete.
pub(crate) fn snapshot_complete_sql(id: u32, cutoff: u32, groups: u64, seconds: f64) -> String {
    format!(
        "INSERT INTO count_snapshots VALUES ({id}, toDateTime({cutoff}), now(), {groups}, {seconds})"
    )
}

/// Snapshot partitions older than `keep`.
pub(crate) fn snapshot_stale_sql(keep: u32) -> String {
    format!("SELECT DISTINCT snapshot FROM crime_counts WHERE snapshot < {keep} ORDER BY snapshot")
}

/// Drops the partitions `ids` of `table` (`crime_counts`, or `crime_counts_local` with
/// ` ON CLUSTER …` on a cluster), in one statement.
pub(crate) fn snapshot_drop_sql(table: &str, on_cluster: &str, ids: &[u32]) -> String {
    let partitions: Vec<String> = ids
        .iter()
        .map(|id| format!("DROP PARTITION {id}"))
        .collect();
    format!("ALTER TABLE {table}{on_cluster} {}", partitions.join(", "))
}

impl Warehouse {
    /// The latest complete snapshot, if any.
    pub async fn latest_snapshot(&self) -> Result<Option<Snapshot>, Error> {
        let text = self.fetch_tsv(LATEST_SNAPSHOT, Vec::new()).await?;
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
            .fetch_tsv(&changes_since_sql(snapshot.cutoff), Vec::new())
            .await?
            .trim()
            .parse()
            .unwrap_or(0))
    }

    /// Builds a new snapshot cut `margin_secs` before the server's clock, then drops every
    /// older snapshot but the previous one (queries in flight may still read it).
    ///
    /// A snapshot id is never reused: it is past every complete snapshot and every partition
    /// an interrupted build left behind, so a build never adds to a partial partition and
    /// needs no schema change before it counts. On a cluster each partition is written to
    /// every replica of its shard before the insert returns (`insert_quorum`), so once a
    /// snapshot is marked complete no replica serves part of it; while a replica is down a
    /// build therefore fails, and queries keep reading the previous snapshot plus the changes
    /// since, exactly. Dropping old partitions is housekeeping: on a cluster with a replica
    /// down it is queued for that replica and logged, and the build still succeeds.
    pub async fn build_snapshot(&self, margin_secs: u32) -> Result<SnapshotReport, Error> {
        let started = Instant::now();
        let now: u32 = self
            .fetch_tsv("SELECT toUInt32(now())", Vec::new())
            .await?
            .trim()
            .parse()
            .unwrap_or(0);
        let cutoff = now.saturating_sub(margin_secs);
        // The build reads only replicas no further behind than the margin: a version an
        // insert acknowledged before the cut-off is then on the replica that counts it. A
        // lagging replica is skipped, and the build fails rather than read one if every
        // replica of a shard lags (a snapshot missing a version would stay wrong until the
        // next one: the changes since a cut-off only add versions stored after it).
        let max_delay = margin_secs.max(1).to_string();
        let fresh = Self {
            client: self
                .client
                .clone()
                .with_setting(
                    "max_replica_delay_for_distributed_queries",
                    max_delay.as_str(),
                )
                .with_setting("fallback_to_stale_replicas_for_distributed_queries", "0"),
            ..self.clone()
        };
        let previous = self.latest_snapshot().await?;
        let highest: u32 = self
            .fetch_tsv(SNAPSHOT_HIGHEST_ID, Vec::new())
            .await?
            .trim()
            .parse()
            .unwrap_or(0);
        // Snapshot ids increase even when two builds share a cut-off second.
        let id = cutoff.max(previous.map_or(0, |p| p.id).max(highest) + 1);
        let forces: Vec<String> = fresh
            .fetch_tsv(SNAPSHOT_FORCES, Vec::new())
            .await?
            .lines()
            .map(unescape_tsv)
            .collect();
        let quorum = match &self.cluster {
            Some(cluster) => self
                .fetch_tsv(REPLICAS_PER_SHARD, vec![Bound::Text(cluster.clone())])
                .await?
                .trim()
                .to_owned(),
            None => "0".to_owned(),
        };
        let insert = snapshot_insert_sql(id, cutoff, &self.layout());
        for force in &forces {
            fresh
                .query(&insert)
                .with_setting("insert_quorum", quorum.as_str())
                .bind(force)
                .bind(force)
                .bind(force)
                .execute()
                .await?;
        }
        let groups: u64 = self
            .fetch_tsv(&snapshot_groups_sql(id), Vec::new())
            .await?
            .trim()
            .parse()
            .unwrap_or(0);
        let seconds = started.elapsed().as_secs_f64();
        self.query(&snapshot_complete_sql(id, cutoff, groups, seconds))
            .execute()
            .await?;
        // Keep this snapshot and the one before it; drop the rest, and interrupted builds.
        let keep = previous.map_or(id, |p| p.id);
        let stale: Vec<u32> = self
            .fetch_tsv(&snapshot_stale_sql(keep), Vec::new())
            .await?
            .lines()
            .filter_map(|l| l.parse::<u32>().ok())
            .collect();
        if !stale.is_empty() {
            let drop = snapshot_drop_sql(
                &self.layout().local("crime_counts"),
                &self.on_cluster(),
                &stale,
            );
            let result = self
                .query(&drop)
                .with_setting("distributed_ddl_task_timeout", DDL_TIMEOUT_SECS)
                .execute()
                .await;
            match result {
                Ok(()) => {}
                Err(error) if self.cluster.is_some() => tracing::warn!(
                    %error,
                    snapshots = ?stale,
                    "old count snapshots not yet dropped on every replica (a replica is down?); \
                     the live ones drop them now, the others when they return"
                ),
                Err(error) => return Err(error.into()),
            }
        }
        Ok(SnapshotReport {
            snapshot: Snapshot { id, cutoff },
            groups,
            forces: forces.len(),
            seconds,
        })
    }
}
