//! What disclosure control costs in accuracy: the mean absolute error of published figures
//! against the exact ones, on a simulation's ground truth (BENCHMARKS.md).
//!
//! ```sh
//! cyberflag simulate --out /tmp/sim --options demo-options.toml   # the demo's options
//! cargo run --release -p api --example utility -- /tmp/sim/ground-truth.csv [KEYS [PERTURBATION_MAX]]
//! ```
//!
//! The ground truth is aggregated to the grid (force × month × offence group × flag), published
//! with the cell-key method under `keys` random disclosure keys (default 20), and summed into
//! the figures a public viewer asks for most. For comparison, the rule the API used before:
//! each figure controlled on its own, 1–7 suppressed, others rounded to 5.

use std::collections::BTreeMap;

use api::disclosure::{DisclosureKey, Rule};
use api::grid::{BaseCell, tabulate};
use warehouse::Dimension;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: utility GROUND_TRUTH_CSV [KEYS [PERTURBATION_MAX]]")?;
    let keys: usize = args
        .next()
        .map_or(Ok(20), |k| k.parse().map_err(|_| "KEYS"))?;
    let perturbation_max: u64 = args
        .next()
        .map_or(Ok(2), |k| k.parse().map_err(|_| "PERTURBATION_MAX"))?;
    let rule = Rule::new(7, perturbation_max).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut grid: BTreeMap<(String, String, String, bool), u64> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let [force, date, _, group, _, cyber, _, count] = cells[..] else {
            return Err(format!("not a ground-truth row: {line}"));
        };
        let count: u64 = count.parse().map_err(|_| format!("count in {line}"))?;
        *grid
            .entry((
                force.into(),
                date[..7].into(),
                group.into(),
                cyber == "true",
            ))
            .or_default() += count;
    }
    let cells: Vec<BaseCell> = grid
        .into_iter()
        .map(|((force, month, offence_group, cyber), count)| BaseCell {
            force,
            month,
            offence_group,
            cyber,
            count,
        })
        .collect();
    let flagged: Vec<BaseCell> = cells.iter().filter(|c| c.cyber).cloned().collect();
    let total: u64 = cells.iter().map(|c| c.count).sum();
    println!(
        "{total} crimes in {} non-empty grid cells; {keys} disclosure keys; perturbation_max \
         {perturbation_max}\n",
        cells.len()
    );
    println!(
        "| figures | n | mean exact | cell key: suppressed | cell key: MAE | cell key: max error | \
         old rule: suppressed | old rule: MAE |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    use Dimension::{FinancialYear, Force, Month, OffenceGroup, Quarter, Region};
    let tables: [(&str, &[BaseCell], &[Dimension]); 9] = [
        (
            "grid cells (force × month × group × flag)",
            &cells,
            &[Force, Month, OffenceGroup, Dimension::Cyber],
        ),
        ("force × month", &cells, &[Force, Month]),
        ("force × month, online-flagged", &flagged, &[Force, Month]),
        ("force × financial year", &cells, &[Force, FinancialYear]),
        ("region × quarter", &cells, &[Region, Quarter]),
        ("national × month", &cells, &[Month]),
        ("national × month, online-flagged", &flagged, &[Month]),
        (
            "national × month × offence group",
            &cells,
            &[Month, OffenceGroup],
        ),
        ("national × financial year", &cells, &[FinancialYear]),
    ];
    for (name, cells, by) in tables {
        let truth: BTreeMap<Vec<String>, u64> = {
            let mut t = BTreeMap::new();
            for c in cells.iter() {
                *t.entry(by.iter().map(|d| c.value(*d)).collect())
                    .or_default() += c.count;
            }
            t
        };
        let (mut errors, mut suppressed, mut published, mut max) = (0u64, 0u64, 0u64, 0u64);
        for _ in 0..keys {
            let key = DisclosureKey::generate()?;
            for (values, figure) in tabulate(&rule, &key, None, by, cells).rows {
                let p = figure.publish(&rule);
                let exact = truth[&values];
                if let Some(v) = p.count {
                    let e = v.abs_diff(exact);
                    errors += e;
                    max = max.max(e);
                    published += 1;
                } else {
                    suppressed += 1;
                }
            }
        }
        let n = truth.len() as f64;
        let mean = truth.values().sum::<u64>() as f64 / n;
        let (old_suppressed, old_error) = truth.values().fold((0u64, 0u64), |(s, e), &c| {
            if c <= 7 {
                (s + 1, e)
            } else {
                (s, e + ((c + 2) / 5 * 5).abs_diff(c))
            }
        });
        let old_published = truth.len() as u64 - old_suppressed;
        println!(
            "| {name} | {} | {mean:.1} | {:.0} % | {:.2} | {max} | {:.0} % | {:.2} |",
            truth.len(),
            100.0 * suppressed as f64 / (n * keys as f64),
            errors as f64 / published.max(1) as f64,
            100.0 * old_suppressed as f64 / n,
            old_error as f64 / old_published.max(1) as f64,
        );
    }
    Ok(())
}
