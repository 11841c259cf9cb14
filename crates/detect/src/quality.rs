//! Data-quality alerts: a silent force looks like a safe one.
//!
//! Two checks, pure like the detectors:
//!
//! - [`silent_forces`]: a force that used to send records and has sent nothing for
//!   `silent_days` days;
//! - [`flag_share_collapse`]: a force whose share of cyber-flagged crimes over the last
//!   `recent_weeks` fell below `drop` × its share over the year before, significantly (exact
//!   binomial lower tail below `p_threshold`). Forces under-use the flag (domain research §1.6):
//!   a change of recording practice must not read as a fall in online offending.

use chrono::{Days, NaiveDate};

use crate::stats::binomial_upper_tail;

/// What kind of data-quality problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QualityKind {
    /// No records for `silent_days`.
    SilentForce,
    /// The cyber-flag share collapsed.
    FlagShareCollapse,
}

impl QualityKind {
    /// Stable name (the alert's `method`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SilentForce => "silent-force",
            Self::FlagShareCollapse => "flag-share-collapse",
        }
    }

    /// The kind named `name` by [`QualityKind::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::SilentForce, Self::FlagShareCollapse]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// A data-quality finding for one force.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityFinding {
    /// Force id.
    pub force: String,
    /// The problem.
    pub kind: QualityKind,
    /// Silent: days since the last record. Collapse: flagged crimes in the recent weeks.
    pub observed: u64,
    /// Collapse: flagged crimes expected at the earlier share.
    pub expected: Option<f64>,
    /// Silent: the configured days. Collapse: `drop` × the earlier share.
    pub threshold: Option<f64>,
    /// Collapse: the recent share divided by the earlier share.
    pub score: Option<f64>,
    /// Collapse: exact binomial P(flagged ≤ observed) at the earlier share.
    pub p_value: Option<f64>,
}

/// Controls of the data-quality checks.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityControl {
    /// Days without any record before a force is silent.
    pub silent_days: u32,
    /// A force that sent nothing for this many days is retired, not silent.
    pub retired_days: u32,
    /// Recent weeks compared.
    pub recent_weeks: u32,
    /// Collapse when the recent share is below `drop` × the earlier share…
    pub drop: f64,
    /// …and the binomial lower tail is below this.
    pub p_threshold: f64,
    /// Fewest recent crimes for the share test.
    pub min_recent: u64,
}

impl Default for QualityControl {
    fn default() -> Self {
        Self {
            silent_days: 14,
            retired_days: 365,
            recent_weeks: 4,
            drop: 0.5,
            p_threshold: 0.001,
            min_recent: 20,
        }
    }
}

/// Forces whose last record arrived `silent_days` or more before `today` (and less than
/// `retired_days`), from each force's last arrival date.
pub fn silent_forces(
    last_received: &[(String, NaiveDate)],
    today: NaiveDate,
    control: &QualityControl,
) -> Vec<QualityFinding> {
    last_received
        .iter()
        .filter_map(|(force, last)| {
            let days = u64::try_from((today - *last).num_days()).ok()?;
            (days >= u64::from(control.silent_days) && days < u64::from(control.retired_days)).then(
                || QualityFinding {
                    force: force.clone(),
                    kind: QualityKind::SilentForce,
                    observed: days,
                    expected: None,
                    threshold: Some(f64::from(control.silent_days)),
                    score: None,
                    p_value: None,
                },
            )
        })
        .collect()
}

/// Weekly crimes of one force: all recorded, and of them cyber-flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagWeek {
    /// Monday.
    pub week: NaiveDate,
    /// Recorded crimes.
    pub crimes: u64,
    /// Of which cyber-flagged.
    pub flagged: u64,
}

/// Whether `force`'s flag share over the `recent_weeks` ending with `week` collapsed against
/// the 52 weeks before them.
pub fn flag_share_collapse(
    force: &str,
    weeks: &[FlagWeek],
    week: NaiveDate,
    control: &QualityControl,
) -> Option<QualityFinding> {
    let recent_start =
        week.checked_sub_days(Days::new(7 * u64::from(control.recent_weeks.max(1) - 1)))?;
    let base_start = recent_start.checked_sub_days(Days::new(7 * 52))?;
    let (mut recent, mut base) = ((0u64, 0u64), (0u64, 0u64));
    for w in weeks {
        let slot = if w.week >= recent_start && w.week <= week {
            &mut recent
        } else if w.week >= base_start && w.week < recent_start {
            &mut base
        } else {
            continue;
        };
        slot.0 += w.crimes;
        slot.1 += w.flagged.min(w.crimes);
    }
    if recent.0 < control.min_recent || base.0 == 0 || base.1 == 0 {
        return None;
    }
    let base_share = base.1 as f64 / base.0 as f64;
    let recent_share = recent.1 as f64 / recent.0 as f64;
    if recent_share >= control.drop * base_share {
        return None;
    }
    // P(K ≤ k | n, p) = P(n − K ≥ n − k | n, 1 − p).
    let (p_value, _) = binomial_upper_tail(recent.0 - recent.1, recent.0, 1.0 - base_share);
    (p_value < control.p_threshold).then(|| QualityFinding {
        force: force.to_owned(),
        kind: QualityKind::FlagShareCollapse,
        observed: recent.1,
        expected: Some(base_share * recent.0 as f64),
        threshold: Some(control.drop * base_share),
        score: Some(recent_share / base_share),
        p_value: Some(p_value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn silent_forces_are_those_quiet_for_long_enough_but_not_retired() {
        let last = vec![
            ("kent".to_string(), date("2024-03-01")),
            ("west-mercia".to_string(), date("2024-02-10")),
            ("gone".to_string(), date("2022-01-01")),
        ];
        let found = silent_forces(&last, date("2024-03-02"), &QualityControl::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].force, "west-mercia");
        assert_eq!(found[0].observed, 21);
    }

    fn weeks(from: &str, shares: &[(u64, u64)]) -> Vec<FlagWeek> {
        shares
            .iter()
            .enumerate()
            .map(|(i, &(crimes, flagged))| FlagWeek {
                week: date(from) + Days::new(7 * i as u64),
                crimes,
                flagged,
            })
            .collect()
    }

    #[test]
    fn a_collapsed_flag_share_is_found_and_noise_is_not() {
        let mut history = vec![(40, 10); 52]; // a quarter flagged for a year
        history.extend([(40, 1); 4]); // then almost none
        let series = weeks("2023-01-02", &history);
        let week = series.last().unwrap().week;
        let found = flag_share_collapse("kent", &series, week, &QualityControl::default())
            .expect("a collapse from 25% to 2.5%");
        assert_eq!(found.observed, 4);
        assert!((found.expected.unwrap() - 40.0).abs() < 1e-9);
        assert!(found.p_value.unwrap() < 1e-9);

        let mut noisy = vec![(40, 10); 52];
        noisy.extend([(40, 7); 4]); // 17.5%: lower, but not halved
        let series = weeks("2023-01-02", &noisy);
        assert_eq!(
            flag_share_collapse("kent", &series, week, &QualityControl::default()),
            None
        );

        let mut small = vec![(2, 1); 52];
        small.extend([(3, 0); 4]); // 12 crimes: too few to judge
        let series = weeks("2023-01-02", &small);
        assert_eq!(
            flag_share_collapse("kent", &series, week, &QualityControl::default()),
            None
        );
    }
}
