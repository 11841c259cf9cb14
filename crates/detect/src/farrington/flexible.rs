//! `farringtonFlexible` (R `surveillance`, Noufaily et al. 2013): the quasi-Poisson GLM on
//! reference windows of past years, optionally with a `noPeriods`-level season factor over the
//! whole year, a gap of `pastWeeksNotIncluded` recent weeks, down-weighting of past outbreaks,
//! a trend test and a delta-method or negative-binomial threshold.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::{
    PowerTransform, Prediction, ThresholdMethod, anscombe_residuals, assign_weights, blocks,
    check_alpha, check_limit54, finish_row, reference_points, resolve_range, threshold_delta,
    threshold_nb,
};
use crate::glm::{self, Design, GlmFit};
use crate::stats::pt_two_sided;
use crate::{AlarmRow, DetectError, Series, TimeAxis};

/// Control of [`farrington_flexible`]; `Default` is R's `farringtonFlexible` default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FarringtonFlexibleControl {
    /// R `range`: monitored indices (0-based, half-open). `None`: R's default
    /// `(freq*b + w + 1):n`, i.e. from index `freq*b + w`.
    pub range: Option<Range<usize>>,
    /// R `b`: years back (default 5).
    pub b: usize,
    /// R `w`: half-window around each reference week (default 3).
    pub w: usize,
    /// R `reweight`: down-weight past outbreaks by Anscombe residuals (default true).
    pub reweight: bool,
    /// R `weightsThreshold`: residuals above it are down-weighted (default 2.58).
    pub weights_threshold: f64,
    /// R `alpha`: one-sided level, z = qnorm(1 − α) (default 0.05).
    pub alpha: f64,
    /// R `trend`: try a linear time trend (default true).
    pub trend: bool,
    /// R `pThresholdTrend`: keep the trend only if its t-test p-value is below (default 0.05).
    pub p_threshold_trend: f64,
    /// R `limit54 = c(cases, periods)`: no alarm unless the last `periods` points (current
    /// included) sum to at least `cases` (default (5, 4)).
    pub limit54: (u64, usize),
    /// R `powertrans` for the `"delta"` threshold (default `"2/3"`).
    pub powertrans: PowerTransform,
    /// R `populationOffset`: add `offset(log(population))` (default false).
    pub population_offset: bool,
    /// R `noPeriods`: levels of the season factor; 1 means reference windows only (default 1).
    pub no_periods: usize,
    /// R `pastWeeksNotIncluded`: recent points left out of the fit; `None` = `w` (default).
    pub past_weeks_not_included: Option<usize>,
    /// R `thresholdMethod` (default `"delta"`).
    pub threshold_method: ThresholdMethod,
    /// Reproduce R's numerical quirks (alerting.md §1.6): the dispersion
    /// φ̃ = Σω(y−μ̂)²/μ̂²/(n−p) for the trend test and `se.fit` after reweighting (quirk 1),
    /// the NB score on the log scale (quirk 3) and the prediction's time origin after dropping
    /// missing weeks (quirk 5). Default true, so results match R; with false, se.fit uses φ̂,
    /// the trend test the Pearson φ, and scores the count scale.
    pub r_compatible: bool,
}

impl Default for FarringtonFlexibleControl {
    fn default() -> Self {
        FarringtonFlexibleControl {
            range: None,
            b: 5,
            w: 3,
            reweight: true,
            weights_threshold: 2.58,
            alpha: 0.05,
            trend: true,
            p_threshold_trend: 0.05,
            limit54: (5, 4),
            powertrans: PowerTransform::TwoThirds,
            population_offset: false,
            no_periods: 1,
            past_weeks_not_included: None,
            threshold_method: ThresholdMethod::Delta,
            r_compatible: true,
        }
    }
}

impl FarringtonFlexibleControl {
    /// The recommended weekly configuration (alerting.md §0.1, Noufaily 2013): `b=5, w=3,
    /// noPeriods=10, pastWeeksNotIncluded=26, weightsThreshold=2.58, pThresholdTrend=1,
    /// thresholdMethod="nbPlugin", alpha=0.01, limit54=c(5,4)`. Not R's default.
    pub fn noufaily() -> Self {
        FarringtonFlexibleControl {
            no_periods: 10,
            past_weeks_not_included: Some(26),
            p_threshold_trend: 1.0,
            threshold_method: ThresholdMethod::NbPlugin,
            alpha: 0.01,
            ..Self::default()
        }
    }

    fn validate(&self, series: &Series) -> Result<(), DetectError> {
        if self.b == 0 {
            return Err(DetectError::control("b", "must be at least 1"));
        }
        if self.no_periods == 0 {
            return Err(DetectError::control("noPeriods", "must be at least 1"));
        }
        check_alpha(self.alpha)?;
        check_limit54(self.limit54)?;
        if self.weights_threshold.is_nan() || self.p_threshold_trend.is_nan() {
            return Err(DetectError::control("weightsThreshold", "must be a number"));
        }
        if self.population_offset && series.population().is_none() {
            return Err(DetectError::control(
                "populationOffset",
                "the series has no population",
            ));
        }
        Ok(())
    }
}

/// The data set of `algo.farrington.data.glm` for one monitored point.
struct GlmData {
    y: Vec<f64>,
    wtime: Vec<f64>,
    /// Factor level of each row.
    level: Vec<usize>,
    /// Sorted levels present before rows with missing counts were dropped (R keeps them).
    levels: Vec<usize>,
    offset: Vec<f64>,
    wtime0: f64,
    offset0: f64,
}

fn glm_data(
    series: &Series,
    k: usize,
    control: &FarringtonFlexibleControl,
) -> Result<GlmData, DetectError> {
    let refs = reference_points(series, k, control.b)?;
    let factor = blocks(series.len(), &refs, control.w, control.no_periods)?;
    let pwni = control.past_weeks_not_included.unwrap_or(control.w);
    let mut selected = factor.clone();
    for slot in selected.iter_mut().take(k + 1).skip(k.saturating_sub(pwni)) {
        *slot = None;
    }
    let indices: Vec<usize> = (0..series.len())
        .filter(|&i| selected[i].is_some())
        .collect();
    let mut levels: Vec<usize> = indices.iter().filter_map(|&i| factor[i]).collect();
    levels.sort_unstable();
    levels.dedup();

    let time = |i: usize, origin: usize| -> f64 {
        match series.axis() {
            TimeAxis::Weekly { .. } => (i as f64) - (origin as f64),
            TimeAxis::Indexed { .. } => (i + 1) as f64,
        }
    };
    let first_selected = indices.first().copied().unwrap_or(0);
    let population = series.population().filter(|_| control.population_offset);
    let log_pop = |i: usize| population.map_or(0.0, |p| p[i].ln());
    let mut data = GlmData {
        y: Vec::new(),
        wtime: Vec::new(),
        level: Vec::new(),
        levels,
        offset: Vec::new(),
        wtime0: 0.0,
        offset0: log_pop(k),
    };
    let mut first_kept: Option<usize> = None;
    for &i in &indices {
        let (Some(y), Some(level)) = (series.count(i), factor[i]) else {
            continue;
        };
        first_kept.get_or_insert(i);
        data.y.push(y as f64);
        data.wtime.push(time(i, first_selected));
        data.level.push(level);
        data.offset.push(log_pop(i));
    }
    // R quirk 5: the prediction's origin is the first row after dropping missing counts.
    let origin0 = if control.r_compatible {
        first_kept.unwrap_or(first_selected)
    } else {
        first_selected
    };
    data.wtime0 = time(k, origin0);
    Ok(data)
}

/// Model matrix of `response ~ 1 [+ wtime] [+ seasgroups]` and the prediction row.
fn design(
    data: &GlmData,
    with_trend: bool,
    factors: bool,
    no_periods: usize,
) -> (Design, Vec<f64>) {
    let n = data.y.len();
    let mut columns = vec![vec![1.0; n]];
    let mut x0 = vec![1.0];
    if with_trend {
        columns.push(data.wtime.clone());
        x0.push(data.wtime0);
    }
    if factors {
        // Treatment contrasts: the smallest level present is the reference.
        for &level in data.levels.iter().skip(1) {
            columns.push(
                data.level
                    .iter()
                    .map(|&l| f64::from(u8::from(l == level)))
                    .collect(),
            );
            x0.push(f64::from(u8::from(level == no_periods)));
        }
    }
    (Design { columns }, x0)
}

struct Model {
    fit: GlmFit,
    x0: Vec<f64>,
    with_trend: bool,
    /// Floored dispersion φ̂ (threshold and NB size).
    phi: f64,
    /// Dispersion used by `summary.glm` for the trend test.
    phi_trend: f64,
    /// Dispersion used by `predict.glm` for `se.fit`.
    phi_se: f64,
}

/// R `algo.farrington.fitGLM.flexible`: fit, refit without trend if needed, reweight, refit.
fn fit_model(
    data: &GlmData,
    control: &FarringtonFlexibleControl,
    with_trend: bool,
) -> Option<Model> {
    let factors = control.no_periods != 1;
    let ones = vec![1.0; data.y.len()];
    let (mut x, mut x0) = design(data, with_trend, factors, control.no_periods);
    let mut fit = glm::fit(&x, &data.y, &ones, &data.offset)?;
    let mut with_trend = with_trend;
    if !fit.converged {
        if !with_trend {
            return None;
        }
        with_trend = false;
        (x, x0) = design(data, false, factors, control.no_periods);
        fit = glm::fit(&x, &data.y, &ones, &data.offset)?;
        if !fit.converged {
            return None;
        }
    }
    let mut phi = floored_dispersion(&fit)?;
    let mut prior = ones;
    if control.reweight {
        let s = anscombe_residuals(&fit, &x, &data.y, phi);
        prior = assign_weights(&s, control.weights_threshold);
        // R does not check convergence of the reweighted fit.
        fit = glm::fit(&x, &data.y, &prior, &data.offset)?;
        phi = floored_dispersion(&fit)?;
    }
    let (phi_trend, phi_se) = if control.r_compatible {
        // Quirk 1: model$weights is overwritten with ω after reweighting, and summary.glm /
        // predict.glm then estimate the dispersion from it.
        let quirky = if control.reweight {
            fit.dispersion_with(&prior)
        } else {
            fit.pearson_dispersion()
        };
        (quirky, quirky)
    } else {
        (fit.pearson_dispersion(), phi)
    };
    Some(Model {
        fit,
        x0,
        with_trend,
        phi,
        phi_trend,
        phi_se,
    })
}

/// φ̂ = max(1, Pearson φ); `None` without residual degrees of freedom (R: `NaN` everywhere).
pub(crate) fn floored_dispersion(fit: &GlmFit) -> Option<f64> {
    let phi = fit.pearson_dispersion();
    (!phi.is_nan()).then(|| phi.max(1.0))
}

/// Two-sided t-test p-value of the `wtime` coefficient (NaN when aliased or df = 0).
fn trend_p_value(model: &Model) -> f64 {
    if !model.with_trend || model.fit.aliased[1] {
        return f64::NAN;
    }
    let se = (model.phi_trend * model.fit.cov_unscaled[1][1]).sqrt();
    pt_two_sided(model.fit.coefficients[1] / se, model.fit.df_residual as f64)
}

/// R `algo.farrington.glm` + threshold for one monitored point.
fn predict(
    data: &GlmData,
    control: &FarringtonFlexibleControl,
    y: Option<u64>,
) -> Option<Prediction> {
    if data.y.is_empty() {
        return None;
    }
    let mut model = fit_model(data, control, control.trend)?;
    let mut trend_kept = false;
    if model.with_trend {
        let eta = model.fit.linear_predictor(&model.x0) + data.offset0;
        let mu_now = eta.exp().max(f64::EPSILON);
        let max_y = data.y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // A NaN p-value (R: NA, which makes R fail) counts as not significant.
        let significant = trend_p_value(&model) < control.p_threshold_trend;
        trend_kept = control.b >= 3 && significant && mu_now <= max_y;
        if !trend_kept {
            model = fit_model(data, control, false)?;
        }
    }
    let eta0 = model.fit.linear_predictor(&model.x0) + data.offset0;
    let se_eta0 = (model.phi_se * model.fit.quadratic_form(&model.x0)).sqrt();
    let mu0 = eta0.exp().max(f64::EPSILON);
    let threshold = match control.threshold_method {
        ThresholdMethod::Delta => threshold_delta(
            mu0,
            mu0 * se_eta0,
            model.phi,
            control.powertrans,
            control.alpha,
            y,
        ),
        method => threshold_nb(
            eta0,
            se_eta0,
            model.phi,
            method,
            control.alpha,
            y,
            control.r_compatible,
        ),
    };
    Some(Prediction {
        mu0,
        threshold,
        phi: model.phi,
        trend: trend_kept.then(|| model.fit.coefficients[1]),
        baseline_points: data.y.len(),
    })
}

/// Runs `farringtonFlexible` on `series` over the control's range.
///
/// Errors where R stops: a reference point (`t − i` years, `i ≤ b`) outside the series, a
/// `noPeriods` too large for the gaps between windows, bad control values. A point whose GLM
/// does not converge (with or without trend) gives a row with `fitted = false` and no alarm,
/// as R's `NA` row.
pub fn farrington_flexible(
    series: &Series,
    control: &FarringtonFlexibleControl,
) -> Result<Vec<AlarmRow>, DetectError> {
    control.validate(series)?;
    let default_start = series.freq() * control.b + control.w;
    let range = resolve_range(control.range.clone(), default_start, series.len())?;
    let mut rows = Vec::with_capacity(range.len());
    for k in range {
        let data = glm_data(series, k, control)?;
        let prediction = predict(&data, control, series.count(k));
        rows.push(finish_row(series, k, control.limit54, prediction));
    }
    Ok(rows)
}
