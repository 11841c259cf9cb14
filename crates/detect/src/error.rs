//! Typed errors of the detectors: bad input data and bad control parameters.
//!
//! Detectors never panic on input. Everything the R package `surveillance` would `stop()` on
//! (too little history for `b` and `w`, a reference week that does not exist, an out-of-bounds
//! `limit54`) is an error here, so that a caller can branch on it per series.

use thiserror::Error;

/// Why a detector or a series constructor refused its input.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum DetectError {
    /// A count was negative (counts of recorded crimes cannot be).
    #[error("negative count {value} at index {index}")]
    NegativeCount {
        /// Position in the series (0-based).
        index: usize,
        /// The offending value.
        value: i64,
    },
    /// Dated points are not on one weekly grid (same weekday, whole weeks apart).
    #[error("date {date} at index {index} is not a whole number of weeks after {start}")]
    NotWeekly {
        /// Position in the input (0-based).
        index: usize,
        /// The offending date.
        date: chrono::NaiveDate,
        /// The first date of the series.
        start: chrono::NaiveDate,
    },
    /// Dated points are not strictly increasing.
    #[error("date at index {index} is not after the previous date")]
    UnorderedDates {
        /// Position in the input (0-based).
        index: usize,
    },
    /// The series has no time points.
    #[error("series is empty")]
    EmptySeries,
    /// A population value is not positive and finite (it enters the model as `log(population)`).
    #[error("population at index {index} is not positive and finite")]
    InvalidPopulation {
        /// Position in the series (0-based).
        index: usize,
    },
    /// Two inputs that must have the same length do not.
    #[error("length mismatch for {what}: expected {expected}, got {actual}")]
    LengthMismatch {
        /// Which input.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Given length.
        actual: usize,
    },
    /// A monitored time point has too little history before it for the method's parameters.
    #[error(
        "not enough history at index {index}: {needed} earlier time points needed, {available} available"
    )]
    InsufficientHistory {
        /// Monitored time point (0-based).
        index: usize,
        /// Earlier time points the method needs.
        needed: usize,
        /// Earlier time points the series has.
        available: usize,
    },
    /// A reference time point `years` years before `index` is not in the series
    /// (R: "Some reference time points did not exist; decrease 'b' or postpone 'range'").
    #[error(
        "reference time point {years} year(s) before index {index} does not exist: decrease b or postpone the range"
    )]
    MissingReferencePoint {
        /// Monitored time point (0-based).
        index: usize,
        /// How many years back.
        years: usize,
    },
    /// The monitored range is empty or reaches past the end of the series.
    #[error("range {start}..{end} is not within a series of length {len}")]
    RangeOutOfBounds {
        /// First monitored index (0-based, inclusive).
        start: usize,
        /// End of the range (exclusive).
        end: usize,
        /// Series length.
        len: usize,
    },
    /// The gap between two reference windows is too short for `noPeriods` blocks
    /// (R: "Number of factors too big!").
    #[error(
        "noPeriods = {no_periods} is too large: the gap before reference window at index {index} has {period} time points"
    )]
    TooManyPeriods {
        /// `noPeriods`.
        no_periods: usize,
        /// Reference time point whose following gap is too short (0-based).
        index: usize,
        /// Length of that gap.
        period: i64,
    },
    /// A control parameter is out of its domain.
    #[error("invalid control parameter {name}: {reason}")]
    InvalidControl {
        /// Parameter name, as in R.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The in-control mean of a CUSUM is zero, so counts cannot be standardised.
    #[error("in-control mean is {mean} at index {index}: counts cannot be standardised")]
    DegenerateBaseline {
        /// Monitored time point (0-based).
        index: usize,
        /// The in-control mean.
        mean: f64,
    },
    /// The combination of options is one that R does not implement either.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
}

impl DetectError {
    /// Shorthand for [`DetectError::InvalidControl`].
    pub(crate) fn control(name: &'static str, reason: impl Into<String>) -> Self {
        DetectError::InvalidControl {
            name,
            reason: reason.into(),
        }
    }
}
