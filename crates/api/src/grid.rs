//! Who sees what exactly, and the fixed grid every other figure is built from. Pure.
//!
//! A viewer sees a question **exactly** when its role is `national`, or `force:<id>` and the
//! question is filtered to that one force. Every other question is **controlled**: it must be
//! answerable from the grid — base cells force × recorded month × offence group × online
//! flag — so `from` is the first day of a month, `to` the last day of one, `as_at` a month's
//! last day, and `by` uses only dimensions that are functions of a base cell (force, region,
//! month, quarter, financial year, offence group, flag). Anything else is refused (403) naming
//! the rule [`GRID_RULE`]. A controlled answer reads the base cells, publishes each one with
//! [`Rule::perturb`] (the viewer's own force exactly) and sums them into the requested rows.

use chrono::{Datelike, NaiveDate};
use model::ForceId;
use warehouse::{Dimension, StatsQuery, StatsRow};

use crate::access::Role;
use crate::disclosure::{CellId, DisclosureKey, Figure, Rule};

/// The name of the rule every refusal of a controlled question cites.
pub const GRID_RULE: &str = "month-grid";

/// The grid's dimensions, in the order base-cell queries return them.
pub const GRID: [Dimension; 4] = [
    Dimension::Force,
    Dimension::Month,
    Dimension::OffenceGroup,
    Dimension::Cyber,
];

/// Dimensions a controlled question may group by: functions of a base cell.
pub const GRID_DIMENSIONS: [Dimension; 7] = [
    Dimension::Force,
    Dimension::Region,
    Dimension::Month,
    Dimension::Quarter,
    Dimension::FinancialYear,
    Dimension::OffenceGroup,
    Dimension::Cyber,
];

/// How a question is answered for a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Every figure exact.
    Exact,
    /// Figures from the grid, exact only for the cells of `own` force.
    Controlled {
        /// The viewer's own force, seen exactly.
        own: Option<ForceId>,
    },
}

/// How `role` sees `query`.
pub fn view(role: Role, query: &StatsQuery) -> View {
    match role {
        Role::National => View::Exact,
        Role::Force(own) if !query.forces.is_empty() && query.forces.iter().all(|f| *f == own) => {
            View::Exact
        }
        Role::Force(own) => View::Controlled { own: Some(own) },
        Role::Public => View::Controlled { own: None },
    }
}

/// A controlled question the grid cannot answer: the rule and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("disclosure rule {rule}: {message}")]
pub struct Refusal {
    /// The rule's name ([`GRID_RULE`]).
    pub rule: &'static str,
    /// What is refused and why.
    pub message: String,
}

fn refuse(message: String) -> Refusal {
    Refusal {
        rule: GRID_RULE,
        message: format!(
            "{message}; figures outside your exact scope come from a fixed grid of whole months \
             (force × month × offence group × online flag)"
        ),
    }
}

/// The last day of `day`'s month.
pub fn month_end(day: NaiveDate) -> NaiveDate {
    let (year, month) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.pred_opt())
        .unwrap_or(day)
}

/// Checks that a controlled question is a question about whole grid cells.
pub fn check(query: &StatsQuery) -> Result<(), Refusal> {
    if let Some(d) = query.by.iter().find(|d| !GRID_DIMENSIONS.contains(d)) {
        return Err(refuse(format!(
            "by={d} is finer than the grid; group by force, region, month, quarter, \
             financial_year, offence_group or cyber"
        )));
    }
    if let Some(from) = query.from
        && from.day() != 1
    {
        return Err(refuse(format!(
            "from={from} is not the first day of a month"
        )));
    }
    if let Some(to) = query.to
        && to != month_end(to)
    {
        return Err(refuse(format!("to={to} is not the last day of a month")));
    }
    if let Some(as_at) = query.as_at
        && as_at != month_end(as_at)
    {
        return Err(refuse(format!(
            "as_at={as_at} is not the last day of a month (controlled figures are published \
             as at month ends)"
        )));
    }
    Ok(())
}

/// The base-cell question behind a controlled question: the same filters, window and `as_at`,
/// grouped by the grid.
pub fn base_query(query: &StatsQuery) -> StatsQuery {
    StatsQuery {
        by: GRID.to_vec(),
        ..query.clone()
    }
}

/// A base cell as the store returns it for [`base_query`], with its true count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseCell {
    /// Force id.
    pub force: String,
    /// Recorded month `YYYY-MM`.
    pub month: String,
    /// Offence group (empty: none).
    pub offence_group: String,
    /// Online flag.
    pub cyber: bool,
    /// True count.
    pub count: u64,
}

impl BaseCell {
    /// Reads a row of [`base_query`]'s answer.
    pub fn from_row(row: &StatsRow) -> Option<BaseCell> {
        match row.values.as_slice() {
            [force, month, group, cyber] => Some(BaseCell {
                force: force.clone(),
                month: month.clone(),
                offence_group: group.clone(),
                cyber: cyber == "true",
                count: row.count,
            }),
            _ => None,
        }
    }

    fn id(&self) -> CellId<'_> {
        CellId {
            force: &self.force,
            month: &self.month,
            offence_group: &self.offence_group,
            cyber: self.cyber,
        }
    }

    /// The value of dimension `d` for this cell, spelt as the statistics SQL spells it.
    pub fn value(&self, d: Dimension) -> String {
        let (year, month) = self
            .month
            .split_once('-')
            .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<u32>().ok()?)))
            .unwrap_or((0, 0));
        match d {
            Dimension::Force => self.force.clone(),
            Dimension::Region => ForceId::from_id(&self.force)
                .map(|f| f.info().region.to_string())
                .unwrap_or_default(),
            Dimension::Month => self.month.clone(),
            Dimension::Quarter => format!("{year}-Q{}", month.div_ceil(3)),
            Dimension::FinancialYear => {
                let start = if month >= 4 { year } else { year - 1 };
                format!("{start}/{:02}", (start + 1).rem_euclid(100))
            }
            Dimension::OffenceGroup => self.offence_group.clone(),
            Dimension::Cyber => self.cyber.to_string(),
            // Not grid dimensions: `check` refuses them before any cell is read.
            Dimension::Day
            | Dimension::Week
            | Dimension::OffenceCode
            | Dimension::Category
            | Dimension::AgeBand => String::new(),
        }
    }
}

/// A controlled answer: rows in `by` order (sorted as the SQL sorts them) and the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Grouping values and the figure of each row.
    pub rows: Vec<(Vec<String>, Figure)>,
    /// The sum of every row.
    pub total: Figure,
}

/// Publishes `cells` for a viewer whose own force is `own`, grouped by `by`.
pub fn tabulate(
    rule: &Rule,
    key: &DisclosureKey,
    own: Option<ForceId>,
    by: &[Dimension],
    cells: &[BaseCell],
) -> Table {
    let mut rows: std::collections::BTreeMap<Vec<String>, Figure> = Default::default();
    for cell in cells.iter().filter(|c| c.count > 0) {
        let row = rows
            .entry(by.iter().map(|d| cell.value(*d)).collect())
            .or_default();
        if own.is_some_and(|f| f.as_str() == cell.force) {
            row.add_exact(cell.count);
        } else {
            row.add_published(rule, rule.perturb(key, &cell.id(), cell.count));
        }
    }
    let mut total = Figure::default();
    for figure in rows.values() {
        total.add(figure);
    }
    Table {
        rows: rows.into_iter().collect(),
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn query(pairs: &[(&str, &str)]) -> StatsQuery {
        let params = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        crate::params::parse(&params, true).unwrap().query
    }

    #[test]
    fn who_sees_exactly() {
        let kent = ForceId::from_id("kent").unwrap();
        let essex = ForceId::from_id("essex").unwrap();
        let own = query(&[("force", "kent")]);
        let both = query(&[("force", "kent,essex")]);
        let all = query(&[("by", "force")]);
        assert_eq!(view(Role::National, &both), View::Exact);
        assert_eq!(view(Role::Force(kent), &own), View::Exact);
        assert_eq!(
            view(Role::Force(kent), &both),
            View::Controlled { own: Some(kent) }
        );
        assert_eq!(
            view(Role::Force(kent), &all),
            View::Controlled { own: Some(kent) }
        );
        assert_eq!(
            view(Role::Force(essex), &own),
            View::Controlled { own: Some(essex) }
        );
        assert_eq!(view(Role::Public, &own), View::Controlled { own: None });
    }

    #[test]
    fn only_whole_grid_cells_are_answered() {
        let allowed: &[&[(&str, &str)]] = &[
            &[],
            &[("from", "2018-03-01"), ("to", "2018-03-31")],
            &[
                ("from", "2016-02-01"),
                ("to", "2016-02-29"),
                ("by", "force,month"),
            ],
            &[("by", "region,quarter,financial_year,offence_group,cyber")],
            &[("force", "kent"), ("as_at", "2018-12-31")],
        ];
        for pairs in allowed {
            assert_eq!(check(&query(pairs)), Ok(()), "{pairs:?}");
        }
        let refused: &[(&[(&str, &str)], &str)] = &[
            (
                &[
                    ("force", "kent"),
                    ("from", "2018-03-05"),
                    ("to", "2018-03-05"),
                ],
                "from=2018-03-05",
            ),
            (
                &[
                    ("by", "force"),
                    ("from", "2018-03-01"),
                    ("to", "2018-03-01"),
                ],
                "to=2018-03-01",
            ),
            (&[("by", "day")], "by=day"),
            (&[("by", "force,week")], "by=week"),
            (&[("by", "offence_code")], "by=offence_code"),
            (&[("by", "age_band")], "by=age_band"),
            (&[("as_at", "2018-03-30")], "as_at=2018-03-30"),
            (&[("to", "2015-02-28"), ("from", "2015-02-27")], "from="),
        ];
        for (pairs, named) in refused {
            let refusal = check(&query(pairs)).unwrap_err();
            assert_eq!(refusal.rule, GRID_RULE);
            assert!(refusal.to_string().contains(named), "{refusal}");
            assert!(refusal.to_string().contains("month-grid"), "{refusal}");
        }
    }

    #[test]
    fn month_ends() {
        for (day, end) in [
            ("2018-03-05", "2018-03-31"),
            ("2016-02-01", "2016-02-29"),
            ("2017-02-28", "2017-02-28"),
            ("2018-12-31", "2018-12-31"),
        ] {
            assert_eq!(month_end(date(day)), date(end));
        }
    }

    fn cell(force: &str, month: &str, group: &str, cyber: bool, count: u64) -> BaseCell {
        BaseCell {
            force: force.into(),
            month: month.into(),
            offence_group: group.into(),
            cyber,
            count,
        }
    }

    #[test]
    fn derived_dimensions_are_spelt_as_the_sql_spells_them() {
        let c = cell("west-mercia", "2016-03", "sexual-grooming", true, 3);
        assert_eq!(c.value(Dimension::Quarter), "2016-Q1");
        assert_eq!(c.value(Dimension::FinancialYear), "2015/16");
        assert_eq!(c.value(Dimension::Region), "West Midlands");
        let d = cell("kent", "1999-12", "", false, 3);
        assert_eq!(d.value(Dimension::Quarter), "1999-Q4");
        assert_eq!(d.value(Dimension::FinancialYear), "1999/00");
        assert_eq!(d.value(Dimension::Cyber), "false");
    }

    #[test]
    fn rows_are_sums_of_published_cells_and_own_cells_stay_exact() {
        let rule = Rule::default();
        let key = DisclosureKey::from_hex(&"ab".repeat(32)).unwrap();
        let kent = ForceId::from_id("kent").unwrap();
        let cells = vec![
            cell("kent", "2018-01", "g", true, 4),
            cell("kent", "2018-02", "g", true, 9),
            cell("essex", "2018-01", "g", true, 6),
            cell("essex", "2018-02", "g", false, 30),
            cell("essex", "2018-02", "h", false, 0),
        ];
        let table = tabulate(&rule, &key, Some(kent), &[Dimension::Force], &cells);
        let rows: Vec<(&str, crate::disclosure::Published)> = table
            .rows
            .iter()
            .map(|(v, f)| (v[0].as_str(), f.publish(&rule)))
            .collect();
        assert_eq!(rows[0].0, "essex");
        assert_eq!(rows[1], ("kent", crate::disclosure::Published::exact(13)));
        let essex = rows[0].1;
        assert!(essex.perturbed && essex.low <= 36 && 36 <= essex.high);
        let total = table.total.publish(&rule);
        assert_eq!(total.count, Some(13 + essex.count.unwrap()));
        // By month, the mixed rows are perturbed; the total is the same.
        let by_month = tabulate(&rule, &key, Some(kent), &[Dimension::Month], &cells);
        assert_eq!(by_month.total.publish(&rule), total);
    }
}
