//! The result row every detector returns for each monitored time point.
//!
//! One shape for all methods lets the alerting service rank and store alarms without knowing
//! which detector produced them. Method-specific numbers (φ̂, the trend coefficient, the CUSUM
//! statistic) travel in [`MethodDetail`].

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The outcome for one monitored time point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmRow {
    /// Position in the series (0-based).
    pub index: usize,
    /// Date of the point, for weekly series.
    pub date: Option<NaiveDate>,
    /// Observed count (`None`: missing week, which never alarms).
    pub observed: Option<u64>,
    /// Expected count under "no outbreak" (Farrington μ0, EARS baseline mean, ...).
    pub expected: Option<f64>,
    /// Alarm threshold on the count scale: an alarm is `observed > upperbound`
    /// (except documented-C3 and the CUSUMs, whose alarms also depend on past weeks).
    /// `None` when R gives `NA` (e.g. Farrington's `limit54` suppression).
    pub upperbound: Option<f64>,
    /// Whether the point raises an alarm.
    pub alarm: bool,
    /// Exceedance score or chart statistic (method-specific; see [`MethodDetail`]).
    pub score: Option<f64>,
    /// Probability of a count at least as large as observed, under the method's
    /// predictive distribution, where the method defines one.
    pub pvalue: Option<f64>,
    /// Method-specific values.
    pub detail: MethodDetail,
}

/// Method-specific values of an [`AlarmRow`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MethodDetail {
    /// `algo.farrington` and `farringtonFlexible`.
    Farrington(FarringtonDetail),
    /// `earsC`.
    Ears(EarsDetail),
    /// `algo.bayes`.
    Bayes(BayesDetail),
    /// `algo.cusum`.
    Cusum(CusumDetail),
    /// `algo.glrnb` (LR-CUSUM with fixed κ, or GLR).
    Glr(GlrDetail),
}

/// Farrington details (R's `control$phiVector`, `trendVector`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FarringtonDetail {
    /// Whether a model could be fitted (R gives an all-`NA` row with a warning otherwise).
    pub fitted: bool,
    /// Floored dispersion φ̂ = max(1, Pearson φ) (R `phiVector`).
    pub phi: Option<f64>,
    /// Trend coefficient β1 per week if the trend was kept (R `trendVector`), else `None`.
    pub trend: Option<f64>,
    /// Lower bound of the prediction interval.
    pub lower: Option<f64>,
    /// Whether `limit54` found enough cases (`None` if a week in its window is missing).
    pub enough_cases: Option<bool>,
    /// Number of baseline points in the GLM.
    pub baseline_points: usize,
}

/// EARS details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarsDetail {
    /// The σ used: max(sample SD of the baseline, `minSigma`).
    pub sigma: Option<f64>,
    /// Non-missing baseline values used.
    pub baseline_points: usize,
}

/// Bayes details: the negative-binomial predictive distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BayesDetail {
    /// NB `size` = sum of reference values + 1/2.
    pub size: f64,
    /// NB `prob` = n / (n + 1).
    pub prob: f64,
    /// Non-missing reference values used.
    pub baseline_points: usize,
}

/// CUSUM details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CusumDetail {
    /// In-control mean `m` at this point.
    pub m: f64,
    /// Standardised observation `z_t` (`None` for a missing week).
    pub standardized: Option<f64>,
    /// The CUSUM `S_t`.
    pub cusum: f64,
}

/// GLR / LR-CUSUM details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlrDetail {
    /// In-control mean μ0,t.
    pub mu0: f64,
    /// Chart statistic (R `ret = "value"`).
    pub statistic: f64,
    /// Whether the chart was restarted after this point (it alarmed).
    pub restarted: bool,
}
