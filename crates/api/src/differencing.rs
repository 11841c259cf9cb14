//! The differencing attack on published intervals, as a pure solver: what an attacker can
//! deduce about each cell of a row of cells (days of a month, months of a year, the offence
//! groups of each month in turn) from any number of published figures that each cover a
//! contiguous run of those cells.
//!
//! Every published figure stands for an interval of true values (`0` for 0, a suppressed figure
//! for 1–7, a perturbed one for its published `low..=high`). With prefix sums
//! `P_0 = 0, P_i = x_1 + … + x_i`, a figure over cells `a..=b` with interval `[lo, hi]` is two
//! difference constraints, `P_b − P_{a−1} ≤ hi` and `P_{a−1} − P_b ≤ −lo`, and every cell is
//! non-negative, `P_{i−1} − P_i ≤ 0`. The tightest bounds any combination of the figures
//! implies — sums, differences, chains of overlapping windows — are shortest paths in the
//! constraint graph: `x_i ≤ dist(i−1 → i)` and `x_i ≥ −dist(i → i−1)`. A cell is
//! *determined* when the two meet. Nothing tighter can be derived from intervals on sums: the
//! bounds are attained by feasible assignments (a system of difference constraints is feasible
//! iff its graph has no negative cycle, and then each shortest-path bound is attained).
//!
//! Used by the tests: on the rounding rule this API used to apply it pins down most small
//! cells; on the published figures of [`crate::disclosure`] it must pin down none.

/// A published figure: the true sum of cells `first..=last` (0-based) lies in `low..=high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First cell covered.
    pub first: usize,
    /// Last cell covered (inclusive).
    pub last: usize,
    /// Smallest true sum consistent with the figure.
    pub low: i64,
    /// Largest true sum consistent with the figure.
    pub high: i64,
}

/// The tightest bounds on one cell; `high` is `None` when nothing bounds it from above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Smallest value consistent with every figure.
    pub low: i64,
    /// Largest value consistent with every figure, if any figure bounds it.
    pub high: Option<i64>,
}

impl Bounds {
    /// Whether exactly one value is consistent with every figure.
    pub fn determined(&self) -> bool {
        self.high == Some(self.low)
    }
}

/// The figures contradict each other: no assignment of non-negative cells satisfies all of
/// them (the attacker's reading of the figures is wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the published intervals are inconsistent (a negative cycle through prefix {0})")]
pub struct Inconsistent(pub usize);

/// The tightest bounds on each of `cells` non-negative cells implied by `windows`.
///
/// Floyd–Warshall over the `cells + 1` prefix sums: `O(cells³)`, fine for the few hundred
/// cells of an attack on one series.
pub fn tightest_bounds(cells: usize, windows: &[Window]) -> Result<Vec<Bounds>, Inconsistent> {
    const NONE: i64 = i64::MAX;
    let n = cells + 1;
    let mut dist = vec![NONE; n * n];
    let edge = |from: usize, to: usize, weight: i64, dist: &mut [i64]| {
        let d = &mut dist[from * n + to];
        *d = (*d).min(weight);
    };
    for v in 0..n {
        edge(v, v, 0, &mut dist);
    }
    for i in 0..cells {
        // x_i ≥ 0: P_i − P_{i+1} ≤ 0.
        edge(i + 1, i, 0, &mut dist);
    }
    for w in windows
        .iter()
        .filter(|w| w.first <= w.last && w.last < cells)
    {
        edge(w.first, w.last + 1, w.high, &mut dist);
        edge(w.last + 1, w.first, -w.low, &mut dist);
    }
    for k in 0..n {
        for i in 0..n {
            let ik = dist[i * n + k];
            if ik == NONE {
                continue;
            }
            for j in 0..n {
                let kj = dist[k * n + j];
                if kj != NONE && ik + kj < dist[i * n + j] {
                    dist[i * n + j] = ik + kj;
                }
            }
        }
    }
    if let Some(v) = (0..n).find(|&v| dist[v * n + v] < 0) {
        return Err(Inconsistent(v));
    }
    Ok((0..cells)
        .map(|i| {
            let up = dist[i * n + i + 1];
            let down = dist[(i + 1) * n + i];
            Bounds {
                low: -down,
                high: (up != NONE).then_some(up),
            }
        })
        .collect())
}

/// What an attack achieved against the truth: the cells with a true count in `small` that it
/// determined, out of all such cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Indices of cells with a small true count that the bounds pin down.
    pub determined: Vec<usize>,
    /// Cells with a small true count.
    pub small: usize,
}

/// Checks `bounds` against the `truth` (they must contain it: a bound that excludes the true
/// value means the figures were read wrongly, and is reported as an error) and counts the small
/// cells they determine.
pub fn judge(
    bounds: &[Bounds],
    truth: &[u64],
    small: std::ops::RangeInclusive<u64>,
) -> Result<Outcome, String> {
    let mut outcome = Outcome {
        determined: Vec::new(),
        small: 0,
    };
    for (i, (b, &t)) in bounds.iter().zip(truth).enumerate() {
        let t = i64::try_from(t).map_err(|e| e.to_string())?;
        if t < b.low || b.high.is_some_and(|h| t > h) {
            return Err(format!(
                "cell {i}: true value {t} outside the derived bounds {b:?}"
            ));
        }
        if small.contains(&(t as u64)) {
            outcome.small += 1;
            if b.determined() {
                outcome.determined.push(i);
            }
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(first: usize, last: usize, low: i64, high: i64) -> Window {
        Window {
            first,
            last,
            low,
            high,
        }
    }

    #[test]
    fn a_cell_is_the_difference_of_two_exact_windows() {
        // x0 + x1 = 5 and x0 = 2 exactly: x1 = 3.
        let bounds = tightest_bounds(2, &[window(0, 1, 5, 5), window(0, 0, 2, 2)]).unwrap();
        assert_eq!(
            bounds,
            [
                Bounds {
                    low: 2,
                    high: Some(2)
                },
                Bounds {
                    low: 3,
                    high: Some(3)
                }
            ]
        );
    }

    #[test]
    fn an_unbounded_cell_has_no_upper_bound_and_never_counts_as_determined() {
        let bounds = tightest_bounds(2, &[window(0, 0, 3, 3)]).unwrap();
        assert_eq!(bounds[1], Bounds { low: 0, high: None });
        assert!(!bounds[1].determined());
    }

    #[test]
    fn contradictory_windows_are_reported() {
        let error = tightest_bounds(1, &[window(0, 0, 5, 5), window(0, 0, 7, 9)]).unwrap_err();
        assert!(error.to_string().contains("inconsistent"));
    }

    #[test]
    fn bounds_that_exclude_the_truth_are_an_error() {
        let bounds = tightest_bounds(1, &[window(0, 0, 5, 5)]).unwrap();
        assert!(judge(&bounds, &[6], 1..=7).is_err());
    }

    /// The rule the API applied before: 0 exact, 1–7 suppressed, larger counts rounded to 5.
    fn old_rule(count: u64) -> (i64, i64) {
        let c = count as i64;
        match count {
            0 => (0, 0),
            1..=7 => (1, 7),
            _ => {
                let v = (c + 2) / 5 * 5;
                ((v - 2).max(8), v + 2)
            }
        }
    }

    #[test]
    fn every_day_window_under_independent_rounding_pins_down_small_days() {
        // The attack of issue 14 on a month of small daily counts: one figure per window
        // [a, b], each controlled on its own. The solver pins most small days down.
        let days: Vec<u64> = (0..31u64)
            .map(|d| [0, 1, 2, 0, 3, 1, 5][d as usize % 7])
            .collect();
        let mut windows = Vec::new();
        for a in 0..days.len() {
            for b in a..days.len() {
                let (low, high) = old_rule(days[a..=b].iter().sum());
                windows.push(window(a, b, low, high));
            }
        }
        let bounds = tightest_bounds(days.len(), &windows).unwrap();
        let outcome = judge(&bounds, &days, 1..=7).unwrap();
        assert!(outcome.small > 20);
        assert_eq!(
            outcome.determined.len(),
            outcome.small,
            "independent rounding leaks every small day: {outcome:?}"
        );
    }
}
