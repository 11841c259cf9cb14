//! How a cell's count changed over time, and why. Pure.
//!
//! Given every stored version of every crime that ever matched the cell, in any version, the
//! state of a crime at time *t* is its highest version received by *t*. Each arrival that
//! changes whether the crime counts in the cell is one step, with its reason:
//! - **new**: the crime's first version, counting;
//! - **reclassified in / out**: a later version moves it into or out of the cell (offence
//!   group, online flag, recorded date), or back from cancelled;
//! - **cancelled**: its status became cancelled;
//! - **transferred**: it moved to another force (it counts there, under the receiver's
//!   reference).
//!
//! Viewers without exact scope get [`month_end_cells`] instead: the cell's base cells (see
//! [`crate::grid`]) as at the end of each month in which versions arrived, which the server
//! publishes like any controlled figure (the same values `/v1/stats?as_at=<month end>` gives).
//! The reasons for each change are not shown to them: exact flows would tell how a protected
//! count moved between two dates.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate};
use model::{ForceId, OffenceGroup};
use serde::Serialize;
use warehouse::VersionState;

use crate::grid::{BaseCell, month_end};

/// Which crimes count in the cell (the filters of a stats query).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cell {
    /// Recorded on or after.
    pub from: Option<NaiveDate>,
    /// Recorded on or before.
    pub to: Option<NaiveDate>,
    /// Of these forces (empty: any).
    pub forces: Vec<ForceId>,
    /// In these offence groups (empty: any).
    pub offence_groups: Vec<OffenceGroup>,
    /// With or without the online flag.
    pub cyber: Option<bool>,
}

impl Cell {
    fn counts(&self, v: &VersionState) -> bool {
        v.status == "recorded"
            && self.from.is_none_or(|d| v.recorded_date >= d)
            && self.to.is_none_or(|d| v.recorded_date <= d)
            && (self.forces.is_empty() || self.forces.iter().any(|f| f.as_str() == v.force))
            && (self.offence_groups.is_empty()
                || self
                    .offence_groups
                    .iter()
                    .any(|g| g.as_str() == v.offence_group))
            && self.cyber.is_none_or(|c| c == v.cyber)
    }
}

/// The changes of one day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The day (UTC) the versions were received.
    pub date: String,
    /// The cell's count at the end of the day.
    pub count: u64,
    /// New crimes.
    pub new: u64,
    /// Crimes reclassified into the cell.
    pub reclassified_in: u64,
    /// Crimes reclassified out of it.
    pub reclassified_out: u64,
    /// Crimes cancelled.
    pub cancelled: u64,
    /// Crimes transferred to another force.
    pub transferred: u64,
}

/// The cell's history, one step per day on which its count changed or a crime moved.
pub fn history(versions: &[VersionState], cell: &Cell) -> Vec<Step> {
    let mut current: BTreeMap<(&str, &str), &VersionState> = BTreeMap::new();
    let mut days: BTreeMap<NaiveDate, Step> = BTreeMap::new();
    let mut count: u64 = 0;
    for version in arrivals(versions) {
        let key = (version.force.as_str(), version.crime_ref.as_str());
        let before = current.get(&key).copied();
        if before.is_some_and(|b| b.version >= version.version) {
            continue; // an older or repeated version changes nothing
        }
        current.insert(key, version);
        let was = before.is_some_and(|b| cell.counts(b));
        let is = cell.counts(version);
        let day = received_day(version);
        let step = days.entry(day).or_default();
        match (was, is) {
            (false, true) => {
                count += 1;
                if before.is_none() {
                    step.new += 1;
                } else {
                    step.reclassified_in += 1;
                }
            }
            (true, false) => {
                count = count.saturating_sub(1);
                match version.status.as_str() {
                    "cancelled" => step.cancelled += 1,
                    "transferred" => step.transferred += 1,
                    _ => step.reclassified_out += 1,
                }
            }
            _ => {}
        }
        step.count = count;
    }
    days.into_iter()
        .filter(|(_, s)| {
            s.new + s.reclassified_in + s.reclassified_out + s.cancelled + s.transferred > 0
        })
        .map(|(day, mut step)| {
            step.date = day.to_string();
            step
        })
        .collect()
}

/// Versions in arrival order; versions of one crime arriving together apply in version order.
fn arrivals(versions: &[VersionState]) -> Vec<&VersionState> {
    let mut arrivals: Vec<&VersionState> = versions.iter().collect();
    arrivals.sort_by(|a, b| {
        (a.received_at, &a.force, &a.crime_ref, a.version).cmp(&(
            b.received_at,
            &b.force,
            &b.crime_ref,
            b.version,
        ))
    });
    arrivals
}

fn received_day(version: &VersionState) -> NaiveDate {
    DateTime::from_timestamp(version.received_at, 0)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// The base cells (force × recorded month × offence group × flag) of the crimes counting in
/// `cell`, as at the end of each month (UTC) in which versions arrived, oldest first. The last
/// entry is the state now, dated by the end of the month of the latest arrival.
pub fn month_end_cells(versions: &[VersionState], cell: &Cell) -> Vec<(NaiveDate, Vec<BaseCell>)> {
    type Key = (String, String, String, bool);
    let grid_key = |v: &VersionState| -> Key {
        (
            v.force.clone(),
            format!(
                "{:04}-{:02}",
                v.recorded_date.year(),
                v.recorded_date.month()
            ),
            v.offence_group.clone(),
            v.cyber,
        )
    };
    let snapshot = |counts: &BTreeMap<Key, u64>| -> Vec<BaseCell> {
        counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|((force, month, group, cyber), n)| BaseCell {
                force: force.clone(),
                month: month.clone(),
                offence_group: group.clone(),
                cyber: *cyber,
                count: *n,
            })
            .collect()
    };
    let mut current: BTreeMap<(&str, &str), &VersionState> = BTreeMap::new();
    let mut counts: BTreeMap<Key, u64> = BTreeMap::new();
    let mut out = Vec::new();
    let mut month: Option<NaiveDate> = None;
    for version in arrivals(versions) {
        let end = month_end(received_day(version));
        if let Some(previous) = month
            && previous != end
        {
            out.push((previous, snapshot(&counts)));
        }
        month = Some(end);
        let key = (version.force.as_str(), version.crime_ref.as_str());
        let before = current.get(&key).copied();
        if before.is_some_and(|b| b.version >= version.version) {
            continue;
        }
        current.insert(key, version);
        if let Some(b) = before.filter(|b| cell.counts(b))
            && let Some(n) = counts.get_mut(&grid_key(b))
        {
            *n = n.saturating_sub(1);
        }
        if cell.counts(version) {
            *counts.entry(grid_key(version)).or_default() += 1;
        }
    }
    if let Some(end) = month {
        out.push((end, snapshot(&counts)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(crime: &str, version: u64, status: &str, group: &str, day: u32) -> VersionState {
        VersionState {
            force: "west-mercia".into(),
            crime_ref: crime.into(),
            version,
            status: status.into(),
            offence_group: group.into(),
            cyber: true,
            recorded_date: NaiveDate::from_ymd_opt(2015, 6, 1).unwrap(),
            received_at: NaiveDate::from_ymd_opt(2016, 1, day)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp(),
        }
    }

    #[test]
    fn each_change_is_explained() {
        let grooming: OffenceGroup = "sexual-grooming".parse().unwrap();
        let cell = Cell {
            offence_groups: vec![grooming],
            ..Cell::default()
        };
        let versions = vec![
            version("a", 1, "recorded", "sexual-grooming", 1),
            version("b", 1, "recorded", "sexual-grooming", 1),
            version("c", 1, "recorded", "other-child-sexual-offences", 1),
            // Day 2: a is cancelled, c reclassified into grooming, b re-sent (no change).
            version("a", 2, "cancelled", "sexual-grooming", 2),
            version("c", 2, "recorded", "sexual-grooming", 2),
            version("b", 1, "recorded", "sexual-grooming", 2),
            // Day 3: b reclassified out, c transferred away.
            version("b", 2, "recorded", "sexual-communication-with-a-child", 3),
            version("c", 3, "transferred", "sexual-grooming", 3),
        ];
        let steps = history(&versions, &cell);
        let summary: Vec<(String, u64, [u64; 5])> = steps
            .iter()
            .map(|s| {
                (
                    s.date.clone(),
                    s.count,
                    [
                        s.new,
                        s.reclassified_in,
                        s.reclassified_out,
                        s.cancelled,
                        s.transferred,
                    ],
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("2016-01-01".into(), 2, [2, 0, 0, 0, 0]),
                ("2016-01-02".into(), 2, [0, 1, 0, 1, 0]),
                ("2016-01-03".into(), 0, [0, 0, 1, 0, 1]),
            ]
        );
    }

    #[test]
    fn a_late_arriving_older_version_changes_nothing() {
        let cell = Cell::default();
        let versions = vec![
            version("a", 2, "cancelled", "sexual-grooming", 1),
            version("a", 1, "recorded", "sexual-grooming", 2),
        ];
        let steps = history(&versions, &cell);
        assert!(steps.is_empty(), "{steps:?}");
    }

    #[test]
    fn month_ends_hold_the_base_cells_of_the_cell() {
        let grooming: OffenceGroup = "sexual-grooming".parse().unwrap();
        let cell = Cell {
            offence_groups: vec![grooming],
            ..Cell::default()
        };
        let mut late = version("b", 2, "recorded", "sexual-grooming", 3);
        late.received_at += 31 * 86_400; // 3 February
        let mut cancelled = version("a", 2, "cancelled", "sexual-grooming", 5);
        cancelled.received_at += 31 * 86_400;
        let mut online_off = version("c", 2, "recorded", "sexual-grooming", 6);
        online_off.received_at += 31 * 86_400;
        online_off.cyber = false;
        let versions = vec![
            version("a", 1, "recorded", "sexual-grooming", 1),
            version("b", 1, "recorded", "other-child-sexual-offences", 2),
            version("c", 1, "recorded", "sexual-grooming", 2),
            late,
            cancelled,
            online_off,
        ];
        let states = month_end_cells(&versions, &cell);
        let summary: Vec<(String, Vec<(bool, u64)>)> = states
            .iter()
            .map(|(day, cells)| {
                (
                    day.to_string(),
                    cells.iter().map(|c| (c.cyber, c.count)).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("2016-01-31".to_owned(), vec![(true, 2)]),
                // b reclassified in, a cancelled, c lost its flag.
                ("2016-02-29".to_owned(), vec![(false, 1), (true, 1)]),
            ]
        );
        assert!(
            states[1]
                .1
                .iter()
                .all(|c| c.month == "2015-06" && c.force == "west-mercia")
        );
    }
}
