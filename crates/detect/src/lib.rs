//! Outbreak-detection statistics for cyberflag: which weeks of a force's count series are
//! sudden rises.
//!
//! A pure library (no I/O, no async) re-deriving the algorithms of the R package
//! `surveillance` 1.26.0 from its sources and papers, so that thresholds and alarms match
//! R's where R is the reference:
//!
//! - [`farrington_flexible`] (`farringtonFlexible`, Noufaily et al. 2013) — the primary
//!   detector, with [`FarringtonFlexibleControl::noufaily`] as the recommended configuration;
//! - [`farrington()`] (`algo.farrington`, Farrington et al. 1996);
//! - [`ears`] (`earsC`: C1, C2, C3) for series with under a year of history;
//! - [`bayes`] (`algo.bayes`) and [`cusum`] (`algo.cusum`);
//! - [`glrnb`] (`algo.glrnb`): NB likelihood-ratio CUSUM for sustained rises;
//! - [`rate_ratio_test`]: the exact year-on-year (conditional binomial) test.
//!
//! Every detector takes a [`Series`] (missing weeks are `None`, never zero) and a control
//! struct whose `Default` is R's default for that function, and returns one [`AlarmRow`] per
//! monitored point. Bad input is a [`DetectError`], never a panic.
#![warn(missing_docs)]

mod bayes;
mod cusum;
mod ears;
mod error;
pub mod farrington;
mod glm;
mod glrnb;
pub mod quality;
mod rate_ratio;
mod row;
pub mod scan;
mod series;
mod stats;
#[cfg(test)]
mod testdata;

pub use bayes::{BayesControl, bayes};
pub use cusum::{CusumControl, CusumMean, CusumTransform, cusum};
pub use ears::{EarsControl, EarsMethod, ears};
pub use error::DetectError;
pub use farrington::flexible::{FarringtonFlexibleControl, farrington_flexible};
pub use farrington::original::{FarringtonControl, farrington};
pub use farrington::{PowerTransform, Threshold, ThresholdMethod, threshold_delta, threshold_nb};
pub use glrnb::{GlrDirection, GlrnbControl, Mu0, glrnb};
pub use rate_ratio::{RateRatioTest, rate_ratio_test, rate_ratio_test_with_exposure};
pub use row::{
    AlarmRow, BayesDetail, CusumDetail, EarsDetail, FarringtonDetail, GlrDetail, MethodDetail,
};
pub use series::{Series, TimeAxis};
