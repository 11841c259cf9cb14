//! One week of national alerting: every series scanned at once, pure.
//!
//! For each weekly series (one force × offence group, say) and the scanned week:
//!
//! - **Farrington flexible** with the Noufaily (2013) settings of `alerting.md` §0 flags a
//!   week whose count exceeds its threshold (`limit54` keeps single cases quiet);
//! - the **exact rate-ratio test** compares the 52 weeks ending with the scanned week with the
//!   52 before, per week of data (missing weeks are exposure not counted, not zeros), for the
//!   sustained rises a one-week test misses ("doubled in a year"). Its p-values across all
//!   series are controlled with Benjamini–Hochberg at `fdr`, so scanning ~2,000 series a week
//!   does not cry wolf.
//!
//! Findings are ranked: Farrington by its exceedance score, rate ratios by p-value. A series
//! with data for less than three quarters of Farrington's `b` years is not judged by it (it is
//! returned as too short); its rate-ratio test still runs once it has two half-years of data.

use chrono::{Days, NaiveDate};

use crate::{DetectError, FarringtonFlexibleControl, Series, farrington_flexible};

/// One series to scan: weekly points up to and including the scanned week (a missing week is
/// `None`, a week with data and no crime is `Some(0)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInput {
    /// What the series counts, e.g. `west-mercia/sexual-grooming`.
    pub key: String,
    /// Weekly points, Mondays, ascending.
    pub points: Vec<(NaiveDate, Option<u64>)>,
}

/// How the scan decides.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanControl {
    /// Farrington flexible control (its `range` is set per series).
    pub farrington: FarringtonFlexibleControl,
    /// Benjamini–Hochberg false-discovery rate for the yearly rate-ratio tests.
    pub fdr: f64,
    /// Fewest crimes in the current year for a rate-ratio finding.
    pub min_current: u64,
}

impl Default for ScanControl {
    fn default() -> Self {
        Self {
            farrington: FarringtonFlexibleControl::noufaily(),
            fdr: 0.05,
            min_current: 10,
        }
    }
}

/// Which detector spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Farrington flexible, one-week exceedance.
    FarringtonFlexible,
    /// Exact yearly rate-ratio test, FDR-controlled.
    RateRatio,
}

impl Method {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FarringtonFlexible => "farrington-flexible",
            Self::RateRatio => "rate-ratio",
        }
    }
}

/// An alert candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The series.
    pub key: String,
    /// The scanned week.
    pub week: NaiveDate,
    /// The detector.
    pub method: Method,
    /// Observed count (the week for Farrington, the year for the rate ratio).
    pub observed: u64,
    /// Expected count (Farrington's fitted mean; the previous year's rate for the rate ratio).
    pub expected: Option<f64>,
    /// Threshold (Farrington's upper bound).
    pub threshold: Option<f64>,
    /// Exceedance score or rate ratio.
    pub score: Option<f64>,
    /// p-value where the method has one.
    pub p_value: Option<f64>,
}

/// Scans every series for `week`. Series that cannot be evaluated (too little history) are
/// returned with their reason, never silently dropped.
pub fn scan(
    series: &[SeriesInput],
    week: NaiveDate,
    control: &ScanControl,
) -> (Vec<Finding>, Vec<(String, DetectError)>) {
    let mut findings = Vec::new();
    let mut skipped = Vec::new();
    let mut yearly = Vec::new();
    for input in series {
        let points: Vec<(NaiveDate, Option<i64>)> = input
            .points
            .iter()
            .filter(|(date, _)| *date <= week)
            .map(|(date, count)| (*date, count.and_then(|c| i64::try_from(c).ok())))
            .collect();
        // Farrington's baseline reaches b years back: a series that has data for less than
        // three quarters of that span would be judged against a few stray weeks, so it is
        // reported as too short instead (a force that only started sending, or a new offence).
        let needed = control.farrington.b * 52 * 3 / 4;
        let observed = points
            .iter()
            .filter(|(date, count)| *date < week && count.is_some())
            .count();
        let evaluated = if observed < needed {
            Err(DetectError::InsufficientHistory {
                index: points.len().saturating_sub(1),
                needed,
                available: observed,
            })
        } else {
            Series::weekly_from_dated(&points)
        }
        .and_then(|weekly| {
            let index = weekly.index_of(week).ok_or(DetectError::RangeOutOfBounds {
                start: 0,
                end: 0,
                len: weekly.len(),
            })?;
            let farrington = FarringtonFlexibleControl {
                range: Some(index..index + 1),
                ..control.farrington.clone()
            };
            farrington_flexible(&weekly, &farrington)
        });
        match evaluated {
            Ok(rows) => {
                for row in rows.into_iter().filter(|row| row.alarm) {
                    findings.push(Finding {
                        key: input.key.clone(),
                        week,
                        method: Method::FarringtonFlexible,
                        observed: row.observed.unwrap_or(0),
                        expected: row.expected,
                        threshold: row.upperbound,
                        score: row.score,
                        p_value: row.pvalue,
                    });
                }
            }
            Err(error) => skipped.push((input.key.clone(), error)),
        }
        if let Some(test) = yearly_test(input, week) {
            yearly.push((input.key.clone(), test));
        }
    }
    // Benjamini–Hochberg over every series' yearly test.
    let mut p_values: Vec<(usize, f64)> = yearly
        .iter()
        .enumerate()
        .filter(|(_, (_, test))| test.2.is_finite())
        .map(|(i, (_, test))| (i, test.2))
        .collect();
    p_values.sort_by(|a, b| a.1.total_cmp(&b.1));
    let m = p_values.len() as f64;
    let cutoff = p_values
        .iter()
        .enumerate()
        .filter(|(rank, (_, p))| *p <= (*rank as f64 + 1.0) / m * control.fdr)
        .map(|(rank, _)| rank)
        .max();
    if let Some(cutoff) = cutoff {
        for (i, p) in &p_values[..=cutoff] {
            let (key, (_previous, current, _, ratio, expected)) = &yearly[*i];
            if ratio.is_some_and(|r| r > 1.0) && *current >= control.min_current {
                findings.push(Finding {
                    key: key.clone(),
                    week,
                    method: Method::RateRatio,
                    observed: *current,
                    expected: Some(*expected),
                    threshold: None,
                    score: *ratio,
                    p_value: Some(*p),
                });
            }
        }
    }
    findings.sort_by(|a, b| match (a.method, b.method) {
        (Method::FarringtonFlexible, Method::RateRatio) => std::cmp::Ordering::Less,
        (Method::RateRatio, Method::FarringtonFlexible) => std::cmp::Ordering::Greater,
        (Method::FarringtonFlexible, _) => {
            b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0))
        }
        (Method::RateRatio, _) => a
            .p_value
            .unwrap_or(1.0)
            .total_cmp(&b.p_value.unwrap_or(1.0)),
    });
    (findings, skipped)
}

/// The yearly rate-ratio test for one series: (previous, current, p, ratio, expected current).
fn yearly_test(input: &SeriesInput, week: NaiveDate) -> Option<(u64, u64, f64, Option<f64>, f64)> {
    let year_start = week.checked_sub_days(Days::new(51 * 7))?;
    let previous_start = year_start.checked_sub_days(Days::new(52 * 7))?;
    let (mut previous, mut current, mut previous_weeks, mut current_weeks) =
        (0u64, 0u64, 0u64, 0u64);
    for (date, count) in &input.points {
        let Some(count) = count else { continue };
        if *date >= year_start && *date <= week {
            current += count;
            current_weeks += 1;
        } else if *date >= previous_start && *date < year_start {
            previous += count;
            previous_weeks += 1;
        }
    }
    if previous_weeks < 26 || current_weeks < 26 {
        return None;
    }
    let test = crate::rate_ratio_test_with_exposure(
        previous,
        previous_weeks as f64,
        current,
        current_weeks as f64,
    )
    .ok()?;
    let expected = previous as f64 * current_weeks as f64 / previous_weeks as f64;
    Some((previous, current, test.p_value, test.rate_ratio, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly(start: NaiveDate, counts: &[Option<u64>]) -> Vec<(NaiveDate, Option<u64>)> {
        counts
            .iter()
            .enumerate()
            .map(|(i, c)| (start + Days::new(7 * i as u64), *c))
            .collect()
    }

    #[test]
    fn a_doubling_is_found_and_a_flat_series_is_not() {
        let start = NaiveDate::from_ymd_opt(2011, 1, 3).unwrap();
        // Six years of a flat ~2/week series, then a year at ~4/week (West Mercia's 114 → 213).
        let flat: Vec<Option<u64>> = (0..364).map(|i| Some(2 + (i % 3 == 0) as u64)).collect();
        let mut rising = flat.clone();
        for (i, count) in rising.iter_mut().enumerate().skip(312) {
            *count = Some(4 + (i % 2) as u64);
        }
        let week = start + Days::new(7 * 363);
        let series = vec![
            SeriesInput {
                key: "steady".into(),
                points: weekly(start, &flat),
            },
            SeriesInput {
                key: "rising".into(),
                points: weekly(start, &rising),
            },
        ];
        let (findings, skipped) = scan(&series, week, &ScanControl::default());
        assert!(skipped.is_empty(), "{skipped:?}");
        assert!(
            findings
                .iter()
                .any(|f| f.key == "rising" && f.method == Method::RateRatio)
        );
        assert!(findings.iter().all(|f| f.key != "steady"), "{findings:?}");
    }

    #[test]
    fn missing_weeks_are_exposure_not_zeros_and_short_series_are_reported() {
        let start = NaiveDate::from_ymd_opt(2018, 1, 1).unwrap();
        let mut counts: Vec<Option<u64>> = vec![Some(3); 104];
        for count in counts.iter_mut().skip(60).take(30) {
            *count = None; // a force that sent nothing for 30 weeks
        }
        let week = start + Days::new(7 * 103);
        let series = vec![SeriesInput {
            key: "gappy".into(),
            points: weekly(start, &counts),
        }];
        let (findings, skipped) = scan(&series, week, &ScanControl::default());
        assert!(
            findings.iter().all(|f| f.method != Method::RateRatio),
            "{findings:?}"
        );
        assert_eq!(
            skipped.len(),
            1,
            "two years are too little history for b = 5"
        );
        assert!(matches!(
            skipped[0].1,
            DetectError::InsufficientHistory { .. }
        ));
    }
}
