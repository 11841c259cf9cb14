-- Fast statistics: snapshots of current-state counts, and the log of changes since.
--
-- crime_counts holds, per snapshot, the number of current recorded crimes per (recorded day,
-- force, offence code and group, category, age band, online flag), built from every version
-- stored up to the snapshot's cut-off (stored_at <= cutoff). A snapshot is complete once its
-- row is in count_snapshots; a partition without one is an interrupted build and is ignored.
-- crime_changes records, for every version inserted from now on, when it was stored and which
-- crime it belongs to (filled by ClickHouse on insert). A count is then the snapshot's, plus the
-- current state of the crimes changed after the cut-off, minus their state at the cut-off: exact,
-- and fast because the changed crimes are few and found by the sorting key.
--
-- Runs on ClickHouse 18.16 and current releases.
CREATE MATERIALIZED VIEW IF NOT EXISTS crime_changes
ENGINE = MergeTree
ORDER BY (stored_at, force, crime_ref)
AS SELECT stored_at, force, crime_ref FROM crime_versions;

CREATE TABLE IF NOT EXISTS crime_counts
(
    snapshot UInt32,
    recorded_date Date,
    force String,
    offence_code String,
    offence_group String,
    category String,
    age_band String,
    cyber UInt8,
    crimes UInt64
)
ENGINE = MergeTree
PARTITION BY snapshot
ORDER BY (snapshot, recorded_date, force, offence_group, category, cyber);

CREATE TABLE IF NOT EXISTS count_snapshots
(
    snapshot UInt32,
    cutoff DateTime,
    built_at DateTime,
    groups UInt64,
    seconds Float64
)
ENGINE = MergeTree
ORDER BY snapshot;
