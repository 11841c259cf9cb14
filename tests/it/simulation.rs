//! The whole pipeline on simulated national data: simulator → every force's adapter (the three
//! shipped profile shapes) → broker → ingest → ClickHouse → stats, against the ground truth.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::support::{Sandbox, root, succeed, succeed_stderr};

fn ground_truth(path: &std::path::Path) -> BTreeMap<Vec<String>, u64> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.starts_with(
            "force,recorded_date,offence_code,offence_group,category,cyber,age_band,count\n"
        ),
        "ground-truth.csv header"
    );
    crate::support::parse_counts(&text)
}

#[test]
fn a_simulated_year_of_every_force_gives_exactly_the_ground_truth() {
    let sandbox = Sandbox::new("sim", 12);
    sandbox.migrate();
    let out = sandbox.dir.path().join("simulation");
    let summary = succeed_stderr(sandbox.command(&[]).args([
        "simulate",
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "7",
        "--from",
        "2016-04-01",
        "--to",
        "2017-03-31",
    ]));
    assert!(summary.contains("malformed rows"), "{summary}");

    // The three shipped shapes are exercised with exactly the shipped mappings.
    for force in ["west-mercia", "avon-and-somerset"] {
        let shipped =
            std::fs::read_to_string(root().join(format!("deploy/forces/{force}.toml"))).unwrap();
        let simulated =
            std::fs::read_to_string(out.join(format!("profiles/{force}.toml"))).unwrap();
        let mapping = |text: &str| {
            text.split("[mapping]")
                .nth(1)
                .map(str::trim)
                .map(str::to_owned)
        };
        assert_eq!(
            mapping(&simulated),
            mapping(&shipped),
            "{force} uses the shipped mapping"
        );
    }
    let metropolitan = std::fs::read_to_string(out.join("profiles/metropolitan.toml")).unwrap();
    assert!(metropolitan.contains("dialect = \"national-ndjson\""));

    let mut profiles: Vec<PathBuf> = std::fs::read_dir(out.join("profiles"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    profiles.sort();
    assert!(profiles.len() >= 44);
    // Forces publish concurrently, as they would.
    std::thread::scope(|scope| {
        for chunk in profiles.chunks(profiles.len().div_ceil(4)) {
            let sandbox = &sandbox;
            scope.spawn(move || {
                for profile in chunk {
                    succeed_stderr(sandbox.command(&[]).args([
                        "adapter",
                        "--profile",
                        profile.to_str().unwrap(),
                    ]));
                }
            });
        }
    });

    let totals = sandbox.ingest_until_idle(&[]);
    assert_eq!(
        totals.received,
        totals.stored + totals.duplicates + totals.dead_lettered,
        "{totals:?}"
    );
    let simulated: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let malformed: u64 = simulated["malformed_rows"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(
        totals.dead_lettered > 0 && totals.dead_lettered <= malformed,
        "{totals:?} vs {malformed}"
    );

    let expected = ground_truth(&out.join("ground-truth.csv"));
    let actual = sandbox.stats(&[
        "--by",
        "force,day,offence_code,offence_group,category,cyber,age_band",
    ]);
    crate::support::assert_counts(&actual, &expected, "counts");

    // Per force, the national figure an analyst reads.
    let per_force = sandbox.stats(&["--by", "force"]);
    let mut expected_per_force: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for (cells, count) in &expected {
        *expected_per_force
            .entry(vec![cells[0].clone()])
            .or_default() += count;
    }
    crate::support::assert_counts(&per_force, &expected_per_force, "per force");
    let json = succeed(sandbox.command(&[]).args([
        "stats",
        "--by",
        "force",
        "--format",
        "json",
        "--force",
        "West Mercia Police",
    ]));
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows[0]["force"], "west-mercia");
    assert_eq!(
        rows[0]["count"].as_u64(),
        expected_per_force
            .get(&vec!["west-mercia".to_owned()])
            .copied()
    );
    sandbox.drop_database();
}
