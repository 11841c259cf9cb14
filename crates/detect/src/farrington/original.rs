//! `algo.farrington` (R `surveillance`, Farrington et al. 1996): the quasi-Poisson GLM on the
//! `b·(2w+1)` points around the same week of the past `b` years, with reweighting (threshold 1),
//! a trend test at 5 % and a two-sided delta-method interval on the 2/3-power scale.

use std::ops::Range;

use chrono::{Datelike, NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};

use super::flexible::floored_dispersion;
use super::{
    PowerTransform, Prediction, anscombe_residuals, assign_weights, check_alpha, check_limit54,
    finish_row, minus_years, resolve_range, threshold_delta, to_i64,
};
use crate::glm::{self, Design, GlmFit};
use crate::stats::pt_two_sided;
use crate::{AlarmRow, DetectError, Series, TimeAxis};

/// `algo.farrington` hard-codes the reweighting threshold and the trend test level.
const WEIGHTS_THRESHOLD: f64 = 1.0;
const P_THRESHOLD_TREND: f64 = 0.05;

/// Control of [`farrington`]; `Default` is R's `algo.farrington` default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FarringtonControl {
    /// R `range` (0-based, half-open). `None`: R's default `(freq*b − w):n`, i.e. from index
    /// `freq*b − w − 1`; reference points before the series start are dropped, as in R.
    pub range: Option<Range<usize>>,
    /// R `b`: years back (default 5).
    pub b: usize,
    /// R `w`: half-window (default 3).
    pub w: usize,
    /// R `reweight` (default true; threshold fixed at 1).
    pub reweight: bool,
    /// R `alpha`: **two-sided** level, z = qnorm(1 − α/2) (default 0.05).
    pub alpha: f64,
    /// R `trend` (default true; kept only if significant at 5 %).
    pub trend: bool,
    /// R `limit54 = c(cases, periods)` (default (5, 4)).
    pub limit54: (u64, usize),
    /// R `powertrans` (default `"2/3"`).
    pub powertrans: PowerTransform,
}

impl Default for FarringtonControl {
    fn default() -> Self {
        FarringtonControl {
            range: None,
            b: 5,
            w: 3,
            reweight: true,
            alpha: 0.05,
            trend: true,
            limit54: (5, 4),
            powertrans: PowerTransform::TwoThirds,
        }
    }
}

/// R `refvalIdxByDate` for weekly data: the 2w+1 weeks around `t0` minus j years (j = 1..b),
/// each moved to the nearest date with `t0`'s weekday; dates outside the series are dropped.
fn reference_indices(series: &Series, k: usize, b: usize, w: usize) -> Vec<usize> {
    match series.axis() {
        TimeAxis::Weekly { .. } => {
            let Some(t0) = series.date(k) else {
                return Vec::new();
            };
            let wd0 = i64::from(t0.weekday().num_days_from_sunday());
            let mut out = Vec::new();
            for j in 1..=b {
                let Some(point) = minus_years(t0, j) else {
                    continue;
                };
                for m in -to_i64(w)..=to_i64(w) {
                    let Some(day) = add_days(point, 7 * m) else {
                        continue;
                    };
                    let wd = i64::from(day.weekday().num_days_from_sunday());
                    let forward = (wd0 - wd).rem_euclid(7);
                    let backward = (wd - wd0).rem_euclid(7);
                    let shift = if forward < backward {
                        forward
                    } else {
                        -backward
                    };
                    if let Some(index) = add_days(day, shift).and_then(|d| series.index_of(d)) {
                        out.push(index);
                    }
                }
            }
            out
        }
        TimeAxis::Indexed { freq } => {
            let mut out = Vec::new();
            for i in (1..=b).rev() {
                let centre = to_i64(k) - to_i64(i * freq);
                for m in -to_i64(w)..=to_i64(w) {
                    if let Ok(index) = usize::try_from(centre + m)
                        && index < series.len()
                    {
                        out.push(index);
                    }
                }
            }
            out
        }
    }
}

fn add_days(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    date.checked_add_signed(TimeDelta::try_days(days)?)
}

struct Model {
    fit: GlmFit,
    x0: Vec<f64>,
    with_trend: bool,
    phi: f64,
}

/// R `algo.farrington.fitGLM.fast`: unlike the flexible version it keeps a non-converged fit.
fn fit_model(
    y: &[f64],
    wtime: &[f64],
    wtime0: f64,
    with_trend: bool,
    reweight: bool,
) -> Option<Model> {
    let n = y.len();
    let design = |trend: bool| {
        let mut columns = vec![vec![1.0; n]];
        let mut x0 = vec![1.0];
        if trend {
            columns.push(wtime.to_vec());
            x0.push(wtime0);
        }
        (Design { columns }, x0)
    };
    let zeros = vec![0.0; n];
    let ones = vec![1.0; n];
    let (mut x, mut x0) = design(with_trend);
    let mut fit = glm::fit(&x, y, &ones, &zeros)?;
    let mut with_trend = with_trend;
    if !fit.converged && with_trend {
        with_trend = false;
        (x, x0) = design(false);
        fit = glm::fit(&x, y, &ones, &zeros)?;
    }
    let mut phi = floored_dispersion(&fit)?;
    if reweight {
        let s = anscombe_residuals(&fit, &x, y, phi);
        let omega = assign_weights(&s, WEIGHTS_THRESHOLD);
        fit = glm::fit(&x, y, &omega, &zeros)?;
        phi = floored_dispersion(&fit)?;
    }
    Some(Model {
        fit,
        x0,
        with_trend,
        phi,
    })
}

fn predict(series: &Series, k: usize, control: &FarringtonControl) -> Option<Prediction> {
    let mut y = Vec::new();
    let mut wtime = Vec::new();
    for index in reference_indices(series, k, control.b, control.w) {
        // R's glm.fit cannot take missing responses; they are left out here.
        if let Some(count) = series.count(index) {
            y.push(count as f64);
            wtime.push((index + 1) as f64);
        }
    }
    if y.is_empty() {
        return None;
    }
    let wtime0 = (k + 1) as f64;
    let mut model = fit_model(&y, &wtime, wtime0, control.trend, control.reweight)?;
    let mut trend_kept = false;
    if model.with_trend {
        // The trend test uses summary.glm's own (unfloored Pearson) dispersion.
        let fit = &model.fit;
        let p = if fit.aliased[1] {
            f64::NAN
        } else {
            let se = (fit.pearson_dispersion() * fit.cov_unscaled[1][1]).sqrt();
            pt_two_sided(fit.coefficients[1] / se, fit.df_residual as f64)
        };
        let mu_hat = fit.linear_predictor(&model.x0).exp().max(f64::EPSILON);
        let max_y = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        trend_kept = control.b >= 3 && p < P_THRESHOLD_TREND && mu_hat <= max_y;
        if !trend_kept {
            model = fit_model(&y, &wtime, wtime0, false, control.reweight)?;
        }
    }
    // predict.glm(..., dispersion = model$phi): the floored φ̂.
    let eta0 = model.fit.linear_predictor(&model.x0);
    let se_eta0 = (model.phi * model.fit.quadratic_form(&model.x0)).sqrt();
    let mu0 = eta0.exp().max(f64::EPSILON);
    let threshold = threshold_delta(
        mu0,
        mu0 * se_eta0,
        model.phi,
        control.powertrans,
        control.alpha / 2.0,
        series.count(k),
    );
    Some(Prediction {
        mu0,
        threshold,
        phi: model.phi,
        trend: trend_kept.then(|| model.fit.coefficients[1]),
        baseline_points: y.len(),
    })
}

/// Runs `algo.farrington` on `series` over the control's range.
///
/// Differences from R, all documented: missing counts in the baseline are dropped (R's
/// `glm.fit` would fail); `upperbound` is `None` rather than 0 when `limit54` suppresses;
/// `pvalue` is the upper tail P(N > y^e) rather than R's lower-tail `pd`.
pub fn farrington(
    series: &Series,
    control: &FarringtonControl,
) -> Result<Vec<AlarmRow>, DetectError> {
    if control.b == 0 {
        return Err(DetectError::control("b", "must be at least 1"));
    }
    check_alpha(control.alpha)?;
    check_limit54(control.limit54)?;
    let default_start = (series.freq() * control.b).saturating_sub(control.w + 1);
    let range = resolve_range(control.range.clone(), default_start, series.len())?;
    Ok(range
        .map(|k| finish_row(series, k, control.limit54, predict(series, k, control)))
        .collect())
}
