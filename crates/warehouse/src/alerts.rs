//! Alert storage: revisions of alerts, deliveries to receivers, evaluated weeks, and the
//! data-quality inputs (last arrival per force, weekly flag shares).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::Dimension;
use crate::stats::{Bound, unescape_tsv};
use crate::{Error, Warehouse};

/// Days since 1970-01-01 of a date (ClickHouse `Date`).
pub(crate) fn day_number(date: NaiveDate) -> u16 {
    let days = (date - NaiveDate::default()).num_days();
    u16::try_from(days).unwrap_or(if days < 0 { 0 } else { u16::MAX })
}

fn from_day_number(days: u16) -> NaiveDate {
    NaiveDate::default() + chrono::Days::new(u64::from(days))
}

fn seconds(time: DateTime<Utc>) -> u32 {
    u32::try_from(time.timestamp().max(0)).unwrap_or(u32::MAX)
}

/// Whether an alert is about a rise in crime or about the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// A detector found a rise.
    Rise,
    /// A force went silent or its flag share collapsed.
    DataQuality,
}

/// Whether an alert is still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    /// Open.
    Firing,
    /// Closed.
    Resolved,
}

impl AlertStatus {
    /// Alertmanager's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// One revision of one alert (a row of `alerts`, in column order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct AlertRow {
    alert_id: String,
    revision: u32,
    kind: i8,
    method: String,
    force: String,
    offence_group: String,
    status: i8,
    opened_week: u16,
    week: u16,
    observed: u64,
    expected: Option<f64>,
    threshold: Option<f64>,
    score: Option<f64>,
    p_value: Option<f64>,
    rank: u32,
    opened_at: u32,
    updated_at: u32,
}

/// The column names of `alerts`, in order.
pub const ALERT_COLUMNS: [&str; 17] = [
    "alert_id",
    "revision",
    "kind",
    "method",
    "force",
    "offence_group",
    "status",
    "opened_week",
    "week",
    "observed",
    "expected",
    "threshold",
    "score",
    "p_value",
    "rank",
    "opened_at",
    "updated_at",
];

/// The numbers of an alert at one revision.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertNumbers {
    /// The evaluated week the numbers belong to.
    pub week: NaiveDate,
    /// Observed count.
    pub observed: u64,
    /// Expected count.
    pub expected: Option<f64>,
    /// Threshold.
    pub threshold: Option<f64>,
    /// Score.
    pub score: Option<f64>,
    /// p-value.
    pub p_value: Option<f64>,
    /// Rank among the week's findings (1 = strongest; 0 for data quality).
    pub rank: u32,
}

impl AlertRow {
    /// The first revision of a new alert.
    pub fn open(
        kind: AlertKind,
        method: &str,
        force: &str,
        offence_group: &str,
        numbers: &AlertNumbers,
        now: DateTime<Utc>,
    ) -> Self {
        let alert_id = format!("{method}:{force}/{offence_group}:{}", numbers.week);
        let mut row = Self {
            alert_id,
            revision: 1,
            kind: match kind {
                AlertKind::Rise => 1,
                AlertKind::DataQuality => 2,
            },
            method: method.to_owned(),
            force: force.to_owned(),
            offence_group: offence_group.to_owned(),
            status: 1,
            opened_week: day_number(numbers.week),
            week: 0,
            observed: 0,
            expected: None,
            threshold: None,
            score: None,
            p_value: None,
            rank: 0,
            opened_at: seconds(now),
            updated_at: seconds(now),
        };
        row.set_numbers(numbers);
        row
    }

    fn set_numbers(&mut self, numbers: &AlertNumbers) {
        self.week = day_number(numbers.week);
        self.observed = numbers.observed;
        self.expected = numbers.expected.filter(|v| v.is_finite());
        self.threshold = numbers.threshold.filter(|v| v.is_finite());
        self.score = numbers.score.filter(|v| v.is_finite());
        self.p_value = numbers.p_value.filter(|v| v.is_finite());
        self.rank = numbers.rank;
    }

    /// The next revision, still firing, with a later week's numbers.
    pub fn updated(&self, numbers: &AlertNumbers, now: DateTime<Utc>) -> Self {
        let mut row = self.clone();
        row.revision += 1;
        row.set_numbers(numbers);
        row.updated_at = seconds(now);
        row
    }

    /// The next revision, resolved, keeping the last numbers.
    pub fn resolved(&self, now: DateTime<Utc>) -> Self {
        let mut row = self.clone();
        row.revision += 1;
        row.status = 2;
        row.updated_at = seconds(now);
        row
    }

    /// Stable identity: `method:force/offence_group:opened-week`.
    pub fn alert_id(&self) -> &str {
        &self.alert_id
    }
    /// Revision, from 1.
    pub fn revision(&self) -> u32 {
        self.revision
    }
    /// Rise or data quality.
    pub fn kind(&self) -> AlertKind {
        if self.kind == 2 {
            AlertKind::DataQuality
        } else {
            AlertKind::Rise
        }
    }
    /// Detector or data-quality check.
    pub fn method(&self) -> &str {
        &self.method
    }
    /// Force id or `national`.
    pub fn force(&self) -> &str {
        &self.force
    }
    /// Offence group, `all`, or empty for data quality.
    pub fn offence_group(&self) -> &str {
        &self.offence_group
    }
    /// Firing or resolved.
    pub fn status(&self) -> AlertStatus {
        if self.status == 2 {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        }
    }
    /// Week it opened.
    pub fn opened_week(&self) -> NaiveDate {
        from_day_number(self.opened_week)
    }
    /// The numbers of this revision.
    pub fn numbers(&self) -> AlertNumbers {
        AlertNumbers {
            week: from_day_number(self.week),
            observed: self.observed,
            expected: self.expected,
            threshold: self.threshold,
            score: self.score,
            p_value: self.p_value,
            rank: self.rank,
        }
    }
    /// When it opened.
    pub fn opened_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(i64::from(self.opened_at), 0).unwrap_or_default()
    }
    /// When this revision was written.
    pub fn updated_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(i64::from(self.updated_at), 0).unwrap_or_default()
    }
}

/// A receiver accepted a revision (a row of `alert_deliveries`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clickhouse::Row)]
pub struct DeliveryRow {
    /// Receiver name (its URL without credentials).
    pub receiver: String,
    /// Alert.
    pub alert_id: String,
    /// Revision delivered.
    pub revision: u32,
    /// When (seconds since the epoch).
    pub delivered_at: u32,
}

impl DeliveryRow {
    /// A delivery of `alert` to `receiver` now.
    pub fn new(receiver: &str, alert: &AlertRow, now: DateTime<Utc>) -> Self {
        Self {
            receiver: receiver.to_owned(),
            alert_id: alert.alert_id.clone(),
            revision: alert.revision,
            delivered_at: seconds(now),
        }
    }
}

/// One evaluated week (a row of `alert_runs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct AlertRunRow {
    week: u16,
    finished_at: u32,
    /// Series scanned.
    pub series: u32,
    /// Tests in the false-discovery family.
    pub tests: u32,
    /// Series too short to judge.
    pub skipped: u32,
    /// Findings (rises and data quality).
    pub findings: u32,
    /// Alerts opened.
    pub opened: u32,
    /// Alerts updated.
    pub updated: u32,
    /// Alerts resolved.
    pub resolved: u32,
    /// Benjamini–Hochberg cut-off.
    pub p_cutoff: f64,
}

impl AlertRunRow {
    /// A run of `week` finished now; fill in the counts.
    pub fn new(week: NaiveDate, now: DateTime<Utc>) -> Self {
        Self {
            week: day_number(week),
            finished_at: seconds(now),
            series: 0,
            tests: 0,
            skipped: 0,
            findings: 0,
            opened: 0,
            updated: 0,
            resolved: 0,
            p_cutoff: 0.0,
        }
    }
}

/// The latest revision of every alert, in `alerts` column order.
pub(crate) const LATEST: &str = "SELECT alert_id, max(revision) AS rev, argMax(kind, revision), \
     argMax(method, revision), argMax(force, revision), argMax(offence_group, revision), \
     argMax(status, revision) AS current_status, argMax(opened_week, revision), \
     argMax(week, revision), argMax(observed, revision), argMax(expected, revision), \
     argMax(threshold, revision), argMax(score, revision), argMax(p_value, revision), \
     argMax(rank, revision), argMax(opened_at, revision), \
     argMax(updated_at, revision) AS last_update FROM alerts GROUP BY alert_id";

impl Warehouse {
    /// Stores alert revisions in one INSERT.
    pub async fn insert_alerts(&self, rows: &[AlertRow]) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = self.insert::<AlertRow>("alerts").await?;
        for row in rows {
            insert.write(row).await?;
        }
        insert.end().await?;
        Ok(())
    }

    /// The latest revision of every open alert.
    pub async fn open_alerts(&self) -> Result<Vec<AlertRow>, Error> {
        let sql = format!("{LATEST} HAVING current_status = 'firing' ORDER BY alert_id");
        Ok(self.client.query(&sql).fetch_all::<AlertRow>().await?)
    }

    /// The latest revision of every alert that is open or changed on or after `since`, newest
    /// first.
    pub async fn recent_alerts(&self, since: DateTime<Utc>) -> Result<Vec<AlertRow>, Error> {
        let sql = format!(
            "{LATEST} HAVING current_status = 'firing' OR last_update >= toDateTime(?) \
             ORDER BY last_update DESC, alert_id"
        );
        Ok(self
            .client
            .query(&sql)
            .bind(since.timestamp())
            .fetch_all::<AlertRow>()
            .await?)
    }

    /// Which of `ids` are stored alerts (open or resolved).
    pub async fn existing_alert_ids(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashSet<String>, Error> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let text = self
            .fetch_tsv(
                "SELECT DISTINCT alert_id FROM alerts WHERE has(?, alert_id)",
                vec![Bound::List(ids.to_vec())],
            )
            .await?;
        Ok(text.lines().map(unescape_tsv).collect())
    }

    /// Every revision of every alert (for audits and tests), by alert then revision.
    pub async fn alert_history(&self) -> Result<Vec<AlertRow>, Error> {
        let columns = ALERT_COLUMNS.join(", ");
        let sql = format!("SELECT {columns} FROM alerts FINAL ORDER BY alert_id, revision");
        Ok(self.client.query(&sql).fetch_all::<AlertRow>().await?)
    }

    /// The last revision `receiver` accepted, per alert.
    pub async fn delivered_revisions(&self, receiver: &str) -> Result<HashMap<String, u32>, Error> {
        let text = self
            .fetch_tsv(
                "SELECT alert_id, max(revision) FROM alert_deliveries WHERE receiver = ? \
                 GROUP BY alert_id",
                vec![Bound::Text(receiver.to_owned())],
            )
            .await?;
        Ok(text
            .lines()
            .filter_map(|line| {
                let (id, revision) = line.split_once('\t')?;
                Some((unescape_tsv(id), revision.parse().ok()?))
            })
            .collect())
    }

    /// Records accepted deliveries.
    pub async fn insert_deliveries(&self, rows: &[DeliveryRow]) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = self.insert::<DeliveryRow>("alert_deliveries").await?;
        for row in rows {
            insert.write(row).await?;
        }
        insert.end().await?;
        Ok(())
    }

    /// Records an evaluated week.
    pub async fn insert_alert_run(&self, row: &AlertRunRow) -> Result<(), Error> {
        let mut insert = self.insert::<AlertRunRow>("alert_runs").await?;
        insert.write(row).await?;
        insert.end().await?;
        Ok(())
    }

    /// The latest week evaluated, if any.
    pub async fn last_evaluated_week(&self) -> Result<Option<NaiveDate>, Error> {
        let text = self
            .fetch_tsv(
                "SELECT toString(max(week)), count() FROM alert_runs",
                Vec::new(),
            )
            .await?;
        let mut cells = text.trim().split('\t');
        let week = cells.next().and_then(|w| w.parse().ok());
        let runs: u64 = cells.next().and_then(|c| c.parse().ok()).unwrap_or(0);
        Ok(week.filter(|_| runs > 0))
    }

    /// The day of the last record each force sent (by arrival, not by recorded date).
    pub async fn last_received_by_force(&self) -> Result<Vec<(String, NaiveDate)>, Error> {
        let text = self
            .fetch_tsv(
                "SELECT force, toString(toDate(max(received_at))) FROM crime_versions \
                 GROUP BY force ORDER BY force",
                Vec::new(),
            )
            .await?;
        Ok(text
            .lines()
            .filter_map(|line| {
                let (force, day) = line.split_once('\t')?;
                Some((unescape_tsv(force), day.parse().ok()?))
            })
            .collect())
    }

    /// Current recorded crimes and, of them, cyber-flagged ones, per force and week,
    /// `from..=to` by recorded date.
    pub async fn weekly_flag_shares(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, NaiveDate, u64, u64)>, Error> {
        let query = crate::StatsQuery {
            by: vec![Dimension::Force, Dimension::Week, Dimension::Cyber],
            from: Some(from),
            to: Some(to),
            ..crate::StatsQuery::default()
        };
        let mut weeks: std::collections::BTreeMap<(String, NaiveDate), (u64, u64)> =
            std::collections::BTreeMap::new();
        for row in self.stats(&query).await? {
            let Ok([force, week, cyber]) = <[String; 3]>::try_from(row.values) else {
                continue;
            };
            let Ok(week) = week.parse() else { continue };
            let entry = weeks.entry((force, week)).or_default();
            entry.0 += row.count;
            if cyber == "true" {
                entry.1 += row.count;
            }
        }
        Ok(weeks
            .into_iter()
            .map(|((force, week), (crimes, flagged))| (force, week, crimes, flagged))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_keep_identity_and_move_status() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let week = NaiveDate::from_ymd_opt(2019, 6, 24).unwrap();
        let numbers = AlertNumbers {
            week,
            observed: 40,
            expected: Some(20.5),
            threshold: Some(5.0),
            score: Some(7.2),
            p_value: Some(7e-4),
            rank: 1,
        };
        let opened = AlertRow::open(
            AlertKind::Rise,
            "nb-cusum",
            "west-mercia",
            "all",
            &numbers,
            now,
        );
        assert_eq!(opened.alert_id(), "nb-cusum:west-mercia/all:2019-06-24");
        assert_eq!(opened.numbers(), numbers);
        assert_eq!(opened.opened_week(), week);
        let later = AlertNumbers {
            week: week + chrono::Days::new(7),
            observed: 45,
            ..numbers.clone()
        };
        let updated = opened.updated(&later, now);
        assert_eq!(
            (updated.revision(), updated.alert_id()),
            (2, opened.alert_id())
        );
        assert_eq!(updated.numbers().week, later.week);
        assert_eq!(updated.opened_week(), week);
        let resolved = updated.resolved(now);
        assert_eq!(resolved.revision(), 3);
        assert_eq!(resolved.status(), AlertStatus::Resolved);
        assert_eq!(resolved.numbers(), updated.numbers());
    }
}
