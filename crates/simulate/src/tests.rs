//! Whole-simulation tests: determinism, ground truth against an independent reading of the
//! exports, calibration against the NSPCC figures, profiles and privacy.

mod reader;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::NaiveDate;
use model::{AgeBand, ForceId, OffenceGroup};

use crate::fake::SURNAMES;
use crate::{
    Error, MalformedKind, Options, Rise, Summary, dialect_of, extension, write_simulation,
};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "cyberflag-simulate-{name}-{}-{unique}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

fn force(id: &str) -> ForceId {
    ForceId::from_id(id).unwrap()
}

fn forces(ids: &[&str]) -> Option<Vec<ForceId>> {
    Some(ids.iter().map(|id| force(id)).collect())
}

/// Six months of four forces (all three dialects, both named and modulo-assigned), with every
/// kind of change made frequent.
fn churn() -> Options {
    Options {
        seed: 99,
        from: date(2017, 1, 1),
        to: date(2017, 6, 30),
        today: date(2017, 7, 1),
        forces: forces(&[
            "west-mercia",
            "avon-and-somerset",
            "metropolitan",
            "kent",
            "cumbria",
        ]),
        volume_scale: 3.0,
        reclassification_rate: 0.5,
        cancellation_rate: 0.1,
        transfer_rate: 0.1,
        late_flag_rate: 0.3,
        outcome_rate: 0.9,
        resend_probability: 0.5,
        malformed_rate: 0.05,
        ..Options::default()
    }
}

/// One month of volume crime for four forces, scaled down.
fn all_crime() -> Options {
    Options {
        seed: 5,
        from: date(2019, 1, 1),
        to: date(2019, 1, 31),
        today: date(2019, 2, 1),
        forces: forces(&[
            "west-mercia",
            "avon-and-somerset",
            "metropolitan",
            "city-of-london",
        ]),
        all_crime: true,
        volume_scale: 0.02,
        malformed_rate: 0.02,
        resend_probability: 0.2,
        transfer_rate: 0.05,
        ..Options::default()
    }
}

/// PSNI (only when asked for) and BTP, with a partial first and last month.
fn psni_and_btp() -> Options {
    Options {
        seed: 11,
        from: date(2018, 3, 17),
        to: date(2018, 6, 9),
        today: date(2018, 6, 30),
        forces: forces(&["northern-ireland", "btp", "west-mercia"]),
        volume_scale: 4.0,
        transfer_rate: 0.2,
        malformed_rate: 0.03,
        resend_probability: 0.5,
        late_flag_rate: 0.3,
        ..Options::default()
    }
}

/// Every file under `dir`, relative path → bytes, with `dir` itself replaced in profiles.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let mut bytes = std::fs::read(&path).unwrap();
                if relative.starts_with("profiles") {
                    let text = String::from_utf8(bytes).unwrap();
                    let root = root.canonicalize().unwrap();
                    bytes = text.replace(&*root.to_string_lossy(), "<dir>").into_bytes();
                }
                out.insert(relative, bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn same_options_give_identical_bytes_and_another_seed_differs() {
    for (name, options) in [("churn", churn()), ("all-crime", all_crime())] {
        let first = TempDir::new(&format!("{name}-a"));
        let second = TempDir::new(&format!("{name}-b"));
        let third = TempDir::new(&format!("{name}-c"));
        let summary_first = write_simulation(&options, &first.0).unwrap();
        let summary_second = write_simulation(&options, &second.0).unwrap();
        assert_eq!(summary_first, summary_second, "{name}");
        let (a, b) = (tree(&first.0), tree(&second.0));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (path, bytes) in &a {
            assert!(&b[path] == bytes, "{name}: {path} differs between two runs");
        }
        let reseeded = Options {
            seed: options.seed + 1,
            ..options.clone()
        };
        write_simulation(&reseeded, &third.0).unwrap();
        let c = tree(&third.0);
        assert_ne!(a["ground-truth.csv"], c["ground-truth.csv"], "{name}");
        let first_export = a.keys().find(|path| path.starts_with("exports")).unwrap();
        assert_ne!(a[first_export], c[first_export], "{name}: {first_export}");
    }
}

/// The key test: an independent reader of the exports, applying latest-version-wins, the
/// status and transfer rules and `model` validation, finds exactly the ground truth.
#[test]
fn ground_truth_equals_an_independent_reading_of_the_exports() {
    let cases = [
        ("churn", churn()),
        ("all-crime", all_crime()),
        ("psni-and-btp", psni_and_btp()),
        (
            "default-two-years",
            Options {
                to: date(2017, 3, 31),
                today: date(2017, 4, 1),
                ..Options::default()
            },
        ),
    ];
    for (name, options) in cases {
        let dir = TempDir::new(name);
        let summary = write_simulation(&options, &dir.0).unwrap();
        let reading = reader::read(&dir.0, options.today);
        let truth = reader::ground_truth(&dir.0);
        let differences: Vec<String> = truth
            .keys()
            .chain(reading.counts.keys())
            .filter(|key| truth.get(*key) != reading.counts.get(*key))
            .take(10)
            .map(|key| {
                format!(
                    "{key}: truth {:?}, read {:?}",
                    truth.get(key),
                    reading.counts.get(key)
                )
            })
            .collect();
        assert!(differences.is_empty(), "{name}: {differences:#?}");
        let counted: u64 = truth.values().sum();
        assert_eq!(counted, summary.national.counted, "{name}");
        assert_eq!(reading.malformed, summary.malformed_total(), "{name}");
        assert_eq!(reading.versions, summary.record_versions, "{name}");
        assert_eq!(
            summary.rows,
            summary.record_versions + summary.malformed_total(),
            "{name}"
        );
        assert!(
            reading.duplicates >= summary.resent_record_versions.min(1),
            "{name}"
        );
        assert!(counted > 0, "{name}");
        // The reader saw every kind of change the summary claims.
        assert!(
            reading.cancelled > 0 || summary.cancellations == 0,
            "{name}"
        );
        assert!(reading.transferred > 0 || summary.transfers == 0, "{name}");
        let per_force: u64 = summary.forces.values().map(|f| f.totals.counted).sum();
        assert_eq!(per_force, counted, "{name}");
        if name == "churn" || name == "psni-and-btp" {
            for kind in MalformedKind::ALL {
                assert!(summary.malformed_rows[&kind] > 0, "{name}: no {kind:?}");
            }
            assert!(summary.resent_files > 0 && summary.transfers > 0, "{name}");
            assert!(
                summary.reclassifications > 0 && summary.late_flags > 0,
                "{name}"
            );
        }
    }
}

/// Counted online child sexual offences by force and financial year, from the ground truth.
fn online_child_sexual(dir: &Path) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for (group, count) in reader::ground_truth(dir) {
        let columns: Vec<&str> = group.split(',').collect();
        let Ok(offence_group) = OffenceGroup::from_str(columns[3]) else {
            continue;
        };
        let band = AgeBand::from_str(columns[6]).unwrap();
        let child = offence_group.is_child_sexual_offence()
            || (offence_group.is_sexual_offence() && band.is_child() == Some(true));
        if child && columns[5] == "true" {
            let year = crate::rates::financial_year(NaiveDate::from_str(columns[1]).unwrap());
            *out.entry((columns[0].to_owned(), year)).or_insert(0) += count;
        }
    }
    out
}

#[test]
fn default_volumes_match_the_nspcc_figures() {
    let dir = TempDir::new("default");
    let options = Options::default();
    let summary: Summary = write_simulation(&options, &dir.0).unwrap();
    let counts = online_child_sexual(&dir.0);
    let year = |force: &str, year: &str| {
        counts
            .get(&(force.to_owned(), year.to_owned()))
            .copied()
            .unwrap_or(0) as f64
    };
    let west_mercia = year("west-mercia", "2016/17");
    assert!(
        (213.0 * 0.75..=213.0 * 1.25).contains(&west_mercia),
        "{west_mercia}"
    );
    let west_mercia_first = year("west-mercia", "2015/16");
    assert!(
        (114.0 * 0.75..=114.0 * 1.3).contains(&west_mercia_first),
        "{west_mercia_first}"
    );
    let national = |fy: &str| {
        counts
            .iter()
            .filter(|((_, y), _)| y == fy)
            .map(|(_, count)| *count)
            .sum::<u64>() as f64
    };
    let per_day = national("2016/17") / 365.0;
    assert!((15.0 * 0.75..=15.0 * 1.25).contains(&per_day), "{per_day}");
    let latest = national("2019/20") / 366.0;
    assert!((28.0 * 0.75..=28.0 * 1.25).contains(&latest), "{latest}");
    assert_eq!(
        summary.national.online_child_sexual_by_year["2016/17"] as f64,
        national("2016/17")
    );
    // The Metropolitan Police is the largest force, City of London nearly empty.
    let metropolitan = year("metropolitan", "2016/17");
    for force in ForceId::all().filter(|f| f.in_home_office_statistics()) {
        assert!(year(force.as_str(), "2016/17") <= metropolitan, "{force}");
    }
    assert!(year("city-of-london", "2016/17") < 10.0);
    // Sexual communication with a child is never recorded before the offence existed.
    let truth = reader::ground_truth(&dir.0);
    let in_force = crate::mix::sexual_communication_in_force();
    for group in truth.keys().filter(|group| group.contains(",71/17,")) {
        let recorded = NaiveDate::from_str(group.split(',').nth(1).unwrap()).unwrap();
        assert!(recorded >= in_force, "{group}");
    }
    // Every default force wrote 60 monthly files or more; PSNI is not simulated.
    assert_eq!(summary.forces.len(), 44);
    assert!(!summary.forces.contains_key("northern-ireland"));
    assert!(summary.forces.values().all(|f| f.files >= 60));
}

#[test]
fn an_injected_rise_multiplies_the_force_count() {
    let base = Options {
        to: date(2017, 3, 31),
        today: date(2017, 4, 1),
        forces: forces(&["west-mercia"]),
        ..Options::default()
    };
    let risen = Options {
        rise: Some(Rise {
            force: force("west-mercia"),
            from: date(2016, 4, 1),
            factor: 1.87,
        }),
        ..base.clone()
    };
    let (plain_dir, risen_dir) = (TempDir::new("no-rise"), TempDir::new("rise"));
    write_simulation(&base, &plain_dir.0).unwrap();
    let summary = write_simulation(&risen, &risen_dir.0).unwrap();
    assert_eq!(summary.rise, risen.rise);
    let (plain, risen) = (
        online_child_sexual(&plain_dir.0),
        online_child_sexual(&risen_dir.0),
    );
    let get = |counts: &BTreeMap<(String, String), u64>, year: &str| {
        counts[&("west-mercia".to_owned(), year.to_owned())] as f64
    };
    let after = get(&risen, "2016/17") / get(&plain, "2016/17");
    let before = get(&risen, "2015/16") / get(&plain, "2015/16");
    assert!((1.5..=2.3).contains(&after), "{after}");
    assert!((0.8..=1.25).contains(&before), "{before}");
}

#[test]
fn profiles_name_their_dialect_and_private_fields_stay_in_force_exports() {
    for (name, options) in [("profiles", churn()), ("profiles-all-crime", all_crime())] {
        let dir = TempDir::new(name);
        write_simulation(&options, &dir.0).unwrap();
        let root = dir.0.canonicalize().unwrap();
        let profiles = reader::profiles(&root);
        assert_eq!(profiles.len(), options.simulated_forces().len());
        let mut private_seen = BTreeMap::new();
        for profile in &profiles {
            let force = profile.force;
            let dialect = dialect_of(force);
            assert_eq!(profile.dialect, dialect.as_str(), "{force}");
            assert_eq!(profile.name, format!("{force}-sim"));
            let source = profile.table["source"].as_table().unwrap();
            assert!(!source.contains_key("watch") && !source.contains_key("listen"));
            assert!(!profile.table.contains_key("keys"), "{force}");
            assert_eq!(
                source["checkpoint"].as_str().unwrap(),
                root.join("state")
                    .join(format!("{force}.checkpoint.json"))
                    .to_string_lossy()
            );
            assert_eq!(
                profile.table.contains_key("mapping"),
                dialect.as_str() != "national-ndjson"
            );
            let mut sorted = profile.files.clone();
            sorted.sort();
            assert_eq!(
                sorted, profile.files,
                "{force}: delivery order is lexical order"
            );
            let on_disk = std::fs::read_dir(root.join("exports").join(force.as_str()))
                .unwrap()
                .count();
            assert_eq!(on_disk, profile.files.len());
            for file in &profile.files {
                assert!(file.is_absolute() && file.starts_with(&root));
                assert_eq!(file.extension().unwrap(), extension(dialect));
                let text = std::fs::read_to_string(file).unwrap();
                let private =
                    SURNAMES.iter().any(|surname| text.contains(surname)) || text.contains("ZZ99 ");
                *private_seen.entry(profile.dialect.clone()).or_insert(false) |= private;
                if profile.dialect == "national-ndjson" {
                    assert!(
                        !private,
                        "{}: private data in the national schema",
                        file.display()
                    );
                }
            }
        }
        assert!(private_seen["force-csv"], "{name}");
        assert!(private_seen["force-json"], "{name}");
        for output in ["ground-truth.csv", "summary.json"] {
            let text = std::fs::read_to_string(root.join(output)).unwrap();
            for surname in SURNAMES {
                assert!(!text.contains(surname), "{output} holds {surname}");
            }
            assert!(
                !text.contains("ZZ99") && !text.contains("Officer"),
                "{output}"
            );
        }
        let summary: Summary =
            serde_json::from_str(&std::fs::read_to_string(root.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary.options, options);
    }
}

#[test]
fn the_three_named_forces_use_their_shipped_dialects() {
    let cases = [
        ("west-mercia", "force-csv"),
        ("avon-and-somerset", "force-json"),
        ("metropolitan", "national-ndjson"),
    ];
    for (id, dialect) in cases {
        assert_eq!(dialect_of(force(id)).as_str(), dialect);
    }
    let used: std::collections::BTreeSet<&str> =
        ForceId::all().map(|f| dialect_of(f).as_str()).collect();
    assert_eq!(used.len(), 3);
}

#[test]
fn bad_options_and_reused_directories_are_refused() {
    let cases = [
        Options {
            from: date(2018, 1, 2),
            to: date(2018, 1, 1),
            ..Options::default()
        },
        Options {
            today: date(2019, 1, 1),
            ..Options::default()
        },
        Options {
            malformed_rate: 1.5,
            ..Options::default()
        },
        Options {
            forces: Some(Vec::new()),
            ..Options::default()
        },
        Options {
            daily_rates: Vec::new(),
            ..Options::default()
        },
    ];
    let dir = TempDir::new("refused");
    for options in cases {
        assert!(matches!(
            write_simulation(&options, &dir.0),
            Err(Error::Options(_))
        ));
    }
    let small = Options {
        from: date(2019, 1, 1),
        to: date(2019, 1, 3),
        today: date(2019, 1, 3),
        forces: forces(&["dorset"]),
        ..Options::default()
    };
    write_simulation(&small, &dir.0).unwrap();
    assert!(matches!(
        write_simulation(&small, &dir.0),
        Err(Error::OutputExists(_))
    ));
    let parsed = Options::from_toml("seed = 3\nall_crime = true\nforces = [\"kent\"]\n").unwrap();
    assert_eq!(parsed.seed, 3);
    assert_eq!(parsed.forces, forces(&["kent"]));
    assert!(Options::from_toml("sede = 3").is_err());
}
