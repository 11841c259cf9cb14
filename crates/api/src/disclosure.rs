//! Disclosure control: counts about child victims must never identify a child, whatever set of
//! responses a viewer collects.
//!
//! # The method: cell-key perturbation of a fixed grid, published additively
//!
//! Every figure a viewer is not entitled to exactly is computed from one protected table, the
//! **grid** of base cells force × recorded month × offence group × online flag
//! ([`crate::grid`]). Each base cell with a true count `c` is published as `q = c + e`:
//!
//! - `c = 0` stays 0 and `c = 1` stays 1 (a count of 1 or more is never published as 0, and
//!   moving a 1 upward only would bias every total);
//! - for `c ≥ 2`, `e` is drawn uniformly from `−m..=m`, `m = min(perturbation_max, c − 1)`, so
//!   `q ≥ 1` and the perturbation has mean 0 (totals are unbiased).
//!
//! The draw is the **cell key**: an HMAC-SHA-256, under a secret key ([`DisclosureKey`]), of the
//! cell's identity and its count. The same cell with the same count always gets the same
//! perturbation, in every query, grouping, window, `as_at` date and format; nobody without the
//! key can compute it. A figure for any group of base cells (a force's year, a region's quarter,
//! one offence group nationally) is the **exact sum of the published base cells**, so totals
//! always equal the sum of their parts, and no figure carries fresh noise.
//!
//! # The guarantee
//!
//! Every answer to a controlled viewer is a function of the published grid `{q}` (and of the
//! viewer's own exact cells). A published `q` is consistent with every true count in
//! [`Rule::candidates`]`(q)` — at least `perturbation_max + 1` values, for instance `q = 1`
//! stands for 1 to 3 — and the counts of different base cells are perturbed independently. So,
//! for **any set of responses**, every count of 1 or more outside the viewer's exact scope, of
//! a base cell or of any sum of them, has at least two values consistent with everything
//! published: none is determined, however the responses are summed, differenced or chained.
//! Over time a cell's count changes and it gets a new draw; two different published values
//! only tell that the counts differ, and with `perturbation_max ≥ 1` every set of such
//! observations still leaves each count at least two candidates (each candidate interval has
//! room to spare: a Hall-matching argument, checked by the tests).
//!
//! On top, a figure whose published value is 1 to `suppress_max` is shown as suppressed, and
//! every controlled figure carries `low..=high`, the true values it is consistent with.
//!
//! # What is not promised
//!
//! - That a viewer cannot learn a count is *small*, or guess it: a published 1 is most often 1.
//!   Protection is "never determined", not "never likely".
//! - Protection against a viewer who knows, from outside, exactly how a cell changed between
//!   two dates (for instance one who polls continually and assumes crimes arrive one at a
//!   time). Controlled viewers get `as_at` only at month ends for that reason.
//! - Secrecy once the disclosure key leaks or changes: a new key gives every cell a second,
//!   independent draw. The key lives in the tokens file and must never be regenerated.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

/// Largest `suppress_max` accepted (beyond it nothing useful would be published).
pub const MAX_SUPPRESS: u64 = 100;
/// Largest `perturbation_max` accepted.
pub const MAX_PERTURBATION: u64 = 10;

/// The rule's parameters, checked: no setting can publish a count of 1 or more as 0, or
/// publish exact counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    suppress_max: u64,
    perturbation_max: u64,
}

/// A parameter that would void the guarantee or the figures' use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// `suppress_max` above [`MAX_SUPPRESS`].
    #[error("suppress_max must be at most {MAX_SUPPRESS} (got {0}): every figure would be hidden")]
    SuppressMax(u64),
    /// `perturbation_max` 0 (exact publication) or above [`MAX_PERTURBATION`].
    #[error(
        "perturbation_max must be between 1 and {MAX_PERTURBATION} (got {0}): 0 would publish \
         exact counts, so differencing responses would recover every small count"
    )]
    PerturbationMax(u64),
}

impl RuleError {
    /// The parameter at fault (`suppress_max` or `perturbation_max`).
    pub fn parameter(&self) -> &'static str {
        match self {
            RuleError::SuppressMax(_) => "suppress_max",
            RuleError::PerturbationMax(_) => "perturbation_max",
        }
    }
}

impl Default for Rule {
    fn default() -> Self {
        Self {
            suppress_max: 7,
            perturbation_max: 2,
        }
    }
}

impl Rule {
    /// The rule with these parameters, if they keep the guarantee.
    pub fn new(suppress_max: u64, perturbation_max: u64) -> Result<Rule, RuleError> {
        if suppress_max > MAX_SUPPRESS {
            return Err(RuleError::SuppressMax(suppress_max));
        }
        if perturbation_max == 0 || perturbation_max > MAX_PERTURBATION {
            return Err(RuleError::PerturbationMax(perturbation_max));
        }
        Ok(Rule {
            suppress_max,
            perturbation_max,
        })
    }

    /// Published values from 1 up to this are shown as suppressed.
    pub fn suppress_max(&self) -> u64 {
        self.suppress_max
    }

    /// Largest perturbation of one base cell.
    pub fn perturbation_max(&self) -> u64 {
        self.perturbation_max
    }

    /// The published value of base cell `cell` whose true count is `count`.
    pub fn perturb(&self, key: &DisclosureKey, cell: &CellId<'_>, count: u64) -> u64 {
        if count <= 1 {
            return count;
        }
        let m = self.perturbation_max.min(count - 1);
        let draw = key.draw(cell, count) % (2 * m + 1);
        count - m + draw
    }

    /// Every true count a base cell published as `q` may have (inclusive).
    pub fn candidates(&self, q: u64) -> (u64, u64) {
        let d = self.perturbation_max;
        match q {
            0 => (0, 0),
            1 => (1, 1 + d),
            // c ≥ 2 reaches q iff |q − c| ≤ min(d, c − 1): c ≥ q − d and 2c ≥ q + 1.
            _ => (2.max(q.saturating_sub(d)).max((q + 1).div_ceil(2)), q + d),
        }
    }
}

/// The identity of a base cell of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellId<'a> {
    /// Force id (police.uk).
    pub force: &'a str,
    /// Recorded month, `YYYY-MM`.
    pub month: &'a str,
    /// Offence group id (empty for crimes outside the groups).
    pub offence_group: &'a str,
    /// Online flag.
    pub cyber: bool,
}

/// The secret key of the cell-key method: 32 random bytes, kept in the tokens file.
#[derive(Clone, PartialEq, Eq)]
pub struct DisclosureKey([u8; 32]);

impl std::fmt::Debug for DisclosureKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DisclosureKey(redacted)")
    }
}

impl DisclosureKey {
    /// A new key from the operating system's generator.
    pub fn generate() -> Result<DisclosureKey, String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
        Ok(DisclosureKey(bytes))
    }

    /// Reads 64 hex digits.
    pub fn from_hex(text: &str) -> Result<DisclosureKey, String> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("the disclosure key must be 64 hex digits (32 random bytes)".into());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        Ok(DisclosureKey(bytes))
    }

    /// The key as 64 hex digits (for the tokens file only).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The cell key of `cell` at `count`: 64 bits of HMAC-SHA-256 over an unambiguous encoding.
    fn draw(&self, cell: &CellId<'_>, count: u64) -> u64 {
        // A 32-byte key is always a valid HMAC key.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return 0;
        };
        mac.update(b"cyberflag cell key v1");
        for part in [cell.force, cell.month, cell.offence_group] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.update(&[u8::from(cell.cyber)]);
        mac.update(&count.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }
}

/// A figure being summed from base cells: exact ones (the viewer's own) and published ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figure {
    value: u64,
    exact: u64,
    perturbed_cells: u64,
    low: u64,
    high: u64,
}

impl Figure {
    /// Adds a base cell the viewer sees exactly.
    pub fn add_exact(&mut self, count: u64) {
        self.value += count;
        self.exact += count;
        self.low += count;
        self.high += count;
    }

    /// Adds a base cell published as `q` under `rule`.
    pub fn add_published(&mut self, rule: &Rule, q: u64) {
        if q == 0 {
            return;
        }
        let (low, high) = rule.candidates(q);
        self.value += q;
        self.perturbed_cells += 1;
        self.low += low;
        self.high += high;
    }

    /// Adds another figure (a row to a total).
    pub fn add(&mut self, other: &Figure) {
        self.value += other.value;
        self.exact += other.exact;
        self.perturbed_cells += other.perturbed_cells;
        self.low += other.low;
        self.high += other.high;
    }

    /// The figure as published: exact when every part is, else the sum of the published base
    /// cells, suppressed when it is 1 to `suppress_max`.
    pub fn publish(&self, rule: &Rule) -> Published {
        if self.perturbed_cells == 0 {
            return Published::exact(self.value);
        }
        if self.value <= rule.suppress_max {
            // Bounds that do not give the hidden value away: each published cell is at least 1
            // and at most its published value plus the largest perturbation.
            return Published {
                count: None,
                suppressed: true,
                perturbed: true,
                low: self.exact + self.perturbed_cells,
                high: rule.suppress_max + self.perturbed_cells * rule.perturbation_max,
            };
        }
        Published {
            count: Some(self.value),
            suppressed: false,
            perturbed: true,
            low: self.low,
            high: self.high,
        }
    }
}

/// A published figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Published {
    /// The figure, or `None` when suppressed.
    pub count: Option<u64>,
    /// Whether the figure (1 to `suppress_max`) is withheld.
    pub suppressed: bool,
    /// Whether the figure is a sum of perturbed base cells (not exact).
    pub perturbed: bool,
    /// Smallest true count consistent with the figure.
    pub low: u64,
    /// Largest true count consistent with the figure.
    pub high: u64,
}

impl Published {
    /// An exact figure.
    pub fn exact(count: u64) -> Self {
        Self {
            count: Some(count),
            suppressed: false,
            perturbed: false,
            low: count,
            high: count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> DisclosureKey {
        DisclosureKey([byte; 32])
    }

    fn cell(month: &str) -> CellId<'_> {
        CellId {
            force: "kent",
            month,
            offence_group: "sexual-grooming",
            cyber: true,
        }
    }

    #[test]
    fn unsafe_parameters_are_refused_naming_the_parameter() {
        assert_eq!(Rule::new(7, 2), Ok(Rule::default()));
        assert_eq!(Rule::new(0, 1).map(|r| r.suppress_max()), Ok(0));
        let zero = Rule::new(7, 0).unwrap_err();
        assert_eq!(zero.parameter(), "perturbation_max");
        assert!(zero.to_string().contains("exact counts"), "{zero}");
        assert_eq!(
            Rule::new(7, MAX_PERTURBATION + 1).unwrap_err().parameter(),
            "perturbation_max"
        );
        assert_eq!(
            Rule::new(MAX_SUPPRESS + 1, 2).unwrap_err().parameter(),
            "suppress_max"
        );
    }

    #[test]
    fn zero_and_one_are_kept_and_nothing_of_one_or_more_becomes_zero() {
        for d in 1..=MAX_PERTURBATION {
            let rule = Rule::new(7, d).unwrap();
            for month in ["2018-01", "2018-02", "2018-03"] {
                assert_eq!(rule.perturb(&key(1), &cell(month), 0), 0);
                assert_eq!(rule.perturb(&key(1), &cell(month), 1), 1);
                for count in 2..200 {
                    let q = rule.perturb(&key(1), &cell(month), count);
                    assert!(
                        q >= 1 && q.abs_diff(count) <= d.min(count - 1),
                        "{count} → {q}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_same_cell_and_count_always_get_the_same_draw_and_the_key_matters() {
        let rule = Rule::default();
        let draws = |k: &DisclosureKey| -> Vec<u64> {
            (0..200)
                .map(|i| rule.perturb(k, &cell(&format!("20{:02}-01", i % 100)), 10 + i / 100))
                .collect()
        };
        assert_eq!(draws(&key(1)), draws(&key(1)));
        assert_ne!(draws(&key(1)), draws(&key(2)));
        // Different forces, groups and flags are different cells.
        let a = CellId {
            force: "kent",
            month: "2018-03",
            offence_group: "a",
            cyber: true,
        };
        let cells = [
            a,
            CellId {
                force: "essex",
                ..a
            },
            CellId {
                offence_group: "b",
                ..a
            },
            CellId { cyber: false, ..a },
        ];
        let distinct: std::collections::BTreeSet<Vec<u64>> = cells
            .iter()
            .map(|c| (2..40).map(|n| rule.perturb(&key(3), c, n)).collect())
            .collect();
        assert_eq!(distinct.len(), cells.len());
    }

    #[test]
    fn perturbations_are_uniform_and_unbiased() {
        // 60,000 cells with count 20: every perturbation −2..=2 about a fifth of the time.
        let rule = Rule::default();
        let mut seen = [0u32; 5];
        let months: Vec<String> = (0..60_000).map(|i| format!("m{i}")).collect();
        for month in &months {
            let q = rule.perturb(&key(9), &cell(month), 20);
            seen[(q + 2 - 20) as usize] += 1;
        }
        for n in seen {
            assert!((11_400..12_600).contains(&n), "{seen:?}");
        }
    }

    #[test]
    fn candidates_are_exactly_the_counts_that_can_publish_a_value() {
        for d in 1..=4 {
            let rule = Rule::new(7, d).unwrap();
            for q in 0..60u64 {
                // Brute force: c reaches q iff q is within its perturbation range.
                let reach = |c: u64| match c {
                    0 | 1 => q == c,
                    _ => q.abs_diff(c) <= d.min(c - 1),
                };
                let all: Vec<u64> = (0..80).filter(|&c| reach(c)).collect();
                let (low, high) = rule.candidates(q);
                assert_eq!(all, (low..=high).collect::<Vec<_>>(), "q = {q}, d = {d}");
                if q >= 1 {
                    assert!(high - low >= d, "q = {q}: at least d + 1 candidates");
                }
            }
        }
    }

    #[test]
    fn figures_add_up_and_their_bounds_hold_the_truth() {
        let rule = Rule::default();
        let k = key(5);
        let counts = [0u64, 1, 2, 3, 7, 12, 40];
        let months: Vec<String> = (0..counts.len())
            .map(|i| format!("2017-{:02}", i + 1))
            .collect();
        let mut total = Figure::default();
        let mut truth = 0;
        for (count, month) in counts.iter().zip(&months) {
            let q = rule.perturb(&k, &cell(month), *count);
            let mut row = Figure::default();
            row.add_published(&rule, q);
            let p = row.publish(&rule);
            assert!(p.low <= *count && *count <= p.high, "{count}: {p:?}");
            if *count == 0 {
                assert_eq!(p, Published::exact(0));
            } else {
                assert!(p.perturbed);
                assert!(p.suppressed == p.count.is_none());
                assert!(p.count.is_none_or(|v| v > rule.suppress_max()));
            }
            total.add(&row);
            truth += count;
        }
        let mut own = Figure::default();
        own.add_exact(5);
        total.add(&own);
        truth += 5;
        let p = total.publish(&rule);
        assert!(p.low <= truth && truth <= p.high && p.perturbed, "{p:?}");
        let parts: u64 = counts
            .iter()
            .zip(&months)
            .map(|(c, m)| rule.perturb(&k, &cell(m), *c))
            .sum::<u64>()
            + 5;
        assert_eq!(p.count, Some(parts), "the total is the sum of its parts");
    }

    #[test]
    fn a_suppressed_figure_keeps_its_value_hidden() {
        let rule = Rule::default();
        for q in 1..=7 {
            let mut f = Figure::default();
            f.add_published(&rule, q);
            let p = f.publish(&rule);
            assert_eq!((p.count, p.suppressed, p.low, p.high), (None, true, 1, 9));
        }
    }

    #[test]
    fn no_history_of_a_cell_determines_its_counts() {
        // A viewer who follows one cell over several dates (as_at, revisions) sees its
        // published values, and knows the counts differ wherever the values do (the same count
        // always publishes the same value). For every history of three counts from 1 to 6,
        // every count keeps at least two candidates.
        for d in 1..=3 {
            let rule = Rule::new(7, d).unwrap();
            for k in 0..4 {
                for history in 0..216u64 {
                    let counts = [1 + history % 6, 1 + history / 6 % 6, 1 + history / 36];
                    let q = counts.map(|c| rule.perturb(&key(k), &cell("2018-03"), c));
                    let ranges = q.map(|q| rule.candidates(q));
                    let mut feasible = [(); 3].map(|_| std::collections::BTreeSet::new());
                    for a in ranges[0].0..=ranges[0].1 {
                        for b in ranges[1].0..=ranges[1].1 {
                            for c in ranges[2].0..=ranges[2].1 {
                                let x = [a, b, c];
                                let consistent =
                                    (0..3).all(|i| (0..3).all(|j| q[i] == q[j] || x[i] != x[j]));
                                if consistent {
                                    for (t, value) in x.iter().enumerate() {
                                        feasible[t].insert(*value);
                                    }
                                }
                            }
                        }
                    }
                    for (t, values) in feasible.iter().enumerate() {
                        assert!(values.contains(&counts[t]));
                        assert!(
                            values.len() >= 2,
                            "{counts:?} → {q:?}: count {t} determined"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_key_round_trips_and_never_prints() {
        let k = DisclosureKey::generate().unwrap();
        assert_eq!(DisclosureKey::from_hex(&k.to_hex()).unwrap(), k);
        assert!(!format!("{k:?}").contains(&k.to_hex()[..8]));
        assert!(DisclosureKey::from_hex("abc").is_err());
        assert!(DisclosureKey::from_hex(&"g".repeat(64)).is_err());
    }
}
