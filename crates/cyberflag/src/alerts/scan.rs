//! `cyberflag alerts scan`, and what every alerting command shares: which week is complete,
//! the detectors' control from configuration, and the weekly series read from ClickHouse.

use std::collections::BTreeSet;

use anyhow::{Context, bail};
use chrono::{Datelike, Days, NaiveDate};
use cyberflag::cli::{Format, ScanArgs};
use cyberflag::config::{AlertsConfig, Config};
use detect::scan::{ScanControl, SeriesInput, WeekCount};

/// Weeks of history read for a scan: Farrington's five years back plus its window.
pub const HISTORY_WEEKS: u64 = 52 * 6;

/// The Monday of the last week that ended before `today`.
pub fn last_complete_week(today: NaiveDate) -> NaiveDate {
    today - Days::new(u64::from(today.weekday().num_days_from_monday()) + 7)
}

/// Checks that `week` is a Monday of a complete week.
pub fn check_week(week: NaiveDate, today: NaiveDate) -> anyhow::Result<()> {
    if week.weekday() != chrono::Weekday::Mon {
        bail!(
            "week {week} is a {}: give the Monday of the week",
            week.weekday()
        );
    }
    let last = last_complete_week(today);
    if week > last {
        bail!("the week of {week} is not complete yet; the last complete week began on {last}");
    }
    Ok(())
}

/// The detectors' control from `[alerts]`.
pub fn control(alerts: &AlertsConfig) -> ScanControl {
    let mut control = ScanControl {
        fdr: alerts.fdr,
        primary_weight: alerts.primary_weight,
        ..ScanControl::default()
    };
    control.farrington.alpha = alerts.farrington_alpha;
    control.cusum.threshold = alerts.cusum_threshold;
    control.cusum.window = usize::try_from(alerts.cusum_window).unwrap_or(usize::MAX);
    control
}

/// Every series for a scan of `week`, from the current state in ClickHouse.
pub async fn load_series(
    warehouse: &warehouse::Warehouse,
    week: NaiveDate,
) -> anyhow::Result<Vec<SeriesInput>> {
    let from = week - Days::new(7 * HISTORY_WEEKS);
    let to = week + Days::new(6);
    let counts: Vec<WeekCount> = warehouse
        .weekly_cyber_counts(from, to)
        .await
        .context("reading weekly counts")?
        .into_iter()
        .map(|c| WeekCount {
            force: c.force,
            offence_group: c.offence_group,
            week: c.week,
            count: c.count,
        })
        .collect();
    let active: BTreeSet<(String, NaiveDate)> = warehouse
        .active_weeks(from, to)
        .await
        .context("reading which weeks each force sent data for")?
        .into_iter()
        .collect();
    Ok(detect::scan::build_series(&counts, &active, from, week))
}

pub async fn scan(args: ScanArgs, config: &Config) -> anyhow::Result<()> {
    let today = chrono::Utc::now().date_naive();
    let week = args.week.unwrap_or_else(|| last_complete_week(today));
    check_week(week, today).map_err(|e| anyhow::anyhow!("--week: {e}"))?;
    let mut alerts = config.alerts.clone();
    if let Some(fdr) = args.fdr {
        anyhow::ensure!(fdr > 0.0 && fdr < 1.0, "--fdr must be between 0 and 1");
        alerts.fdr = fdr;
    }
    let warehouse = warehouse::Warehouse::new(&config.warehouse());
    let series = load_series(&warehouse, week)
        .await
        .with_context(|| format!("from ClickHouse at {}", config.clickhouse.display_url()))?;
    let report = detect::scan::scan(&series, week, &control(&alerts));
    let number = |value: Option<f64>| value.map(|v| format!("{v:.3}")).unwrap_or_default();
    match args.format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = report
                .findings
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "force": f.force, "offence_group": f.offence_group,
                        "week": f.week.to_string(), "method": f.method.as_str(),
                        "observed": f.observed, "expected": f.expected, "threshold": f.threshold,
                        "score": f.score, "p_value": f.p_value,
                    })
                })
                .collect();
            crate::out!("{}", serde_json::Value::Array(rows));
        }
        Format::Csv | Format::Table => {
            crate::out!("series,week,method,observed,expected,threshold,score,p_value");
            for f in &report.findings {
                crate::out!(
                    "{},{},{},{},{},{},{},{:.3e}",
                    // Series names come from stored values: escaped for the terminal.
                    model::text::printable(&f.key()),
                    f.week,
                    f.method.as_str(),
                    f.observed,
                    number(f.expected),
                    number(f.threshold),
                    number(f.score),
                    f.p_value
                );
            }
        }
    }
    stderr_line!(
        "week of {week}: {} series, {} tests, {} finding(s) at FDR {} (p ≤ {:.2e}), {} series with too little history",
        series.len(),
        report.tests,
        report.findings.len(),
        alerts.fdr,
        report.p_cutoff,
        report.skipped.len()
    );
    Ok(())
}
