-- When each version of each crime was first stored: what a count snapshot knew at its cut-off.
--
-- A version can be stored more than once (a re-delivery after a restart or a rebalance, a
-- re-sent file, a replay). crime_versions is ReplacingMergeTree(stored_at), so when parts merge
-- it keeps the copy stored last: a version first stored before a snapshot's cut-off and again
-- after it then looks new, and a query reading "the crimes' state at the cut-off" from
-- crime_versions would miss it and count the crime twice (once in the snapshot, once as
-- changed). crime_arrivals keeps, per (force, crime_ref, version), the copy stored FIRST
-- (first_kept decreases as stored_at grows, and ReplacingMergeTree keeps the largest), so "which
-- versions were stored by the cut-off" survives merges. Readers never rely on merges: any copy
-- stored by the cut-off proves the version was there.
--
-- Versions stored before this migration are copied in; a re-run copies them again, which merges
-- collapse and readers ignore. Runs on ClickHouse 18.16 and current releases.
CREATE MATERIALIZED VIEW IF NOT EXISTS crime_arrivals
ENGINE = ReplacingMergeTree(first_kept)
ORDER BY (force, crime_ref, version)
AS SELECT force, crime_ref, version, stored_at,
    toUInt32(4294967295 - toUInt32(stored_at)) AS first_kept
FROM crime_versions;

INSERT INTO crime_arrivals
SELECT force, crime_ref, version, stored_at,
    toUInt32(4294967295 - toUInt32(stored_at)) AS first_kept
FROM crime_versions;
