//! The count series that every detector reads: weekly counts on a date grid, with gaps.
//!
//! A missing week is `None`, never zero: a force that did not report is "no data". This is how
//! R's `surveillance` treats `NA`: `farringtonFlexible` drops NA weeks from the GLM baseline,
//! `algo.bayes` sums the non-NA reference values, and a NA in the monitored week gives no alarm.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::DetectError;

/// How time points are located in calendar time.
///
/// R's `sts` objects either carry dates (`epochAsDate = TRUE`), in which case Farrington finds
/// reference weeks by calendar year, or plain indices with a frequency, in which case the
/// reference point `i` years back is `t - i * freq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeAxis {
    /// Consecutive weeks starting at `start` (R: weekly `sts` with `epochAsDate = TRUE`,
    /// `freq = 52`). Point `i` is dated `start + 7 i` days.
    Weekly {
        /// Date of the first point (any weekday; all points share it).
        start: NaiveDate,
    },
    /// Undated points with `freq` points per year (R: `epochAsDate = FALSE`). Use this for
    /// monthly data (`freq = 12`).
    Indexed {
        /// Points per year.
        freq: usize,
    },
}

/// A count series: one `Option<u64>` per time point, optional population denominators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    counts: Vec<Option<u64>>,
    axis: TimeAxis,
    population: Option<Vec<f64>>,
}

impl Series {
    /// A weekly series starting at `start`; `None` marks a missing week.
    pub fn weekly(start: NaiveDate, counts: Vec<Option<u64>>) -> Self {
        Series {
            counts,
            axis: TimeAxis::Weekly { start },
            population: None,
        }
    }

    /// A weekly series without missing weeks.
    pub fn weekly_complete(start: NaiveDate, counts: &[u64]) -> Self {
        Self::weekly(start, counts.iter().copied().map(Some).collect())
    }

    /// A weekly series from signed counts (as a database may return them); a negative count
    /// is an error, not a silent zero.
    pub fn weekly_signed(start: NaiveDate, counts: &[Option<i64>]) -> Result<Self, DetectError> {
        Ok(Self::weekly(start, to_unsigned(counts)?))
    }

    /// A weekly series from dated points in increasing date order. Weeks absent from the input
    /// become missing (`None`), so a gap in reporting is not read as zero crimes.
    pub fn weekly_from_dated(points: &[(NaiveDate, Option<i64>)]) -> Result<Self, DetectError> {
        let Some(&(start, _)) = points.first() else {
            return Err(DetectError::EmptySeries);
        };
        let mut counts: Vec<Option<u64>> = Vec::with_capacity(points.len());
        let mut previous: Option<NaiveDate> = None;
        for (index, &(date, value)) in points.iter().enumerate() {
            if previous.is_some_and(|p| date <= p) {
                return Err(DetectError::UnorderedDates { index });
            }
            previous = Some(date);
            let days = (date - start).num_days();
            if days % 7 != 0 {
                return Err(DetectError::NotWeekly { index, date, start });
            }
            let week =
                usize::try_from(days / 7).map_err(|_| DetectError::UnorderedDates { index })?;
            let value = match value {
                Some(v) if v < 0 => return Err(DetectError::NegativeCount { index, value: v }),
                Some(v) => Some(v.unsigned_abs()),
                None => None,
            };
            counts.resize(week, None);
            counts.push(value);
        }
        Ok(Self::weekly(start, counts))
    }

    /// An undated series with `freq` points per year (R `epochAsDate = FALSE`).
    pub fn indexed(freq: usize, counts: Vec<Option<u64>>) -> Result<Self, DetectError> {
        if freq == 0 {
            return Err(DetectError::control("freq", "must be at least 1"));
        }
        Ok(Series {
            counts,
            axis: TimeAxis::Indexed { freq },
            population: None,
        })
    }

    /// Attaches population denominators, used by Farrington's `populationOffset`.
    pub fn with_population(mut self, population: Vec<f64>) -> Result<Self, DetectError> {
        if population.len() != self.counts.len() {
            return Err(DetectError::LengthMismatch {
                what: "population",
                expected: self.counts.len(),
                actual: population.len(),
            });
        }
        if let Some(index) = population.iter().position(|p| !(p.is_finite() && *p > 0.0)) {
            return Err(DetectError::InvalidPopulation { index });
        }
        self.population = Some(population);
        Ok(self)
    }

    /// Number of time points.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether the series has no time points.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// All counts, `None` where missing.
    pub fn counts(&self) -> &[Option<u64>] {
        &self.counts
    }

    /// The count at `index` (`None` if missing or out of range).
    pub fn count(&self, index: usize) -> Option<u64> {
        self.counts.get(index).copied().flatten()
    }

    /// The time axis.
    pub fn axis(&self) -> TimeAxis {
        self.axis
    }

    /// Population denominators, if attached.
    pub fn population(&self) -> Option<&[f64]> {
        self.population.as_deref()
    }

    /// Points per year: 52 for weekly series (as R's weekly `sts`), `freq` otherwise.
    pub fn freq(&self) -> usize {
        match self.axis {
            TimeAxis::Weekly { .. } => 52,
            TimeAxis::Indexed { freq } => freq,
        }
    }

    /// Date of point `index` for weekly series.
    pub fn date(&self, index: usize) -> Option<NaiveDate> {
        match self.axis {
            TimeAxis::Weekly { start } => {
                let days = i64::try_from(index).ok()?.checked_mul(7)?;
                start.checked_add_signed(chrono::TimeDelta::try_days(days)?)
            }
            TimeAxis::Indexed { .. } => None,
        }
    }

    /// Index of the point dated `date` in a weekly series, if it is one of its weeks.
    pub fn index_of(&self, date: NaiveDate) -> Option<usize> {
        match self.axis {
            TimeAxis::Weekly { start } => {
                let days = (date - start).num_days();
                if days < 0 || days % 7 != 0 {
                    return None;
                }
                let index = usize::try_from(days / 7).ok()?;
                (index < self.counts.len()).then_some(index)
            }
            TimeAxis::Indexed { .. } => None,
        }
    }

    /// Position of the first point within its year (R's `start[2]`): the ISO week of the first
    /// date for weekly series, 1 for undated series. Used for harmonic in-control models.
    pub(crate) fn start_period(&self) -> usize {
        match self.axis {
            TimeAxis::Weekly { start } => start.iso_week().week() as usize,
            TimeAxis::Indexed { .. } => 1,
        }
    }

    /// Sum of the counts in `from..=to` (indices clamped at 0), or `None` if any is missing.
    pub(crate) fn window_sum(&self, from: i64, to: usize) -> Option<u64> {
        let from = usize::try_from(from.max(0)).unwrap_or(0);
        let mut sum: u64 = 0;
        for i in from..=to {
            sum = sum.saturating_add(self.counts.get(i).copied().flatten()?);
        }
        Some(sum)
    }
}

fn to_unsigned(counts: &[Option<i64>]) -> Result<Vec<Option<u64>>, DetectError> {
    counts
        .iter()
        .enumerate()
        .map(|(index, c)| match *c {
            Some(v) if v < 0 => Err(DetectError::NegativeCount { index, value: v }),
            Some(v) => Ok(Some(v.unsigned_abs())),
            None => Ok(None),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dated_points_fill_gaps_with_missing() {
        let s = Series::weekly_from_dated(&[
            (d(2024, 1, 1), Some(3)),
            (d(2024, 1, 15), Some(0)),
            (d(2024, 1, 22), None),
        ])
        .unwrap();
        assert_eq!(s.counts(), &[Some(3), None, Some(0), None]);
        assert_eq!(s.date(2), Some(d(2024, 1, 15)));
        assert_eq!(s.index_of(d(2024, 1, 22)), Some(3));
        assert_eq!(s.index_of(d(2024, 1, 23)), None);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        type Case = (Vec<(NaiveDate, Option<i64>)>, DetectError);
        let cases: Vec<Case> = vec![
            (vec![], DetectError::EmptySeries),
            (
                vec![(d(2024, 1, 1), Some(-1))],
                DetectError::NegativeCount {
                    index: 0,
                    value: -1,
                },
            ),
            (
                vec![(d(2024, 1, 8), Some(1)), (d(2024, 1, 1), Some(1))],
                DetectError::UnorderedDates { index: 1 },
            ),
            (
                vec![(d(2024, 1, 1), Some(1)), (d(2024, 1, 9), Some(1))],
                DetectError::NotWeekly {
                    index: 1,
                    date: d(2024, 1, 9),
                    start: d(2024, 1, 1),
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Series::weekly_from_dated(&input), Err(expected));
        }
        assert_eq!(
            Series::weekly_signed(d(2024, 1, 1), &[Some(1), Some(-5)]),
            Err(DetectError::NegativeCount {
                index: 1,
                value: -5
            })
        );
        let s = Series::weekly_complete(d(2024, 1, 1), &[1, 2]);
        assert_eq!(
            s.clone().with_population(vec![1.0]),
            Err(DetectError::LengthMismatch {
                what: "population",
                expected: 2,
                actual: 1
            })
        );
        assert_eq!(
            s.with_population(vec![1.0, 0.0]),
            Err(DetectError::InvalidPopulation { index: 1 })
        );
        assert!(Series::indexed(0, vec![]).is_err());
    }

    #[test]
    fn window_sum_is_unknown_when_a_week_is_missing() {
        let s = Series::weekly(d(2024, 1, 1), vec![Some(1), Some(2), None, Some(4)]);
        assert_eq!(s.window_sum(-2, 1), Some(3));
        assert_eq!(s.window_sum(0, 3), None);
    }
}
