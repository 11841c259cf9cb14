//! `cyberflag alerts evaluate`: how well the configured detectors find a rise, and how often
//! they cry wolf, measured on seeded simulations of every force.
//!
//! - **Detection:** `--seeds` simulations in which one force's yearly count rises from
//!   `--before` to `--after` on a Monday after five years of history; each is scanned week by
//!   week from the change, and counts as detected if an alert names that force (any series of
//!   it) within `--within-weeks` weeks.
//! - **False alarms:** `--null-seeds` simulations with no change at all (flat national rates),
//!   every week of their last two years scanned; every alert is a false one.
//!
//! Series come from each simulation's ground truth exactly as `alerts run` builds them from
//! ClickHouse (cyber-flagged current crimes by recorded week; a force's week is missing when it
//! has no crimes at all). Simulations run in parallel, one per core.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use chrono::{Datelike, Days, NaiveDate};
use cyberflag::cli::{EvaluateArgs, Format};
use cyberflag::config::Config;
use detect::scan::{ScanControl, SeriesInput, WeekCount};
use model::ForceId;

use super::scan::{HISTORY_WEEKS, control};

/// Five years and a quarter of history before the change (Farrington looks five years back).
const HISTORY_FROM: (i32, u32, u32) = (2014, 1, 6);
/// The change, a Monday.
const CHANGE: (i32, u32, u32) = (2019, 4, 1);
/// Weeks of the null runs that are scanned (their last two years).
const NULL_WEEKS: u64 = 104;

fn date((y, m, d): (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// One simulation's weekly series.
struct Simulated {
    counts: Vec<WeekCount>,
    active: BTreeSet<(String, NaiveDate)>,
}

fn monday(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// Simulates into `dir` and reads its ground truth as weekly counts.
fn simulate(options: &simulate::Options, dir: &Path) -> anyhow::Result<Simulated> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    simulate::write_simulation(options, dir)?;
    let path = dir.join("ground-truth.csv");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut sums: BTreeMap<(String, String, NaiveDate), u64> = BTreeMap::new();
    let mut active = BTreeSet::new();
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let [force, recorded, _, group, _, cyber, _, count] = cells[..] else {
            anyhow::bail!("{}: unexpected row {line:?}", path.display());
        };
        let week = monday(
            recorded
                .parse()
                .with_context(|| format!("date in {line:?}"))?,
        );
        active.insert((force.to_owned(), week));
        if cyber == "true" {
            *sums
                .entry((force.to_owned(), group.to_owned(), week))
                .or_default() += count.parse::<u64>().with_context(|| format!("{line:?}"))?;
        }
    }
    std::fs::remove_dir_all(dir).ok();
    Ok(Simulated {
        counts: sums
            .into_iter()
            .map(|((force, offence_group, week), count)| WeekCount {
                force,
                offence_group,
                week,
                count,
            })
            .collect(),
        active,
    })
}

/// The series of `simulated` for a scan of `week`.
fn series_for(simulated: &Simulated, week: NaiveDate) -> Vec<SeriesInput> {
    let from = week - Days::new(7 * HISTORY_WEEKS);
    detect::scan::build_series(&simulated.counts, &simulated.active, from, week)
}

fn options(seed: u64, per_day: f64, to: NaiveDate) -> simulate::Options {
    simulate::Options {
        seed,
        from: date(HISTORY_FROM),
        to,
        today: to + Days::new(1),
        daily_rates: vec![simulate::YearRate {
            year: 2017,
            per_day,
        }],
        ..simulate::Options::default()
    }
}

/// Scan timings, seconds.
#[derive(Default)]
struct Timings(Vec<f64>);

impl Timings {
    fn quantile(&self, q: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        sorted
            .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    }
}

fn scan_timed(
    series: &[SeriesInput],
    week: NaiveDate,
    control: &ScanControl,
    timings: &Mutex<Timings>,
) -> detect::scan::ScanReport {
    let started = Instant::now();
    let report = detect::scan::scan(series, week, control);
    if let Ok(mut t) = timings.lock() {
        t.0.push(started.elapsed().as_secs_f64());
    }
    report
}

/// Runs `job` for each seed on every core, collecting results in seed order.
fn parallel<T: Send>(
    seeds: Vec<u64>,
    job: impl Fn(u64) -> anyhow::Result<T> + Sync,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<T>> {
    let next = AtomicU64::new(0);
    let results = Mutex::new(BTreeMap::new());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers.min(seeds.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst) as usize;
                    let Some(&seed) = seeds.get(index) else { break };
                    let result = job(seed);
                    progress.inc(1);
                    if let Ok(mut r) = results.lock() {
                        r.insert(index, result);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker panicked"))?
        .into_values()
        .collect()
}

pub fn evaluate(args: EvaluateArgs, config: &Config) -> anyhow::Result<()> {
    let force = ForceId::from_id(&args.force)?;
    anyhow::ensure!(
        args.before > 0.0 && args.after > 0.0,
        "--before and --after must be positive"
    );
    let control = control(&config.alerts);
    let work: PathBuf = args.work_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("cyberflag-evaluate-{}", std::process::id()))
    });
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let change = date(CHANGE);
    let null_to = change + Days::new(7 * 52) - Days::new(1);

    // Calibrate the national rate so that the force counts `--before` crimes a year.
    let probe = simulate(&options(0, 10.0, null_to), &work.join("calibrate"))?;
    let year = |c: &WeekCount| {
        c.force == force.as_str() && c.week >= change - Days::new(7 * 52) && c.week < change
    };
    let measured: u64 = probe
        .counts
        .iter()
        .filter(|c| year(c))
        .map(|c| c.count)
        .sum();
    anyhow::ensure!(
        measured > 0,
        "{force} has no simulated crimes to calibrate on"
    );
    let per_day = 10.0 * args.before / measured as f64;
    let factor = args.after / args.before;
    stderr_line!(
        "{force}: {} crimes a year at {per_day:.2} a day nationally; rise ×{factor:.3} from {change}",
        args.before
    );

    let timings = Mutex::new(Timings::default());
    let total = args.seeds + args.null_seeds;
    let progress = crate::telemetry::progress_bar(total, "simulations");

    // Detection runs.
    let rise_to = change + Days::new(7 * (args.within_weeks + 1)) - Days::new(1);
    let seeds: Vec<u64> = (args.first_seed..args.first_seed + args.seeds).collect();
    let detections = parallel(
        seeds,
        |seed| -> anyhow::Result<(Option<u64>, Option<String>)> {
            let mut opts = options(seed, per_day, rise_to);
            opts.rise = Some(simulate::Rise {
                force,
                from: change,
                factor,
            });
            let simulated = simulate(&opts, &work.join(format!("rise-{seed}")))?;
            for k in 0..=args.within_weeks {
                let week = change + Days::new(7 * k);
                let report = scan_timed(&series_for(&simulated, week), week, &control, &timings);
                if let Some(f) = report.findings.iter().find(|f| f.force == force.as_str()) {
                    return Ok((Some(k), Some(f.method.as_str().to_owned())));
                }
            }
            Ok((None, None))
        },
        &progress,
    )?;

    // Null runs.
    let seeds: Vec<u64> = (args.first_seed..args.first_seed + args.null_seeds)
        .map(|s| s + 1_000_000)
        .collect();
    let nulls = parallel(
        seeds,
        |seed| -> anyhow::Result<(u64, u64, u64, usize)> {
            let simulated = simulate(
                &options(seed, per_day, null_to),
                &work.join(format!("null-{seed}")),
            )?;
            let last = monday(null_to) - Days::new(7);
            let (mut weeks, mut alarmed_weeks, mut alerts, mut tests) = (0, 0, 0, 0);
            for k in 0..NULL_WEEKS {
                let week = last - Days::new(7 * k);
                let report = scan_timed(&series_for(&simulated, week), week, &control, &timings);
                weeks += 1;
                alarmed_weeks += u64::from(!report.findings.is_empty());
                alerts += report.findings.len() as u64;
                tests += report.tests;
            }
            Ok((weeks, alarmed_weeks, alerts, tests))
        },
        &progress,
    )?;
    progress.finish_and_clear();
    if args.work_dir.is_none() {
        std::fs::remove_dir_all(&work).ok();
    }

    let detected: Vec<u64> = detections.iter().filter_map(|(k, _)| *k).collect();
    let mut delays = detected.clone();
    delays.sort_unstable();
    let median_delay = delays.get(delays.len() / 2).copied();
    let mut first_methods: BTreeMap<String, u64> = BTreeMap::new();
    for method in detections.iter().filter_map(|(_, m)| m.clone()) {
        *first_methods.entry(method).or_default() += 1;
    }
    let (weeks, alarmed_weeks, alerts, tests) = nulls.iter().fold((0, 0, 0, 0), |a, n| {
        (a.0 + n.0, a.1 + n.1, a.2 + n.2, a.3 + n.3)
    });
    let timings = timings.into_inner().unwrap_or_default();
    let detection_rate = detected.len() as f64 / args.seeds.max(1) as f64;
    let false_week_rate = alarmed_weeks as f64 / weeks.max(1) as f64;
    match args.format {
        Format::Json => crate::out!(
            "{}",
            serde_json::json!({
                "force": force.as_str(), "before": args.before, "after": args.after,
                "within_weeks": args.within_weeks, "seeds": args.seeds,
                "detected": detected.len(), "detection_rate": detection_rate,
                "median_delay_weeks": median_delay, "first_methods": first_methods,
                "delays_weeks": detections.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
                "null_seeds": args.null_seeds, "null_weeks": weeks,
                "weeks_with_false_alerts": alarmed_weeks, "false_week_rate": false_week_rate,
                "false_alerts": alerts, "tests": tests, "fdr": config.alerts.fdr,
                "scan_seconds_median": timings.quantile(0.5),
                "scan_seconds_max": timings.quantile(1.0),
            })
        ),
        Format::Table | Format::Csv => {
            crate::out!(
                "detection    {}/{} seeds ({:.0}%) alerted for {force} within {} weeks of the change; median delay {} week(s); first alert by {first_methods:?}",
                detected.len(),
                args.seeds,
                detection_rate * 100.0,
                args.within_weeks,
                median_delay.map_or("-".into(), |d| d.to_string()),
            );
            crate::out!(
                "false alarm  {alarmed_weeks} of {weeks} weeks ({:.1}%) raised any alert without a change (configured FDR {}); {alerts} alert(s) in {tests} tests",
                false_week_rate * 100.0,
                config.alerts.fdr
            );
            crate::out!(
                "scan time    median {:.3} s, max {:.3} s per week ({} scans)",
                timings.quantile(0.5),
                timings.quantile(1.0),
                timings.0.len()
            );
        }
    }
    Ok(())
}
