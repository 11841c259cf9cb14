//! Negative-binomial likelihood-ratio CUSUM and GLR detector for sustained rises
//! (R `surveillance::algo.glrnb`, Höhle & Paul 2008, C code `lr_cusum_nb`, `glr_nb_window`,
//! `glr_cusum`, `glr_cusum_window`).
//!
//! In control the count at t is NB with mean μ0,t and variance μ0,t + αμ0,t² (Poisson when
//! α = 0); out of control the mean is μ0,t·e^κ. With a fixed κ (`theta`, e.g. ln 2 for "doubled")
//! the chart is the LR-CUSUM S_t = max(0, S_{t−1} + z_t); without it κ is estimated and the GLR
//! maximises over the change point too. The chart restarts after each alarm, as in R.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::glm::{self, Design};
use crate::row::{AlarmRow, GlrDetail, MethodDetail};
use crate::{DetectError, Series};

/// Direction of the change to detect (R `dir`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GlrDirection {
    /// `"inc"` (default): rises.
    #[default]
    Increase,
    /// `"dec"`: falls.
    Decrease,
}

impl GlrDirection {
    fn sign(self) -> f64 {
        match self {
            GlrDirection::Increase => 1.0,
            GlrDirection::Decrease => -1.0,
        }
    }
}

/// The in-control means μ0,t (R `mu0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Mu0 {
    /// Given means, one per monitored point (e.g. Farrington's `expected`).
    Given(Vec<f64>),
    /// R's default `mu0 = NULL`: a log-linear model `y ~ 1 [+ t] + Σ_s (cos(2sπt/freq) +
    /// sin(2sπt/freq))` fitted to all points before the range. R fits it with `MASS::glm.nb`;
    /// here it is the (quasi-)Poisson fit, whose means differ slightly when counts are
    /// overdispersed.
    Harmonic {
        /// R `mu0$S`: number of harmonics (default 1).
        harmonics: usize,
        /// R `mu0$trend`: add a linear trend (default false).
        trend: bool,
    },
}

/// Control of [`glrnb`]; `Default` is R's `algo.glrnb` default except where noted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlrnbControl {
    /// R `range` (0-based, half-open). R has no default: `None` is an error.
    pub range: Option<Range<usize>>,
    /// R `c.ARL`: alarm threshold of the statistic (default 5). Calibrate it by simulation to
    /// an acceptable in-control run length.
    pub c_arl: f64,
    /// R `mu0` (default: one harmonic, no trend).
    pub mu0: Mu0,
    /// R `alpha`: NB dispersion, variance μ + αμ² (default 0, the formals' value: Poisson).
    /// R estimates it with `glm.nb` when `alpha` is omitted and `mu0` estimated; set it here.
    pub alpha: f64,
    /// R `theta`: the log rate ratio κ to detect; `None` (default) estimates it (GLR).
    /// `Some(ln 2)` is the "doubling" LR-CUSUM of alerting.md §0.2.
    pub theta: Option<f64>,
    /// R `M`: how far back the change point may lie; `None` (default, R `-1`) is all history.
    pub window: Option<usize>,
    /// R `Mtilde`: points needed to estimate κ (default 1).
    pub m_tilde: usize,
    /// R `dir` (default `"inc"`).
    pub dir: GlrDirection,
}

impl Default for GlrnbControl {
    fn default() -> Self {
        GlrnbControl {
            range: None,
            c_arl: 5.0,
            mu0: Mu0::Harmonic {
                harmonics: 1,
                trend: false,
            },
            alpha: 0.0,
            theta: None,
            window: None,
            m_tilde: 1,
            dir: GlrDirection::Increase,
        }
    }
}

/// Runs `algo.glrnb` (`change = "intercept"`). Each row has `score` = the chart statistic
/// (R `ret = "value"`) and `upperbound` = the count that would have alarmed (R `ret = "cases"`),
/// the latter `None` for the NB GLR, where R does not implement it either. Missing weeks are
/// skipped: they leave the chart unchanged and never alarm.
pub fn glrnb(series: &Series, control: &GlrnbControl) -> Result<Vec<AlarmRow>, DetectError> {
    let range = control
        .range
        .clone()
        .ok_or_else(|| DetectError::control("range", "algo.glrnb needs an explicit range"))?;
    if range.start >= range.end || range.end > series.len() {
        return Err(DetectError::RangeOutOfBounds {
            start: range.start,
            end: range.end,
            len: series.len(),
        });
    }
    if !(control.alpha >= 0.0 && control.alpha.is_finite()) {
        return Err(DetectError::control("alpha", "must be finite and >= 0"));
    }
    if !control.c_arl.is_finite() {
        return Err(DetectError::control("c.ARL", "must be finite"));
    }
    if control.m_tilde == 0 {
        return Err(DetectError::control("Mtilde", "must be at least 1"));
    }
    if let Some(theta) = control.theta
        && !(theta.is_finite() && theta != 0.0)
    {
        return Err(DetectError::control("theta", "must be finite and non-zero"));
    }
    let mu0 = match &control.mu0 {
        Mu0::Given(values) => {
            if values.len() != range.len() {
                return Err(DetectError::LengthMismatch {
                    what: "mu0",
                    expected: range.len(),
                    actual: values.len(),
                });
            }
            values.clone()
        }
        Mu0::Harmonic { harmonics, trend } => harmonic_mu0(series, &range, *harmonics, *trend)?,
    };
    if let Some(position) = mu0.iter().position(|m| !(m.is_finite() && *m > 0.0)) {
        return Err(DetectError::DegenerateBaseline {
            index: range.start + position,
            mean: mu0[position],
        });
    }

    // Work on the observed points; missing ones are reported with the carried statistic.
    let points: Vec<(usize, f64, f64)> = range
        .clone()
        .zip(&mu0)
        .filter_map(|(t, &m)| series.count(t).map(|x| (t, x as f64, m)))
        .collect();
    let mut results: Vec<(f64, Option<f64>, bool)> = Vec::with_capacity(points.len());
    let mut start = 0;
    while start < points.len() {
        let xs: Vec<f64> = points[start..].iter().map(|p| p.1).collect();
        let mus: Vec<f64> = points[start..].iter().map(|p| p.2).collect();
        let segment = run_chart(&xs, &mus, control);
        let alarmed = segment.alarm_at;
        let end = alarmed.map_or(xs.len(), |n| n + 1);
        for (i, (value, cases)) in segment.values.into_iter().take(end).enumerate() {
            results.push((value, cases, alarmed == Some(i)));
        }
        start += end;
    }

    let mut by_position: Vec<Option<(f64, Option<f64>, bool)>> = vec![None; range.len()];
    for (&(t, ..), result) in points.iter().zip(results) {
        by_position[t - range.start] = Some(result);
    }
    let mut rows = Vec::with_capacity(range.len());
    let mut carried = 0.0;
    for ((t, &m), result) in range.zip(&mu0).zip(by_position) {
        let (value, cases, alarm) = result.unwrap_or((carried, None, false));
        carried = if alarm { 0.0 } else { value };
        rows.push(AlarmRow {
            index: t,
            date: series.date(t),
            observed: series.count(t),
            expected: Some(m),
            upperbound: cases.filter(|c| !c.is_nan()).map(|c| c.max(0.0)),
            alarm,
            score: value.is_finite().then_some(value),
            pvalue: None,
            detail: MethodDetail::Glr(GlrDetail {
                mu0: m,
                statistic: value,
                restarted: alarm,
            }),
        });
    }
    Ok(rows)
}

struct Segment {
    /// Statistic and alarm-producing count per point, up to and including the alarm.
    values: Vec<(f64, Option<f64>)>,
    alarm_at: Option<usize>,
}

fn run_chart(x: &[f64], mu: &[f64], control: &GlrnbControl) -> Segment {
    let c = control.c_arl;
    let alpha = control.alpha;
    let mut values = Vec::with_capacity(x.len());
    if let Some(kappa) = control.theta {
        // lr_cusum / lr_cusum_nb: alarm when S_n > c.
        let mut s_prev = 0.0;
        for n in 0..x.len() {
            let (z, cases) = if alpha == 0.0 {
                let z = kappa * x[n] + (1.0 - kappa.exp()) * mu[n];
                (z, (c - s_prev + mu[n] * (kappa.exp() - 1.0)) / kappa)
            } else {
                // ln((1 + αμ)/(1 + αμe^κ)), written with ln_1p to stay exact for small α.
                let l = (alpha * mu[n]).ln_1p() - (alpha * mu[n] * kappa.exp()).ln_1p();
                let z = kappa * x[n] + (x[n] + 1.0 / alpha) * l;
                (z, -(s_prev * alpha + l - c * alpha) / alpha / (kappa + l))
            };
            let s = (s_prev + z).max(0.0);
            values.push((s, Some(cases)));
            if s > c {
                return Segment {
                    values,
                    alarm_at: Some(n),
                };
            }
            s_prev = s;
        }
        return Segment {
            values,
            alarm_at: None,
        };
    }
    let dir = control.dir.sign();
    let m_tilde = control.m_tilde;
    if alpha == 0.0 {
        // glr_cusum (all history) or glr_cusum_window: alarm when GLR >= c.
        let first = match control.window {
            None => m_tilde.saturating_sub(1),
            Some(_) => m_tilde,
        };
        let glr = |x: &[f64], n: usize| match control.window {
            None => poisson_glr(x, mu, n, dir),
            Some(m) => poisson_glr_window(x, mu, n, dir, m, m_tilde),
        };
        let mut work = x.to_vec();
        for n in 0..x.len() {
            if n < first {
                values.push((0.0, Some(0.0)));
                continue;
            }
            let value = glr(&work, n);
            let cases = cases_needed(&mut work, n, c, dir, |w| glr(w, n));
            values.push((value, Some(cases)));
            if value >= c {
                return Segment {
                    values,
                    alarm_at: Some(n),
                };
            }
        }
        return Segment {
            values,
            alarm_at: None,
        };
    }
    // glr_nb_window: alarm when GLR >= c; no "cases" (R stops for ret = "cases").
    let first = m_tilde - 1;
    for n in 0..x.len() {
        if n < first {
            values.push((0.0, None));
            continue;
        }
        let value = nb_glr(x, mu, alpha, n, dir, control.window, m_tilde);
        values.push((value, None));
        if value >= c {
            return Segment {
                values,
                alarm_at: Some(n),
            };
        }
    }
    Segment {
        values,
        alarm_at: None,
    }
}

/// κ̂ = dir·max(0, dir·ln(Σx/Σμ)) and its log-likelihood ratio κ̂Σx + (1 − e^κ̂)Σμ.
fn poisson_lr(sum_x: f64, sum_mu: f64, dir: f64) -> f64 {
    let kappa = dir * (dir * (sum_x / sum_mu).ln()).max(0.0);
    kappa * sum_x + (1.0 - kappa.exp()) * sum_mu
}

/// C `glr`: max over change points k ≤ n.
fn poisson_glr(x: &[f64], mu: &[f64], n: usize, dir: f64) -> f64 {
    let (mut sum_x, mut sum_mu, mut best) = (0.0, 0.0, -1e99_f64);
    for k in (0..=n).rev() {
        sum_x += x[k];
        sum_mu += mu[k];
        let value = poisson_lr(sum_x, sum_mu, dir);
        if value > best {
            best = value;
        }
    }
    best
}

/// C `glr_window`: change points max(0, n−M) ≤ k ≤ n − Mtilde.
fn poisson_glr_window(x: &[f64], mu: &[f64], n: usize, dir: f64, m: usize, m_tilde: usize) -> f64 {
    let (mut sum_x, mut sum_mu, mut best) = (0.0, 0.0, -1e99_f64);
    for l in (n + 1).saturating_sub(m_tilde)..=n {
        sum_x += x[l];
        sum_mu += mu[l];
    }
    let low = n.saturating_sub(m);
    let Some(high) = n.checked_sub(m_tilde) else {
        return best;
    };
    for k in (low..=high).rev() {
        sum_x += x[k];
        sum_mu += mu[k];
        let value = poisson_lr(sum_x, sum_mu, dir);
        if value > best {
            best = value;
        }
    }
    best
}

/// The count at n that would bring the statistic to c (C: increase x[n] from 0 while
/// dir·glr < dir·c). Capped; `NaN` if not reached.
fn cases_needed(work: &mut [f64], n: usize, c: f64, dir: f64, glr: impl Fn(&[f64]) -> f64) -> f64 {
    let original = work[n];
    let mut candidate = 0.0;
    let mut found = f64::NAN;
    for _ in 0..1_000_000 {
        work[n] = candidate;
        if (dir * glr(work)).partial_cmp(&(dir * c)) != Some(std::cmp::Ordering::Less) {
            found = candidate;
            break;
        }
        candidate += 1.0;
    }
    work[n] = original;
    found
}

/// C `glr_nb_window`: for each change point k (ascending, warm-started) Newton-Raphson for κ,
/// clamped to the direction, then l_{n,k}; the maximum over k.
fn nb_glr(
    x: &[f64],
    mu: &[f64],
    alpha: f64,
    n: usize,
    dir: f64,
    window: Option<usize>,
    m_tilde: usize,
) -> f64 {
    let low = window.map_or(0, |m| n.saturating_sub(m));
    let Some(high) = (n + 1).checked_sub(m_tilde) else {
        return -1e99;
    };
    let mut best = -1e99_f64;
    let mut kappa_ml = 0.5;
    for k in low..=high {
        let mut kappa_old = 0.4;
        let mut kappa_new: f64 = kappa_ml;
        let mut iterations = 0;
        while kappa_new > -18.0 && (kappa_new - kappa_old).abs() > 1e-6 && iterations < 1000 {
            iterations += 1;
            kappa_old = kappa_new;
            let e = kappa_old.exp();
            let (mut score, mut fisher) = (0.0, 0.0);
            for i in k..=n {
                let denom = 1.0 + alpha * e * mu[i];
                score += (x[i] - e * mu[i]) / denom;
                fisher += mu[i] * (alpha * x[i] + 1.0) / (denom * denom);
            }
            kappa_new = kappa_old + score / (e * fisher);
        }
        kappa_ml = dir * (dir * kappa_new).max(0.0);
        let e = kappa_ml.exp();
        let lnk: f64 = (k..=n)
            .map(|i| {
                kappa_ml * x[i]
                    + (x[i] + 1.0 / alpha) * ((alpha * mu[i]).ln_1p() - (alpha * mu[i] * e).ln_1p())
            })
            .sum();
        if lnk > best {
            best = lnk;
        }
    }
    best
}

/// R `estimateGLRNbHook` with a Poisson instead of an NB fit: harmonic model on the points
/// before the range, t = 1-based index.
fn harmonic_mu0(
    series: &Series,
    range: &Range<usize>,
    harmonics: usize,
    trend: bool,
) -> Result<Vec<f64>, DetectError> {
    harmonic_baseline(series, range, harmonics, trend).map(|(mu0, _)| mu0)
}

/// The harmonic in-control means for `range`, fitted to every observed point before it, and
/// the fit's Pearson dispersion φ̂ (variance ≈ φ̂ μ; φ̂ > 1 is overdispersion).
pub(crate) fn harmonic_baseline(
    series: &Series,
    range: &Range<usize>,
    harmonics: usize,
    trend: bool,
) -> Result<(Vec<f64>, f64), DetectError> {
    let period = series.freq() as f64;
    let covariates = |i: usize| -> Vec<f64> {
        let t = (i + 1) as f64;
        let mut row = vec![1.0];
        if trend {
            row.push(t);
        }
        for s in 1..=harmonics {
            let angle = 2.0 * s as f64 * std::f64::consts::PI / period * t;
            row.push(angle.cos());
            row.push(angle.sin());
        }
        row
    };
    let training: Vec<(usize, f64)> = (0..range.start)
        .filter_map(|i| series.count(i).map(|c| (i, c as f64)))
        .collect();
    let p = covariates(0).len();
    let columns: Vec<Vec<f64>> = (0..p)
        .map(|j| training.iter().map(|&(i, _)| covariates(i)[j]).collect())
        .collect();
    let y: Vec<f64> = training.iter().map(|&(_, c)| c).collect();
    let n = y.len();
    let fit = glm::fit(&Design { columns }, &y, &vec![1.0; n], &vec![0.0; n])
        .filter(|f| f.converged && n > p)
        .ok_or(DetectError::InsufficientHistory {
            index: range.start,
            needed: p + 1,
            available: n,
        })?;
    let mu0 = range
        .clone()
        .map(|i| fit.linear_predictor(&covariates(i)).exp())
        .collect();
    Ok((mu0, fit.pearson_dispersion()))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::testdata::salmonella;

    fn weekly(counts: &[u64]) -> Series {
        Series::weekly_complete(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(), counts)
    }

    fn control(n: usize, mu: f64) -> GlrnbControl {
        GlrnbControl {
            range: Some(0..n),
            mu0: Mu0::Given(vec![mu; n]),
            ..GlrnbControl::default()
        }
    }

    /// Poisson LR-CUSUM with κ = ln 2, μ0 = 2 and a steady 4 per week (a doubling):
    /// z = 4 ln 2 − 2 = 0.7726 per week, so S first exceeds c = 5 in week 7, then restarts.
    #[test]
    fn doubling_lr_cusum() {
        let s = weekly(&[4; 10]);
        let c = GlrnbControl {
            theta: Some(2.0_f64.ln()),
            ..control(10, 2.0)
        };
        let rows = glrnb(&s, &c).unwrap();
        let alarms: Vec<usize> = rows.iter().filter(|r| r.alarm).map(|r| r.index).collect();
        assert_eq!(alarms, vec![6]);
        let z = 4.0 * 2.0_f64.ln() - 2.0;
        assert!((rows[6].score.unwrap() - 7.0 * z).abs() < 1e-12);
        assert!((rows[7].score.unwrap() - z).abs() < 1e-12, "restarted");
        // Cases at the first week: (c + μ0 (e^κ − 1))/κ = 7 / ln 2.
        assert!((rows[0].upperbound.unwrap() - 7.0 / 2.0_f64.ln()).abs() < 1e-12);
        // The NB chart tends to the Poisson one as α → 0.
        let nb = GlrnbControl {
            alpha: 1e-9,
            ..c.clone()
        };
        let nb_rows = glrnb(&s, &nb).unwrap();
        for (a, b) in rows.iter().zip(&nb_rows) {
            assert!((a.score.unwrap() - b.score.unwrap()).abs() < 1e-6);
            assert!((a.upperbound.unwrap() - b.upperbound.unwrap()).abs() < 1e-4);
        }
    }

    /// Poisson GLR at a single point: κ̂ = ln(x/μ), value x ln(x/μ) − x + μ; 8 vs μ0 = 2 gives
    /// 5.09 ≥ 5 (alarm) and the smallest alarming count is 8.
    #[test]
    fn poisson_glr_single_point() {
        let s = weekly(&[8, 2]);
        let rows = glrnb(&s, &control(2, 2.0)).unwrap();
        let value = 8.0 * 4.0_f64.ln() - 6.0;
        assert!((rows[0].score.unwrap() - value).abs() < 1e-12);
        assert!(rows[0].alarm);
        assert_eq!(rows[0].upperbound, Some(8.0));
        // The NB GLR with tiny α agrees with the Poisson GLR.
        let nb = glrnb(
            &s,
            &GlrnbControl {
                alpha: 1e-9,
                ..control(2, 2.0)
            },
        )
        .unwrap();
        assert!((nb[0].score.unwrap() - value).abs() < 1e-5);
        assert!(nb[0].alarm && nb[0].upperbound.is_none());
        // Window-limited version starts at n = Mtilde, as R's glr_cusum_window.
        let windowed = glrnb(
            &s,
            &GlrnbControl {
                window: Some(4),
                ..control(2, 2.0)
            },
        )
        .unwrap();
        assert_eq!(windowed[0].score, Some(0.0));
    }

    #[test]
    fn errors_and_missing_weeks() {
        let s = weekly(&[1, 2, 3]);
        let cases = [
            GlrnbControl::default(),
            GlrnbControl {
                range: Some(0..4),
                ..control(3, 1.0)
            },
            GlrnbControl {
                mu0: Mu0::Given(vec![1.0; 2]),
                ..control(3, 1.0)
            },
            GlrnbControl {
                theta: Some(0.0),
                ..control(3, 1.0)
            },
            GlrnbControl {
                alpha: -1.0,
                ..control(3, 1.0)
            },
            control(3, 0.0),
        ];
        for c in cases {
            assert!(glrnb(&s, &c).is_err(), "{c:?}");
        }
        let gappy = Series::weekly(
            NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            vec![Some(4), None, Some(4)],
        );
        let rows = glrnb(
            &gappy,
            &GlrnbControl {
                theta: Some(2.0_f64.ln()),
                ..control(3, 2.0)
            },
        )
        .unwrap();
        assert!(!rows[1].alarm);
        assert_eq!(rows[1].score, rows[0].score);
    }

    #[test]
    fn harmonic_mu0_on_salmonella() {
        let series = salmonella();
        for alpha in [0.0, 0.2] {
            let c = GlrnbControl {
                range: Some(365..417),
                alpha,
                ..GlrnbControl::default()
            };
            let rows = glrnb(&series, &c).unwrap();
            assert_eq!(rows.len(), 52);
            assert!(rows.iter().any(|r| r.alarm), "the autumn 2011 outbreak");
        }
    }
}
