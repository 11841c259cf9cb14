//! Disclosure control: counts about child victims must never identify a child.
//!
//! # The rule (domain research §5, configurable)
//!
//! Wherever a viewer is not entitled to exact figures, every count is published as:
//! - `0` when it is 0;
//! - *suppressed* when it is between 1 and `suppress_max` (7);
//! - otherwise rounded to the nearest multiple of `base` (5), halves up: 8–12 → 10, 13–17 → 15.
//!
//! Totals are computed from exact data and then controlled like any other cell, never summed
//! from published cells.
//!
//! # The guarantee
//!
//! Every controlled figure stands for an interval of true values: `0` for exactly 0, a
//! suppressed cell for 1..=7, a rounded value `v` for `v − 2 ..= v + 2` (at least 8, since
//! published non-zero values are at least 10). Any sum or difference of published figures —
//! a row total minus its other cells, one response minus an overlapping one, any number of
//! them — therefore has an uncertainty at least as wide as the widest controlled non-zero term
//! in it (5 values for a rounded one, 7 for a suppressed one). So no count between 1 and 7
//! below the viewer's exact scope can be determined, directly, from totals, or by differencing
//! responses; the only figures determined exactly are zeros. This is the guarantee the
//! randomised tests check. What it does not promise: that a viewer cannot learn a count is
//! *small* (a difference of 5 means 1 to 9) — the standard of rounding to base 5.
//!
//! Exact figures go only to the `national` role, and to a `force:<id>` role for cells wholly
//! within its own force. The `public` role is controlled everywhere, and may not see
//! force-level or regional figures finer than a month.

use model::ForceId;
use serde::Serialize;

use crate::access::Role;

/// The configurable rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Largest count that is suppressed (counts 1..=this).
    pub suppress_max: u64,
    /// Rounding base for larger counts.
    pub base: u64,
}

impl Default for Rule {
    fn default() -> Self {
        Self {
            suppress_max: 7,
            base: 5,
        }
    }
}

/// A published count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Published {
    /// The figure, or `None` when suppressed.
    pub count: Option<u64>,
    /// Whether the figure was withheld.
    pub suppressed: bool,
    /// Whether the figure was rounded.
    pub rounded: bool,
}

impl Published {
    /// An exact figure.
    pub fn exact(count: u64) -> Self {
        Self {
            count: Some(count),
            suppressed: false,
            rounded: false,
        }
    }

    /// The true values this figure is consistent with, under `rule`.
    pub fn interval(&self, rule: &Rule) -> (u64, u64) {
        match (self.count, self.rounded) {
            (None, _) => (1, rule.suppress_max),
            (Some(v), false) => (v, v),
            (Some(v), true) => (
                v.saturating_sub(rule.base / 2).max(rule.suppress_max + 1),
                v + (rule.base - 1) / 2,
            ),
        }
    }
}

impl Rule {
    /// Controls one count.
    pub fn control(&self, count: u64) -> Published {
        if count == 0 {
            Published::exact(0)
        } else if count <= self.suppress_max {
            Published {
                count: None,
                suppressed: true,
                rounded: false,
            }
        } else {
            let base = self.base.max(1);
            Published {
                count: Some((count + base / 2) / base * base),
                suppressed: false,
                rounded: true,
            }
        }
    }

    /// Publishes `count` for a cell whose forces are `scope` (`None`: more than one force or
    /// all of them) to `role`.
    pub fn publish(&self, role: Role, scope: Option<ForceId>, count: u64) -> Published {
        match role {
            Role::National => Published::exact(count),
            Role::Force(own) if scope == Some(own) => Published::exact(count),
            Role::Force(_) | Role::Public => self.control(count),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_on_a_table_of_counts() {
        let rule = Rule::default();
        let table = [
            (0, Some(0), false),
            (1, None, false),
            (7, None, false),
            (8, Some(10), true),
            (12, Some(10), true),
            (13, Some(15), true),
            (17, Some(15), true),
            (18, Some(20), true),
            (114, Some(115), true),
            (213, Some(215), true),
        ];
        for (count, published, rounded) in table {
            let p = rule.control(count);
            assert_eq!((p.count, p.rounded), (published, rounded), "{count}");
            let (low, high) = p.interval(&rule);
            assert!(low <= count && count <= high, "{count} in {low}..={high}");
        }
    }

    #[test]
    fn roles_see_exact_figures_only_within_their_scope() {
        let rule = Rule::default();
        let kent = ForceId::from_id("kent").unwrap();
        let essex = ForceId::from_id("essex").unwrap();
        assert_eq!(rule.publish(Role::National, None, 3), Published::exact(3));
        assert_eq!(
            rule.publish(Role::Force(kent), Some(kent), 3),
            Published::exact(3)
        );
        assert!(rule.publish(Role::Force(kent), Some(essex), 3).suppressed);
        assert!(rule.publish(Role::Force(kent), None, 3).suppressed);
        assert!(rule.publish(Role::Public, Some(kent), 3).suppressed);
    }

    /// A deterministic generator for the randomised checks.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn no_difference_of_published_figures_determines_a_small_count() {
        // Random tables: cells and their exact total, published independently; every way of
        // recovering one cell (total minus the others, or one overlapping sum minus another)
        // leaves at least two candidate values whenever the cell is between 1 and 7.
        let rule = Rule::default();
        let mut random = Random(0x0dd5_eed5);
        for _ in 0..20_000 {
            let n = 1 + random.below(6) as usize;
            let cells: Vec<u64> = (0..n)
                .map(|_| match random.below(4) {
                    0 => 0,
                    1 => 1 + random.below(7),
                    _ => random.below(60),
                })
                .collect();
            let target = random.below(n as u64) as usize;
            let total: u64 = cells.iter().sum();
            let published_total = rule.control(total);
            let others: u64 = cells
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != target)
                .map(|(_, c)| c)
                .sum();
            // The "others" figure as another response would publish it.
            let published_others = rule.control(others);
            let (t_low, t_high) = published_total.interval(&rule);
            let (o_low, o_high) = published_others.interval(&rule);
            let low = t_low.saturating_sub(o_high);
            let high = t_high.saturating_sub(o_low);
            let cell = cells[target];
            assert!(low <= cell && cell <= high);
            if (1..=7).contains(&cell) {
                assert!(
                    high > low,
                    "cell {cell} determined from {published_total:?} − {published_others:?}"
                );
            }
            // And the published cell itself never shows 1..=7.
            let shown = rule.control(cell);
            assert!(shown.count.is_none_or(|v| v == 0 || v > rule.suppress_max));
        }
    }
}
