//! Counts of current crimes, grouped by any set of dimensions.
//!
//! Every count is computed from the **current version of each crime**: the inner query takes,
//! per (force, crime_ref), the values of its highest version (`argMax(…, version)`), so a
//! version stored twice, a re-sent file or a replayed batch never adds a count, a reclassified
//! crime counts under its latest classification, and a cancelled or transferred-away crime
//! does not count at all. Only crimes whose current status is `recorded` are counted.
//!
//! SQL is assembled from a fixed table of dimension expressions; values (dates, force ids,
//! groups) are bound with the client's escaping, never spliced in as text.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use model::{ForceId, OffenceGroup};

use crate::{Error, Layout, Warehouse};

/// A grouping dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// Recording force (police.uk id).
    Force,
    /// ONS region of the force.
    Region,
    /// Recorded day (`YYYY-MM-DD`; month-precision records fall on the 1st).
    Day,
    /// Monday of the recorded ISO week.
    Week,
    /// Recorded month (`YYYY-MM`).
    Month,
    /// Recorded calendar quarter (`YYYY-Qn`).
    Quarter,
    /// Financial year April–March (`2016/17`).
    FinancialYear,
    /// National offence group.
    OffenceGroup,
    /// Home Office offence code.
    OffenceCode,
    /// police.uk category.
    Category,
    /// Victim age band.
    AgeBand,
    /// Online crime flag.
    Cyber,
}

impl Dimension {
    /// Every dimension.
    pub const ALL: [Dimension; 12] = [
        Self::Force,
        Self::Region,
        Self::Day,
        Self::Week,
        Self::Month,
        Self::Quarter,
        Self::FinancialYear,
        Self::OffenceGroup,
        Self::OffenceCode,
        Self::Category,
        Self::AgeBand,
        Self::Cyber,
    ];

    /// The name used on the command line, in URLs and as the output column.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Force => "force",
            Self::Region => "region",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Quarter => "quarter",
            Self::FinancialYear => "financial_year",
            Self::OffenceGroup => "offence_group",
            Self::OffenceCode => "offence_code",
            Self::Category => "category",
            Self::AgeBand => "age_band",
            Self::Cyber => "cyber",
        }
    }

    fn expression(self) -> String {
        let d = "recorded_date";
        match self {
            Self::Force => "force".into(),
            Self::Region => {
                let (ids, regions): (Vec<String>, Vec<String>) = ForceId::all()
                    .map(|f| (quote(f.as_str()), quote(&f.info().region.to_string())))
                    .unzip();
                format!(
                    "transform(force, [{}], [{}], '')",
                    ids.join(", "),
                    regions.join(", ")
                )
            }
            Self::Day => format!("toString({d})"),
            Self::Week => format!("toString(toMonday({d}))"),
            Self::Month => format!("substring(toString(toStartOfMonth({d})), 1, 7)"),
            Self::Quarter => {
                format!("concat(toString(toYear({d})), '-Q', toString(toQuarter({d})))")
            }
            Self::FinancialYear => format!(
                "if(toMonth({d}) >= 4, \
                 concat(toString(toYear({d})), '/', substring(toString(toYear({d}) + 1), 3, 2)), \
                 concat(toString(toYear({d}) - 1), '/', substring(toString(toYear({d})), 3, 2)))"
            ),
            Self::OffenceGroup => "offence_group".into(),
            Self::OffenceCode => "offence_code".into(),
            Self::Category => "category".into(),
            Self::AgeBand => "age_band".into(),
            Self::Cyber => "if(cyber = 1, 'true', 'false')".into(),
        }
    }
}

/// Quotes a constant we own (force ids, region names) as a SQL string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dimension {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|d| d.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|d| d.name()).collect();
                format!(
                    "unknown dimension {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// A statistics question.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsQuery {
    /// Grouping dimensions, in output order (none: one national total).
    pub by: Vec<Dimension>,
    /// First recorded day included.
    pub from: Option<NaiveDate>,
    /// Last recorded day included.
    pub to: Option<NaiveDate>,
    /// Only these forces (empty: all).
    pub forces: Vec<ForceId>,
    /// Only these offence groups (empty: all).
    pub offence_groups: Vec<OffenceGroup>,
    /// Only flagged (`Some(true)`) or unflagged (`Some(false)`) crimes.
    pub cyber: Option<bool>,
    /// Answer with what was known at the end of this day (UTC): only versions received by then.
    pub as_at: Option<NaiveDate>,
}

/// The end of `day` (UTC) as seconds since the epoch: versions received up to then are known.
pub fn end_of_day(day: NaiveDate) -> i64 {
    day.and_hms_opt(23, 59, 59)
        .map_or(0, |t| t.and_utc().timestamp())
}

/// One output row: the grouping values in `by` order, and the count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatsRow {
    /// Values of the grouping dimensions.
    pub values: Vec<String>,
    /// Current crimes in the group.
    pub count: u64,
}

/// The current state of each crime (highest version wins).
pub(crate) const CURRENT: &str = "SELECT force, crime_ref, \
     argMax(status, version) AS status, \
     argMax(offence_code, version) AS offence_code, \
     argMax(offence_group, version) AS offence_group, \
     argMax(category, version) AS category, \
     argMax(cyber, version) AS cyber, \
     argMax(recorded_date, version) AS recorded_date, \
     argMax(age_band, version) AS age_band \
     FROM crime_versions GROUP BY force, crime_ref";

/// [`CURRENT`] restricted to the versions matching every condition in `conditions`.
fn current(conditions: &[String]) -> String {
    if conditions.is_empty() {
        return CURRENT.to_owned();
    }
    CURRENT.replace(
        " FROM crime_versions GROUP BY",
        &format!(
            " FROM crime_versions WHERE {} GROUP BY",
            conditions.join(" AND ")
        ),
    )
}

impl StatsQuery {
    /// The SQL and the values to bind, in order, reading every version on one server.
    pub fn sql(&self) -> (String, Vec<Bound>) {
        self.sql_with(None, &Layout::Single)
    }

    /// Conditions on a crime's current state (or a snapshot's group) other than its status.
    fn filters(&self) -> (Vec<String>, Vec<Bound>) {
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        if let Some(from) = self.from {
            conditions.push("recorded_date >= toDate(?)".to_owned());
            binds.push(Bound::Text(from.to_string()));
        }
        if let Some(to) = self.to {
            conditions.push("recorded_date <= toDate(?)".to_owned());
            binds.push(Bound::Text(to.to_string()));
        }
        if !self.forces.is_empty() {
            conditions.push("has(?, force)".to_owned());
            binds.push(self.force_list());
        }
        if !self.offence_groups.is_empty() {
            conditions.push("has(?, offence_group)".to_owned());
            binds.push(Bound::List(
                self.offence_groups
                    .iter()
                    .map(|g| g.as_str().to_owned())
                    .collect(),
            ));
        }
        if let Some(cyber) = self.cyber {
            conditions.push(format!("cyber = {}", u8::from(cyber)));
        }
        (conditions, binds)
    }

    fn force_list(&self) -> Bound {
        Bound::List(self.forces.iter().map(|f| f.as_str().to_owned()).collect())
    }

    /// The SQL, reading a count snapshot and the changes after it when one is given (and the
    /// question is about now, not `as_at`), otherwise every version; laid out for one server
    /// or a cluster (see [`Layout`]: on a cluster the changed crimes are found on each shard).
    pub fn sql_with(&self, snapshot: Option<Snapshot>, layout: &Layout) -> (String, Vec<Bound>) {
        // Output aliases carry a prefix: ClickHouse aliases are visible in WHERE, and
        // `cyber AS cyber` would turn the `cyber = 1` filter into a string comparison.
        let columns: Vec<String> = self
            .by
            .iter()
            .map(|d| format!("{} AS g_{}", d.expression(), d.name()))
            .collect();
        let names: Vec<String> = self.by.iter().map(|d| format!("g_{}", d.name())).collect();
        let dims = |value: &str| {
            if columns.is_empty() {
                value.to_owned()
            } else {
                format!("{}, {value}", columns.join(", "))
            }
        };
        let (filters, filter_binds) = self.filters();
        let mut binds = Vec::new();
        let snapshot = snapshot.filter(|_| self.as_at.is_none());
        let mut sql = match snapshot {
            None => {
                // The current state of each crime, as known at `as_at`; a crime's force never
                // changes, so the force filter also narrows the inner scan (force leads the
                // sorting key).
                let mut inner = Vec::new();
                if let Some(day) = self.as_at {
                    inner.push("received_at <= toDateTime(toUInt32(?))".to_owned());
                    binds.push(Bound::Text(end_of_day(day).to_string()));
                }
                if !self.forces.is_empty() {
                    inner.push("has(?, force)".to_owned());
                    binds.push(self.force_list());
                }
                let mut conditions = vec!["status = 'recorded'".to_owned()];
                conditions.extend(filters);
                binds.extend(filter_binds);
                format!(
                    "SELECT {} FROM ({}) WHERE {}",
                    dims("count() AS count"),
                    current(&inner),
                    conditions.join(" AND ")
                )
            }
            Some(snapshot) => {
                let cutoff = snapshot.cutoff;
                let mut counted = vec![format!("snapshot = {}", snapshot.id)];
                counted.extend(filters.iter().cloned());
                binds.extend(filter_binds.iter().cloned());
                // Crimes changed after the cut-off, found by crime_changes' sorting key (on a
                // cluster, each shard's own changes: a crime's versions and changes share it).
                let changes = layout.local("crime_changes");
                let changed = format!(
                    "force IN (SELECT force FROM {changes} WHERE stored_at > toDateTime({cutoff})) \
                     AND crime_ref IN (SELECT crime_ref FROM {changes} \
                     WHERE stored_at > toDateTime({cutoff}))"
                );
                let mut recorded = vec!["status = 'recorded'".to_owned()];
                recorded.extend(filters);
                let now_state = current(std::slice::from_ref(&changed));
                binds.extend(filter_binds.iter().cloned());
                // Their state at the cut-off: the versions first stored by then. Not
                // `stored_at <= cutoff` on crime_versions: merges keep a version's last copy,
                // so one stored again after the cut-off would look new (crime_arrivals keeps
                // the first copy; migration 0004).
                let then_state = current(&[changed.clone(), known_at(cutoff, &changed, layout)]);
                binds.extend(filter_binds);
                format!(
                    "SELECT {} FROM (\
                     SELECT {} FROM crime_counts WHERE {} \
                     UNION ALL SELECT {} FROM ({now_state}) WHERE {} \
                     UNION ALL SELECT {} FROM ({then_state}) WHERE {})",
                    if names.is_empty() {
                        "sum(c) AS count".to_owned()
                    } else {
                        format!("{}, sum(c) AS count", names.join(", "))
                    },
                    dims("toInt64(crimes) AS c"),
                    counted.join(" AND "),
                    dims("toInt64(1) AS c"),
                    recorded.join(" AND "),
                    dims("toInt64(-1) AS c"),
                    recorded.join(" AND "),
                )
            }
        };
        if !names.is_empty() {
            sql.push_str(&format!(
                " GROUP BY {} ORDER BY {}",
                names.join(", "),
                names.join(", ")
            ));
        }
        (sql, binds)
    }
}

/// The condition "this version was stored at or before `cutoff`" on `crime_versions` rows of
/// the crimes matching `crimes`, from `crime_arrivals`, which keeps each version's first copy
/// however often it was stored again.
pub(crate) fn known_at(cutoff: u32, crimes: &str, layout: &Layout) -> String {
    format!(
        "(force, crime_ref, version) IN (SELECT force, crime_ref, version FROM {} \
         WHERE stored_at <= toDateTime({cutoff}) AND {crimes})",
        layout.local("crime_arrivals")
    )
}

/// A complete count snapshot: its id and the stored time it was cut at (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Partition id in `crime_counts`.
    pub id: u32,
    /// Versions stored at or before this time are in it.
    pub cutoff: u32,
}

/// A value bound into the statistics SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// A string.
    Text(String),
    /// A list of strings (for `IN`).
    List(Vec<String>),
}

impl Warehouse {
    /// Answers a statistics question; groups with a zero count are absent.
    pub async fn stats(&self, query: &StatsQuery) -> Result<Vec<StatsRow>, Error> {
        let snapshot = if query.as_at.is_none() {
            self.latest_snapshot().await?
        } else {
            None
        };
        let (sql, binds) = query.sql_with(snapshot, &self.layout());
        let text = self.fetch_tsv(&sql, binds).await?;
        let mut rows = Vec::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let mut fields: Vec<String> = line.split('\t').map(unescape_tsv).collect();
            let count = fields.pop().and_then(|c| c.parse().ok()).unwrap_or(0);
            if count > 0 {
                rows.push(StatsRow {
                    values: fields,
                    count,
                });
            }
        }
        Ok(rows)
    }
}

impl Warehouse {
    /// Runs `sql` with `binds` (client-side escaping) and returns the `TabSeparated` body.
    pub(crate) async fn fetch_tsv(&self, sql: &str, binds: Vec<Bound>) -> Result<String, Error> {
        let mut statement = self.client.query(sql);
        for bound in binds {
            statement = match bound {
                Bound::Text(text) => statement.bind(text),
                Bound::List(list) => statement.bind(list),
            };
        }
        let bytes = statement.fetch_bytes("TabSeparated")?.collect().await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

pub(crate) fn unescape_tsv(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_owned();
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_parse_by_name() {
        for dimension in Dimension::ALL {
            assert_eq!(dimension.name().parse::<Dimension>().unwrap(), dimension);
        }
        assert_eq!(
            "offence-group".parse::<Dimension>().unwrap(),
            Dimension::OffenceGroup
        );
        assert!(
            "colour"
                .parse::<Dimension>()
                .unwrap_err()
                .contains("financial_year")
        );
    }

    #[test]
    fn user_values_are_bound_not_spliced() {
        let query = StatsQuery {
            by: vec![Dimension::Force, Dimension::Month],
            from: NaiveDate::from_ymd_opt(2019, 1, 1),
            to: NaiveDate::from_ymd_opt(2019, 12, 31),
            forces: vec![ForceId::from_id("west-mercia").unwrap()],
            offence_groups: vec![],
            cyber: Some(true),
            as_at: NaiveDate::from_ymd_opt(2020, 1, 1),
        };
        let (sql, binds) = query.sql();
        assert!(
            !sql.contains("2019-01-01") && !sql.contains("west-mercia', 'W"),
            "{sql}"
        );
        // as_at and the force narrow the inner scan; from, to and the force filter the state.
        assert_eq!(binds.len(), 5);
        assert_eq!(sql.matches('?').count(), binds.len());
        assert!(
            sql.contains("received_at <= toDateTime(toUInt32(?))"),
            "{sql}"
        );
        assert!(sql.contains("GROUP BY g_force, g_month ORDER BY g_force, g_month"));
        assert!(sql.contains("argMax(status, version)"));

        // A snapshot is never used for an as-at question...
        let snapshot = Snapshot {
            id: 7,
            cutoff: 1_700_000_000,
        };
        assert_eq!(query.sql_with(Some(snapshot), &Layout::Single), query.sql());
        // ...and about now it is read with the changes after its cut-off, each part filtered
        // alike.
        let now = StatsQuery {
            as_at: None,
            ..query
        };
        let (sql, binds) = now.sql_with(Some(snapshot), &Layout::Single);
        assert_eq!(binds.len(), 9, "from, to and force, three times");
        assert_eq!(sql.matches('?').count(), binds.len());
        assert!(
            sql.contains("FROM crime_counts WHERE snapshot = 7"),
            "{sql}"
        );
        assert!(sql.contains("stored_at > toDateTime(1700000000)"), "{sql}");
        assert!(
            sql.contains(
                "(force, crime_ref, version) IN (SELECT force, crime_ref, version \
                 FROM crime_arrivals WHERE stored_at <= toDateTime(1700000000)"
            ),
            "{sql}"
        );
        assert_eq!(sql.matches("UNION ALL").count(), 2);
    }

    #[test]
    fn tsv_fields_are_unescaped() {
        assert_eq!(unescape_tsv("a\\tb\\\\c"), "a\tb\\c");
    }
}

/// Weekly counts for alerting: per (force, offence group, ISO week) of current recorded crimes
/// with the online flag, by recorded date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyCount {
    /// Force id.
    pub force: String,
    /// Offence group id (empty for crimes without an offence code).
    pub offence_group: String,
    /// Monday of the week.
    pub week: NaiveDate,
    /// Crimes.
    pub count: u64,
}

/// The weeks (by recorded date, `from` and `to` bound) in which each force sent any version.
pub(crate) const ACTIVE_WEEKS: &str = "SELECT force, toString(toMonday(recorded_date)) AS week \
     FROM crime_versions WHERE recorded_date >= toDate(?) AND recorded_date <= toDate(?) \
     GROUP BY force, week ORDER BY force, week";

impl Warehouse {
    /// Online-flagged current crimes per force, offence group and week, `from..=to`.
    pub async fn weekly_cyber_counts(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<WeeklyCount>, Error> {
        // The statistics query itself, so alerting reads the count snapshot like everyone else.
        let query = StatsQuery {
            by: vec![Dimension::Force, Dimension::OffenceGroup, Dimension::Week],
            from: Some(from),
            to: Some(to),
            cyber: Some(true),
            ..StatsQuery::default()
        };
        Ok(self
            .stats(&query)
            .await?
            .into_iter()
            .filter_map(|row| {
                let [force, offence_group, week] = <[String; 3]>::try_from(row.values).ok()?;
                Some(WeeklyCount {
                    force,
                    offence_group,
                    week: week.parse().ok()?,
                    count: row.count,
                })
            })
            .collect())
    }

    /// The weeks in which each force sent any record version at all (by recorded date), so
    /// a week without data is told apart from a week with zero crimes.
    pub async fn active_weeks(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, NaiveDate)>, Error> {
        let text = self
            .fetch_tsv(
                ACTIVE_WEEKS,
                vec![Bound::Text(from.to_string()), Bound::Text(to.to_string())],
            )
            .await?;
        Ok(text
            .lines()
            .filter_map(|line| {
                let (force, week) = line.split_once('\t')?;
                Some((unescape_tsv(force), week.parse().ok()?))
            })
            .collect())
    }
}

impl StatsQuery {
    /// The SQL (and values to bind) reading every version of every crime that matched this
    /// question's filters (ignoring status) in any version: the material of the revisions view.
    pub fn versions_sql(&self, layout: &Layout, limit: usize) -> (String, Vec<Bound>) {
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        if let Some(from) = self.from {
            conditions.push("recorded_date >= toDate(?)".to_owned());
            binds.push(Bound::Text(from.to_string()));
        }
        if let Some(to) = self.to {
            conditions.push("recorded_date <= toDate(?)".to_owned());
            binds.push(Bound::Text(to.to_string()));
        }
        if !self.forces.is_empty() {
            conditions.push("has(?, force)".to_owned());
            binds.push(Bound::List(
                self.forces.iter().map(|f| f.as_str().to_owned()).collect(),
            ));
        }
        if !self.offence_groups.is_empty() {
            conditions.push("has(?, offence_group)".to_owned());
            binds.push(Bound::List(
                self.offence_groups
                    .iter()
                    .map(|g| g.as_str().to_owned())
                    .collect(),
            ));
        }
        if let Some(cyber) = self.cyber {
            conditions.push(format!("cyber = {}", u8::from(cyber)));
        }
        if let Some(day) = self.as_at {
            conditions.push("received_at <= toDateTime(toUInt32(?))".to_owned());
            binds.push(Bound::Text(end_of_day(day).to_string()));
        }
        let matching = if conditions.is_empty() {
            "1".to_owned()
        } else {
            conditions.join(" AND ")
        };
        // On a cluster each shard finds its own matching crimes: every version of a crime is
        // stored on one shard.
        let mut outer = format!(
            "(force, crime_ref) IN (SELECT force, crime_ref FROM {} \
             WHERE {matching} GROUP BY force, crime_ref)",
            layout.local("crime_versions")
        );
        let mut all_binds = binds.clone();
        if let Some(day) = self.as_at {
            outer.push_str(" AND received_at <= toDateTime(toUInt32(?))");
            all_binds.push(Bound::Text(end_of_day(day).to_string()));
        }
        let sql = format!(
            "SELECT force, crime_ref, version, toString(status), offence_group, cyber, \
             toString(recorded_date), toUInt32(received_at) FROM crime_versions WHERE {outer} \
             ORDER BY force, crime_ref, version LIMIT {}",
            limit.min(MAX_CELL_VERSIONS) + 1
        );
        (sql, all_binds)
    }
}

/// One stored version of a crime, as the revisions view needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionState {
    /// Force id.
    pub force: String,
    /// Pseudonymised reference.
    pub crime_ref: String,
    /// Version.
    pub version: u64,
    /// `recorded`, `cancelled` or `transferred`.
    pub status: String,
    /// Offence group (empty when none).
    pub offence_group: String,
    /// Online flag.
    pub cyber: bool,
    /// Recorded date.
    pub recorded_date: NaiveDate,
    /// When the version was received (seconds since the epoch).
    pub received_at: i64,
}

/// Most versions the revisions view reads for one cell.
pub const MAX_CELL_VERSIONS: usize = 2_000_000;

impl Warehouse {
    /// Every version of every crime that matched `query`'s filters (ignoring status) in any
    /// version: the material for explaining how the cell's count changed. At most `limit` + 1
    /// rows (more than `limit` means the cell is too large to explain; `limit` is capped at
    /// [`MAX_CELL_VERSIONS`]).
    pub async fn cell_versions(
        &self,
        query: &StatsQuery,
        limit: usize,
    ) -> Result<Vec<VersionState>, Error> {
        let (sql, all_binds) = query.versions_sql(&self.layout(), limit);
        let text = self.fetch_tsv(&sql, all_binds).await?;
        Ok(text
            .lines()
            .filter_map(|line| {
                let mut cells = line.split('\t');
                Some(VersionState {
                    force: unescape_tsv(cells.next()?),
                    crime_ref: unescape_tsv(cells.next()?),
                    version: cells.next()?.parse().ok()?,
                    status: cells.next()?.to_owned(),
                    offence_group: unescape_tsv(cells.next()?),
                    cyber: cells.next()? == "1",
                    recorded_date: cells.next()?.parse().ok()?,
                    received_at: cells.next()?.parse().ok()?,
                })
            })
            .collect())
    }
}
