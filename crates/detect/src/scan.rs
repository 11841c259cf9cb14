//! One week of national alerting: every series scanned at once, pure.
//!
//! For each weekly series (one force × offence group, a force's total, a group nationally,
//! the national total) and the scanned week, three tests run:
//!
//! - **Farrington flexible** with the Noufaily (2013) settings of `alerting.md` §0: is this
//!   week's count above what the past years predict? Its p-value is the negative-binomial
//!   upper tail of the week's count, and a week only alarms where Farrington does (`limit54`
//!   keeps single cases quiet).
//! - the **negative-binomial LR-CUSUM** (`glrnb` with κ = ln 2, alerting.md §0.2) over the
//!   last `cusum.window` weeks, with the harmonic in-control mean and NB dispersion fitted to
//!   the weeks before: a sustained doubling accumulates evidence week after week, where a
//!   one-week test has little power. The chart is not restarted inside the window, and its
//!   p-value is `exp(−S)`: under the in-control model the likelihood ratio of every change
//!   point is a mean-one martingale in reversed time, so by Ville's inequality
//!   P(S ≥ s) ≤ e^(−s) — conservative, and valid without simulation.
//! - the **exact rate-ratio test** of the 52 weeks ending with the scanned week against the
//!   52 before, per week of data (missing weeks are exposure not counted, not zeros): the
//!   "doubled in a year" question.
//!
//! **False discoveries.** All p-values of the week (every series, every test) form one family;
//! weighted Benjamini–Hochberg at `fdr` decides which alarms are reported. The weights are
//! fixed in advance: the NB CUSUM on force and national totals — the question alerting exists
//! for — weighs `primary_weight`, every other test 1, normalised to mean one, so the FDR stays
//! at `fdr` (Genovese, Roeder & Wasserman 2006). Under the global null this bounds the
//! probability that a week raises any false alert by `fdr`, so scanning ~2,000 series a week
//! does not cry wolf. Findings are ranked by p-value (then score).
//!
//! A series with data for less than three quarters of Farrington's `b` years is not judged by
//! Farrington or the CUSUM (it is returned as too short); its rate-ratio test still runs once
//! it has two half-years of data.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};

use crate::glrnb::harmonic_baseline;
use crate::{
    DetectError, FarringtonFlexibleControl, GlrnbControl, Mu0, Series, farrington_flexible, glrnb,
};

/// The force of the national series.
pub const NATIONAL: &str = "national";
/// The offence group of a force's (or the nation's) total series.
pub const ALL_GROUPS: &str = "all";

/// One series to scan: weekly points up to and including the scanned week (a missing week is
/// `None`, a week with data and no crime is `Some(0)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInput {
    /// Force id, or [`NATIONAL`].
    pub force: String,
    /// Offence group, or [`ALL_GROUPS`].
    pub offence_group: String,
    /// Weekly points, Mondays, ascending.
    pub points: Vec<(NaiveDate, Option<u64>)>,
}

impl SeriesInput {
    /// `force/offence_group`, the series' stable name.
    pub fn key(&self) -> String {
        format!("{}/{}", self.force, self.offence_group)
    }
}

/// One force × offence group × week count (a week that is absent has no such crimes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekCount {
    /// Force id.
    pub force: String,
    /// Offence group.
    pub offence_group: String,
    /// Monday of the week.
    pub week: NaiveDate,
    /// Crimes.
    pub count: u64,
}

/// Builds every series for a scan over the Mondays `from..=to`: each force × offence group,
/// each force's total, each group nationally and the national total. A force's week is missing
/// (not zero) unless `active` says the force has records in it, or it lies in a gap of at most
/// [`MAX_QUIET_WEEKS`] between weeks that have; a national week is missing only when no force
/// sent anything. Forces that never counted a crime in the span have no series.
///
/// An offence group's series begin with the first week any force counted a crime of the group:
/// before that the offence did not exist (sexual communication with a child, for one, only
/// from April 2017), and zeros there would make its introduction look like a rise.
pub fn build_series(
    counts: &[WeekCount],
    active: &BTreeSet<(String, NaiveDate)>,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<SeriesInput> {
    let mondays: Vec<NaiveDate> = (0..)
        .map(|i| from + Days::new(7 * i))
        .take_while(|d| *d <= to)
        .collect();
    let mut sums: BTreeMap<(String, String), BTreeMap<NaiveDate, u64>> = BTreeMap::new();
    for count in counts.iter().filter(|c| !c.offence_group.is_empty()) {
        for force in [count.force.as_str(), NATIONAL] {
            for group in [count.offence_group.as_str(), ALL_GROUPS] {
                *sums
                    .entry((force.to_owned(), group.to_owned()))
                    .or_default()
                    .entry(count.week)
                    .or_default() += count.count;
            }
        }
    }
    let active = bridge_gaps(active);
    let any_active: BTreeSet<NaiveDate> = active.iter().map(|(_, week)| *week).collect();
    let mut first_seen: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    for count in counts.iter().filter(|c| c.count > 0) {
        let first = first_seen
            .entry(count.offence_group.as_str())
            .or_insert(count.week);
        *first = (*first).min(count.week);
    }
    sums.into_iter()
        .map(|((force, offence_group), weeks)| {
            let points = mondays
                .iter()
                .map(|monday| {
                    let exists = first_seen
                        .get(offence_group.as_str())
                        .is_none_or(|first| first <= monday);
                    if !exists {
                        return (*monday, None);
                    }
                    let sent = if force == NATIONAL {
                        any_active.contains(monday)
                    } else {
                        active.contains(&(force.clone(), *monday))
                    };
                    let count = weeks.get(monday).copied();
                    // Counted crimes prove the force sent data, whatever `active` says.
                    (
                        *monday,
                        if sent {
                            Some(count.unwrap_or(0))
                        } else {
                            count
                        },
                    )
                })
                .collect();
            SeriesInput {
                force,
                offence_group,
                points,
            }
        })
        .collect()
}

/// Longest run of weeks without any record, between weeks with records, that still counts as
/// sent (zeros): a small force can go a few weeks without a crime of any kind.
pub const MAX_QUIET_WEEKS: u64 = 7;

/// Marks as sent the weeks inside gaps of at most [`MAX_QUIET_WEEKS`] between a force's weeks
/// with records. Weeks before its first or after its last record, and longer gaps, stay missing.
fn bridge_gaps(active: &BTreeSet<(String, NaiveDate)>) -> BTreeSet<(String, NaiveDate)> {
    let mut bridged = active.clone();
    let mut previous: Option<&(String, NaiveDate)> = None;
    for current in active {
        if let Some((force, week)) = previous
            && *force == current.0
        {
            let gap = (current.1 - *week).num_days() / 7 - 1;
            if (1..=MAX_QUIET_WEEKS as i64).contains(&gap) {
                for i in 1..=gap as u64 {
                    bridged.insert((force.clone(), *week + Days::new(7 * i)));
                }
            }
        }
        previous = Some(current);
    }
    bridged
}

/// The NB LR-CUSUM of the scan.
#[derive(Debug, Clone, PartialEq)]
pub struct NbCusumControl {
    /// Weeks monitored, ending with the scanned week; the in-control mean is fitted to the
    /// weeks before them.
    pub window: usize,
    /// Log rate ratio to detect (ln 2: a doubling).
    pub kappa: f64,
    /// Smallest chart value that alarms (R's `c.ARL` default, 5).
    pub threshold: f64,
}

impl Default for NbCusumControl {
    fn default() -> Self {
        Self {
            window: 26,
            kappa: std::f64::consts::LN_2,
            threshold: 5.0,
        }
    }
}

/// How the scan decides.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanControl {
    /// Farrington flexible control (its `range` is set per series).
    pub farrington: FarringtonFlexibleControl,
    /// NB LR-CUSUM control.
    pub cusum: NbCusumControl,
    /// Benjamini–Hochberg false-discovery rate over every test of the week.
    pub fdr: f64,
    /// Prior weight of the NB CUSUM on force and national totals in the weighted
    /// Benjamini–Hochberg control, against 1 for every other test (weights are normalised to
    /// mean one, so the FDR stays `fdr`).
    pub primary_weight: f64,
    /// Fewest crimes in the current year for a rate-ratio finding.
    pub min_current: u64,
}

impl Default for ScanControl {
    fn default() -> Self {
        Self {
            farrington: FarringtonFlexibleControl::noufaily(),
            cusum: NbCusumControl::default(),
            fdr: 0.05,
            primary_weight: 10.0,
            min_current: 10,
        }
    }
}

/// Which detector spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// Farrington flexible, one-week exceedance.
    FarringtonFlexible,
    /// Negative-binomial LR-CUSUM, sustained rise.
    NbCusum,
    /// Exact yearly rate-ratio test.
    RateRatio,
}

impl Method {
    /// Every method, in a stable order.
    pub const ALL: [Method; 3] = [Self::FarringtonFlexible, Self::NbCusum, Self::RateRatio];

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FarringtonFlexible => "farrington-flexible",
            Self::NbCusum => "nb-cusum",
            Self::RateRatio => "rate-ratio",
        }
    }

    /// The method named `name` by [`Method::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// An alert: a test that alarmed and survived the false-discovery control.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Force id or [`NATIONAL`].
    pub force: String,
    /// Offence group or [`ALL_GROUPS`].
    pub offence_group: String,
    /// The scanned week.
    pub week: NaiveDate,
    /// The detector.
    pub method: Method,
    /// Observed count: the week (Farrington), the weeks since the chart last stood at zero
    /// (CUSUM), the year (rate ratio).
    pub observed: u64,
    /// Expected count over the same weeks.
    pub expected: Option<f64>,
    /// Threshold: Farrington's upper bound, the CUSUM's alarm level.
    pub threshold: Option<f64>,
    /// Exceedance score, chart value or rate ratio.
    pub score: Option<f64>,
    /// The test's p-value (the CUSUM's is the bound `exp(−S)`).
    pub p_value: f64,
}

impl Finding {
    /// `force/offence_group`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.force, self.offence_group)
    }
}

/// What a scan found and what it could not judge.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScanReport {
    /// Alerts, best first.
    pub findings: Vec<Finding>,
    /// Series that could not be judged by Farrington and the CUSUM, with the reason.
    pub skipped: Vec<(String, DetectError)>,
    /// Tests in the false-discovery family (p-values computed).
    pub tests: usize,
    /// The largest weighted p-value (p divided by its normalised weight) accepted by
    /// Benjamini–Hochberg (0 when none).
    pub p_cutoff: f64,
}

/// One test's outcome before the false-discovery control.
struct Test {
    finding: Finding,
    /// Whether the method itself alarmed.
    alarmed: bool,
}

/// Scans every series for `week`.
pub fn scan(series: &[SeriesInput], week: NaiveDate, control: &ScanControl) -> ScanReport {
    let mut tests: Vec<Test> = Vec::new();
    let mut skipped = Vec::new();
    for input in series {
        let make = |method, observed, expected, threshold, score, p_value| Finding {
            force: input.force.clone(),
            offence_group: input.offence_group.clone(),
            week,
            method,
            observed,
            expected,
            threshold,
            score,
            p_value,
        };
        match weekly_tests(input, week, control) {
            Ok((farrington, cusum)) => {
                if let Some(row) = farrington
                    && let Some(p) = row.pvalue
                {
                    tests.push(Test {
                        alarmed: row.alarm,
                        finding: make(
                            Method::FarringtonFlexible,
                            row.observed.unwrap_or(0),
                            row.expected,
                            row.upperbound,
                            row.score,
                            p,
                        ),
                    });
                }
                if let Some(chart) = cusum {
                    tests.push(Test {
                        alarmed: chart.value >= control.cusum.threshold,
                        finding: make(
                            Method::NbCusum,
                            chart.observed,
                            Some(chart.expected),
                            Some(control.cusum.threshold),
                            Some(chart.value),
                            (-chart.value).exp().min(1.0),
                        ),
                    });
                }
            }
            Err(error) => skipped.push((input.key(), error)),
        }
        if let Some(yearly) = yearly_test(input, week) {
            tests.push(Test {
                alarmed: yearly.ratio.is_some_and(|r| r > 1.0)
                    && yearly.current >= control.min_current,
                finding: make(
                    Method::RateRatio,
                    yearly.current,
                    Some(yearly.expected),
                    None,
                    yearly.ratio,
                    yearly.p_value,
                ),
            });
        }
    }
    tests.retain(|t| t.finding.p_value.is_finite());
    // Weighted Benjamini–Hochberg (Genovese, Roeder & Wasserman 2006): weights fixed before
    // the data are seen, normalised to mean one over the family, keep the FDR at `fdr`.
    let raw: Vec<f64> = tests.iter().map(|t| weight(&t.finding, control)).collect();
    let total: f64 = raw.iter().sum();
    let family = tests.len();
    let weighted: Vec<f64> = tests
        .iter()
        .zip(&raw)
        .map(|(t, w)| t.finding.p_value / (w * family as f64 / total))
        .collect();
    let p_cutoff = benjamini_hochberg(weighted.iter().copied(), control.fdr);
    let mut findings: Vec<Finding> = tests
        .into_iter()
        .zip(weighted)
        .filter(|(t, q)| t.alarmed && *q <= p_cutoff)
        .map(|(t, _)| t.finding)
        .collect();
    findings.sort_by(|a, b| {
        a.p_value
            .total_cmp(&b.p_value)
            .then(b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0)))
            .then_with(|| a.key().cmp(&b.key()))
            .then(a.method.cmp(&b.method))
    });
    ScanReport {
        findings,
        skipped,
        tests: family,
        p_cutoff,
    }
}

/// A test's prior weight in the false-discovery control: the NB CUSUM on a force's or the
/// nation's total, the question the alerting exists for ("have this force's online child
/// sexual offences risen?"), weighs `primary_weight`; every other test 1.
fn weight(finding: &Finding, control: &ScanControl) -> f64 {
    if finding.method == Method::NbCusum && finding.offence_group == ALL_GROUPS {
        control.primary_weight
    } else {
        1.0
    }
}

/// The Benjamini–Hochberg cut-off: the largest p(k) with p(k) ≤ k/m·q, or 0 when there is none.
pub fn benjamini_hochberg(p_values: impl IntoIterator<Item = f64>, q: f64) -> f64 {
    let mut sorted: Vec<f64> = p_values.into_iter().filter(|p| p.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let m = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .rev()
        .find(|(rank, p)| **p <= (*rank as f64 + 1.0) / m * q)
        .map(|(_, p)| *p)
        .unwrap_or(0.0)
}

/// The CUSUM's state at the scanned week.
struct Chart {
    /// S at the scanned week.
    value: f64,
    /// Crimes since the chart last stood at zero.
    observed: u64,
    /// Their in-control expectation.
    expected: f64,
}

/// Farrington's row and the CUSUM chart for the scanned week (`None` when the week itself is
/// missing), or why the series is too short for both.
fn weekly_tests(
    input: &SeriesInput,
    week: NaiveDate,
    control: &ScanControl,
) -> Result<(Option<crate::AlarmRow>, Option<Chart>), DetectError> {
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
    if observed < needed {
        return Err(DetectError::InsufficientHistory {
            index: points.len().saturating_sub(1),
            needed,
            available: observed,
        });
    }
    let weekly = Series::weekly_from_dated(&points)?;
    let index = weekly.index_of(week).ok_or(DetectError::RangeOutOfBounds {
        start: 0,
        end: 0,
        len: weekly.len(),
    })?;
    let farrington = FarringtonFlexibleControl {
        range: Some(index..index + 1),
        ..control.farrington.clone()
    };
    let row = farrington_flexible(&weekly, &farrington)?
        .into_iter()
        .next()
        .filter(|row| row.observed.is_some());
    Ok((row, nb_cusum(&weekly, index, &control.cusum)?))
}

/// The NB LR-CUSUM over the `window` weeks ending at `index`, never restarted.
fn nb_cusum(
    weekly: &Series,
    index: usize,
    control: &NbCusumControl,
) -> Result<Option<Chart>, DetectError> {
    if weekly.count(index).is_none() {
        return Ok(None);
    }
    let window = control.window.max(1);
    let start = (index + 1)
        .checked_sub(window)
        .ok_or(DetectError::InsufficientHistory {
            index,
            needed: window,
            available: index + 1,
        })?;
    let range = start..index + 1;
    let (mu0, phi) = harmonic_baseline(weekly, &range, 1, false)?;
    // Variance φμ ≈ μ + αμ² at the baseline's mean level.
    let mean = mu0.iter().sum::<f64>() / mu0.len() as f64;
    let alpha = if phi.is_finite() && phi > 1.0 && mean > 0.0 {
        (phi - 1.0) / mean
    } else {
        0.0
    };
    let rows = glrnb(
        weekly,
        &GlrnbControl {
            range: Some(range.clone()),
            // Never alarms inside the window, so the chart is never restarted.
            c_arl: f64::MAX,
            mu0: Mu0::Given(mu0.clone()),
            alpha,
            theta: Some(control.kappa),
            ..GlrnbControl::default()
        },
    )?;
    let value = rows.last().and_then(|r| r.score).unwrap_or(0.0);
    // The run since the chart last stood at zero.
    let run_start = rows
        .iter()
        .rposition(|r| r.score.is_some_and(|s| s <= 0.0))
        .map_or(0, |i| i + 1);
    let (observed, expected) = rows[run_start..]
        .iter()
        .zip(&mu0[run_start..])
        .filter(|(row, _)| row.observed.is_some())
        .fold((0, 0.0), |(o, e), (row, mu)| {
            (o + row.observed.unwrap_or(0), e + mu)
        });
    Ok(Some(Chart {
        value,
        observed,
        expected,
    }))
}

/// The yearly rate-ratio test for one series.
struct Yearly {
    current: u64,
    p_value: f64,
    ratio: Option<f64>,
    expected: f64,
}

fn yearly_test(input: &SeriesInput, week: NaiveDate) -> Option<Yearly> {
    // Like the weekly tests, a week without data is not judged.
    input
        .points
        .iter()
        .find(|(date, _)| *date == week)
        .and_then(|(_, count)| *count)?;
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
    Some(Yearly {
        current,
        p_value: test.p_value,
        ratio: test.rate_ratio,
        expected: previous as f64 * current_weeks as f64 / previous_weeks as f64,
    })
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

    fn input(force: &str, points: Vec<(NaiveDate, Option<u64>)>) -> SeriesInput {
        SeriesInput {
            force: force.into(),
            offence_group: "sexual-grooming".into(),
            points,
        }
    }

    /// A deterministic Poisson sample (xorshift64* and Knuth's method; means here are small).
    struct Poisson(u64);

    impl Poisson {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        }

        fn sample(&mut self, mean: f64) -> u64 {
            let limit = (-mean).exp();
            let (mut k, mut product) = (0, self.uniform());
            while product > limit {
                k += 1;
                product *= self.uniform();
            }
            k
        }
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
            input("steady", weekly(start, &flat)),
            input("rising", weekly(start, &rising)),
        ];
        let report = scan(&series, week, &ScanControl::default());
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        assert_eq!(report.tests, 6, "three tests for each of two series");
        for method in [Method::RateRatio, Method::NbCusum] {
            assert!(
                report
                    .findings
                    .iter()
                    .any(|f| f.force == "rising" && f.method == method),
                "{method:?}: {:?}",
                report.findings
            );
        }
        assert!(report.findings.iter().all(|f| f.force != "steady"));
        let p: Vec<f64> = report.findings.iter().map(|f| f.p_value).collect();
        assert!(p.windows(2).all(|w| w[0] <= w[1]), "ranked by p-value");
    }

    #[test]
    fn the_cusum_sees_a_sustained_doubling_within_twelve_weeks() {
        let start = NaiveDate::from_ymd_opt(2014, 1, 6).unwrap();
        let mut random = Poisson(0x5eed);
        // Five years at 114 a year, then 213 a year (2.19 → 4.10 a week) for twelve weeks.
        let counts: Vec<Option<u64>> = (0..272)
            .map(|i| Some(random.sample(if i < 260 { 114.0 / 52.0 } else { 213.0 / 52.0 })))
            .collect();
        let week = start + Days::new(7 * 271);
        let report = scan(
            &[input("west-mercia", weekly(start, &counts))],
            week,
            &ScanControl::default(),
        );
        let cusum = report
            .findings
            .iter()
            .find(|f| f.method == Method::NbCusum)
            .unwrap_or_else(|| panic!("{report:?}"));
        assert!(cusum.score.unwrap() >= 5.0);
        assert!(
            cusum.observed as f64 > cusum.expected.unwrap() * 1.5,
            "{cusum:?}"
        );
        assert!(
            report
                .findings
                .iter()
                .all(|f| f.method != Method::RateRatio),
            "twelve weeks are too few for the yearly test, which is why the CUSUM runs"
        );
    }

    #[test]
    fn the_cusum_p_value_bound_holds_in_control() {
        // Ville: P(S ≥ s) ≤ e^(−s). Over 400 in-control Poisson series at 2.2/week, the share
        // with S ≥ 2 must stay near or below e^(−2) ≈ 0.135 (the mean is fitted, so allow slack).
        let start = NaiveDate::from_ymd_opt(2014, 1, 6).unwrap();
        let mut random = Poisson(42);
        let control = NbCusumControl::default();
        let mut above = 0;
        for _ in 0..400 {
            let counts: Vec<Option<u64>> = (0..286).map(|_| Some(random.sample(2.2))).collect();
            let series = Series::weekly(start, counts);
            let chart = nb_cusum(&series, 285, &control).unwrap().unwrap();
            above += (chart.value >= 2.0) as u32;
        }
        assert!(
            above <= 68,
            "{above} of 400 charts at S ≥ 2 (bound e^-2 → 54)"
        );
    }

    #[test]
    fn benjamini_hochberg_cut_off() {
        // Classic example: m = 5, q = 0.05 → thresholds 0.01, 0.02, 0.03, 0.04, 0.05.
        assert_eq!(
            benjamini_hochberg([0.001, 0.03, 0.012, 0.04, 0.9], 0.05),
            0.04
        );
        assert_eq!(benjamini_hochberg([0.03, 0.9], 0.05), 0.0);
        assert_eq!(benjamini_hochberg([], 0.05), 0.0);
    }

    #[test]
    fn series_have_totals_national_sums_and_missing_weeks() {
        let monday = |d| NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
        let count = |force: &str, group: &str, week, count| WeekCount {
            force: force.into(),
            offence_group: group.into(),
            week,
            count,
        };
        let counts = vec![
            count("west-mercia", "sexual-grooming", monday(1), 2),
            count("west-mercia", "indecent-images-of-children", monday(1), 1),
            count("kent", "sexual-grooming", monday(8), 3),
        ];
        // West Mercia sent data in weeks 1 and 8; Kent only in week 8; week 15 nobody.
        let active: BTreeSet<(String, NaiveDate)> = [
            ("west-mercia".to_string(), monday(1)),
            ("west-mercia".to_string(), monday(8)),
            ("kent".to_string(), monday(8)),
        ]
        .into_iter()
        .collect();
        let series = build_series(&counts, &active, monday(1), monday(15));
        let get = |force: &str, group: &str| {
            series
                .iter()
                .find(|s| s.force == force && s.offence_group == group)
                .map(|s| s.points.iter().map(|(_, c)| *c).collect::<Vec<_>>())
                .unwrap_or_else(|| panic!("no series {force}/{group}"))
        };
        assert_eq!(
            get("west-mercia", "sexual-grooming"),
            [Some(2), Some(0), None]
        );
        assert_eq!(get("west-mercia", ALL_GROUPS), [Some(3), Some(0), None]);
        assert_eq!(get("kent", "sexual-grooming"), [None, Some(3), None]);
        assert_eq!(get(NATIONAL, "sexual-grooming"), [Some(2), Some(3), None]);
        assert_eq!(get(NATIONAL, ALL_GROUPS), [Some(3), Some(3), None]);
        assert_eq!(
            series.len(),
            8,
            "3 force groups, 2 force totals, 2 national groups, 1 total"
        );
        // Gaps of up to seven quiet weeks between weeks with records are zeros; longer gaps
        // and the weeks after the last record stay missing.
        let week = |n: u64| monday(1) + Days::new(7 * n);
        let sparse: BTreeSet<(String, NaiveDate)> = [0, 8, 17]
            .into_iter()
            .map(|n| ("kent".to_string(), week(n)))
            .collect();
        let bridged = bridge_gaps(&sparse);
        assert!((0..=8).all(|n| bridged.contains(&("kent".to_string(), week(n)))));
        assert!((9..=16).all(|n| !bridged.contains(&("kent".to_string(), week(n)))));
        assert!(!bridged.contains(&("kent".to_string(), week(18))));
        // A group first counted in week 8 has no week 1 anywhere.
        let later = vec![
            count("kent", "sexual-communication-with-a-child", monday(8), 1),
            count("kent", "sexual-grooming", monday(1), 1),
        ];
        let series = build_series(&later, &active, monday(1), monday(15));
        let kent = series
            .iter()
            .find(|s| s.force == "kent" && s.offence_group == "sexual-communication-with-a-child")
            .unwrap();
        assert_eq!(kent.points[0].1, None, "the offence did not exist yet");
        assert_eq!(kent.points[1].1, Some(1));
    }

    #[test]
    fn missing_weeks_are_exposure_not_zeros_and_short_series_are_reported() {
        let start = NaiveDate::from_ymd_opt(2018, 1, 1).unwrap();
        let mut counts: Vec<Option<u64>> = vec![Some(3); 104];
        for count in counts.iter_mut().skip(60).take(20) {
            *count = None; // a force that sent nothing for 20 weeks
        }
        let week = start + Days::new(7 * 103);
        let report = scan(
            &[input("gappy", weekly(start, &counts))],
            week,
            &ScanControl::default(),
        );
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        assert_eq!(
            report.skipped.len(),
            1,
            "two years are too little for b = 5"
        );
        assert!(matches!(
            report.skipped[0].1,
            DetectError::InsufficientHistory { .. }
        ));
        assert_eq!(report.tests, 1, "the yearly test still ran");
    }
}
