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

    /// Small monthly counts of two forces in two offence groups, online or not, for two years.
    fn series() -> Vec<crate::grid::BaseCell> {
        let mut cells = Vec::new();
        let mut state = 0x5eed_u64;
        for force in ["kent", "essex"] {
            for m in 0..24 {
                for group in ["sexual-grooming", "other-child-sexual-offences"] {
                    for cyber in [false, true] {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        cells.push(crate::grid::BaseCell {
                            force: force.into(),
                            month: format!("{}-{:02}", 2016 + m / 12, m % 12 + 1),
                            offence_group: group.into(),
                            cyber,
                            count: [0, 1, 1, 2, 3, 4, 6, 9][(state % 8) as usize],
                        });
                    }
                }
            }
        }
        cells
    }

    fn key() -> crate::disclosure::DisclosureKey {
        crate::disclosure::DisclosureKey::from_hex(&"3c".repeat(32)).unwrap()
    }

    /// Every month window of `force`'s series as a controlled viewer (`own` seen exactly)
    /// sees it, own figures subtracted.
    fn month_windows(
        cells: &[crate::grid::BaseCell],
        force: &str,
        own: Option<&str>,
    ) -> (Vec<Window>, Vec<u64>) {
        use crate::grid::tabulate;
        let rule = crate::disclosure::Rule::default();
        let own_id = own.map(|o| model::ForceId::from_id(o).unwrap());
        let month = |i: usize| format!("{}-{:02}", 2016 + i / 12, i % 12 + 1);
        let mut truth = vec![0; 24];
        for c in cells.iter().filter(|c| c.force == force) {
            truth[(0..24).position(|i| month(i) == c.month).unwrap()] += c.count;
        }
        let mut windows = Vec::new();
        for a in 0..24 {
            for b in a..24 {
                let inside: Vec<crate::grid::BaseCell> = cells
                    .iter()
                    .filter(|c| {
                        (c.force == force || Some(c.force.as_str()) == own)
                            && (month(a)..=month(b)).contains(&c.month)
                    })
                    .cloned()
                    .collect();
                let published = tabulate(&rule, &key(), own_id, &[], &inside)
                    .total
                    .publish(&rule);
                let mine: u64 = inside
                    .iter()
                    .filter(|c| Some(c.force.as_str()) == own)
                    .map(|c| c.count)
                    .sum();
                windows.push(window(
                    a,
                    b,
                    (published.low - mine) as i64,
                    (published.high - mine) as i64,
                ));
            }
        }
        (windows, truth)
    }

    #[test]
    fn no_month_window_of_the_cell_key_grid_determines_a_small_month() {
        let cells = series();
        for (force, own) in [("kent", None), ("essex", Some("kent"))] {
            let (windows, truth) = month_windows(&cells, force, own);
            let outcome = judge(&tightest_bounds(24, &windows).unwrap(), &truth, 1..=7).unwrap();
            assert!(outcome.small >= 3, "{outcome:?}");
            assert!(outcome.determined.is_empty(), "{force}: {outcome:?}");
        }
    }

    #[test]
    fn the_grid_cells_themselves_and_their_nested_totals_determine_nothing() {
        // Month-major order: each month's four cells of one force, then the month totals, the
        // quarters and the year over them, and every cell on its own.
        use crate::grid::tabulate;
        use warehouse::Dimension;
        let rule = crate::disclosure::Rule::default();
        let cells: Vec<_> = series()
            .into_iter()
            .filter(|c| c.force == "kent" && c.month.starts_with("2016"))
            .collect();
        let truth: Vec<u64> = cells.iter().map(|c| c.count).collect();
        let mut windows = Vec::new();
        for (i, cell) in cells.iter().enumerate() {
            let p = tabulate(&rule, &key(), None, &[], std::slice::from_ref(cell))
                .total
                .publish(&rule);
            windows.push(window(i, i, p.low as i64, p.high as i64));
        }
        for (by, span) in [
            (Dimension::Month, 4),
            (Dimension::Quarter, 12),
            (Dimension::FinancialYear, 0),
        ] {
            let table = tabulate(&rule, &key(), None, &[by], &cells);
            let mut first = 0;
            for (_, figure) in &table.rows {
                let p = figure.publish(&rule);
                let len = if span == 0 {
                    // 2016/17 starts in April: the first three months are 2015/16.
                    if first == 0 { 12 } else { cells.len() - 12 }
                } else {
                    span
                };
                windows.push(window(first, first + len - 1, p.low as i64, p.high as i64));
                first += len;
            }
        }
        let outcome = judge(
            &tightest_bounds(cells.len(), &windows).unwrap(),
            &truth,
            1..=7,
        )
        .unwrap();
        assert!(outcome.small >= 20, "{outcome:?}");
        assert!(outcome.determined.is_empty(), "{outcome:?}");
    }

    #[test]
    fn perturbing_each_window_on_its_own_would_not_survive_differencing() {
        // Why figures are sums of perturbed grid cells rather than perturbed on their own (the
        // cell-key method applied to each output cell): windows with independent bounded
        // perturbations chain into exact values.
        let rule = crate::disclosure::Rule::default();
        let cells = series();
        let month = |i: usize| format!("{}-{:02}", 2016 + i / 12, i % 12 + 1);
        let mut truth = vec![0u64; 24];
        for c in cells.iter().filter(|c| c.force == "kent") {
            truth[(0..24).position(|i| month(i) == c.month).unwrap()] += c.count;
        }
        let mut windows = Vec::new();
        for a in 0..24 {
            for b in a..24 {
                let label = format!("{a}-{b}");
                let id = crate::disclosure::CellId {
                    force: "kent",
                    month: &label,
                    offence_group: "",
                    cyber: true,
                };
                let q = rule.perturb(&key(), &id, truth[a..=b].iter().sum());
                let (low, high) = rule.candidates(q);
                windows.push(window(a, b, low as i64, high as i64));
            }
        }
        let outcome = judge(
            &tightest_bounds(24, &windows).unwrap(),
            &truth,
            0..=u64::MAX,
        )
        .unwrap();
        assert!(
            !outcome.determined.is_empty(),
            "per-window perturbation pins months down: {outcome:?}"
        );
    }
}
