-- Alerts raised by `cyberflag alerts run`, their deliveries to webhooks, and the weeks evaluated.
--
-- An alert is identified by alert_id (method, series and the week it opened). Every change
-- (opened, updated with a later week, resolved) is a new row with the next revision, and every
-- revision is kept (the sorting key collapses only a revision written twice); readers take
-- argMax over revision per alert_id and never rely on merges having happened.
--
-- alert_deliveries is the outbox's other half: a (receiver, alert_id, revision) row is written
-- after the receiver accepted that revision. What is pending for a receiver is every revision
-- newer than its last delivery, so nothing is lost when the service stops between the two.
--
-- Runs on ClickHouse 18.16 and current releases: no LowCardinality, DateTime64 or Map.
CREATE TABLE IF NOT EXISTS alerts
(
    alert_id String,
    revision UInt32,
    kind Enum8('rise' = 1, 'data-quality' = 2),
    method String,
    force String,
    offence_group String,
    status Enum8('firing' = 1, 'resolved' = 2),
    opened_week Date,
    week Date,
    observed UInt64,
    expected Nullable(Float64),
    threshold Nullable(Float64),
    score Nullable(Float64),
    p_value Nullable(Float64),
    rank UInt32,
    opened_at DateTime,
    updated_at DateTime
)
ENGINE = ReplacingMergeTree
ORDER BY (alert_id, revision);

CREATE TABLE IF NOT EXISTS alert_deliveries
(
    receiver String,
    alert_id String,
    revision UInt32,
    delivered_at DateTime
)
ENGINE = ReplacingMergeTree(delivered_at)
ORDER BY (receiver, alert_id, revision);

CREATE TABLE IF NOT EXISTS alert_runs
(
    week Date,
    finished_at DateTime,
    series UInt32,
    tests UInt32,
    skipped UInt32,
    findings UInt32,
    opened UInt32,
    updated UInt32,
    resolved UInt32,
    p_cutoff Float64
)
ENGINE = MergeTree
ORDER BY (week, finished_at);
