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

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate};
use model::{ForceId, OffenceGroup};
use serde::Serialize;
use warehouse::VersionState;

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
    // Arrivals in time order; versions of one crime arriving together apply in version order.
    let mut arrivals: Vec<&VersionState> = versions.iter().collect();
    arrivals.sort_by(|a, b| {
        (a.received_at, &a.force, &a.crime_ref, a.version).cmp(&(
            b.received_at,
            &b.force,
            &b.crime_ref,
            b.version,
        ))
    });
    let mut current: BTreeMap<(&str, &str), &VersionState> = BTreeMap::new();
    let mut days: BTreeMap<NaiveDate, Step> = BTreeMap::new();
    let mut count: u64 = 0;
    for version in arrivals {
        let key = (version.force.as_str(), version.crime_ref.as_str());
        let before = current.get(&key).copied();
        if before.is_some_and(|b| b.version >= version.version) {
            continue; // an older or repeated version changes nothing
        }
        current.insert(key, version);
        let was = before.is_some_and(|b| cell.counts(b));
        let is = cell.counts(version);
        let day = DateTime::from_timestamp(version.received_at, 0)
            .map(|t| t.date_naive())
            .unwrap_or_default();
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
}
