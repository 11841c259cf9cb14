-- Every version of every crime record that passed validation, exactly as ingest normalised it.
--
-- The sorting key (force, crime_ref, version) is the identity of one version of one crime, so the
-- same version delivered twice (a re-sent file, a retried batch, a replay) collapses to one row
-- when parts merge; queries never rely on merges having happened and deduplicate by that key
-- themselves (argMax over version per crime, or FINAL). Every version is kept: "what was known
-- on date X" is answered from stored_at and version.
--
-- Runs on ClickHouse 18.16 and current releases: no LowCardinality, DateTime64 or Map.
CREATE TABLE IF NOT EXISTS crime_versions
(
    force String,
    crime_ref String,
    version UInt64,
    status Enum8('recorded' = 1, 'cancelled' = 2, 'transferred' = 3),
    transferred_to String,
    offence_code String,
    offence_group String,
    category String,
    cyber UInt8,
    recorded_date Date,
    recorded_precision Enum8('day' = 1, 'month' = 2),
    offence_from Nullable(Date),
    offence_to Nullable(Date),
    victim_age Nullable(UInt8),
    age_band String,
    outcome String,
    lsoa String,
    source_format String,
    adapter String,
    received_at DateTime,
    source_topic String,
    source_partition Int32,
    source_offset Int64,
    stored_at DateTime
)
ENGINE = ReplacingMergeTree(stored_at)
ORDER BY (force, crime_ref, version);
