//! `cyberflag alerts run`: the alerting service.
//!
//! Each evaluation scans the complete weeks not yet evaluated (at most the last
//! [`CATCH_UP_WEEKS`]; `--week` for one given week) and the data-quality checks, turns the
//! findings into alert revisions (opened, updated with a later week, resolved after
//! `alerts.quiet_weeks` weeks without a finding), stores them in ClickHouse, records the week
//! in `alert_runs`, and then delivers what is pending to every Alertmanager. Re-evaluating a
//! week changes nothing: an open alert already holding that week is left alone.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Days, NaiveDate, Utc};
use cyberflag::cli::RunArgs;
use cyberflag::config::Config;
use detect::quality::{FlagWeek, QualityControl, QualityFinding};
use warehouse::{AlertKind, AlertNumbers, AlertRow, AlertRunRow, Warehouse};

use super::scan::{check_week, control, last_complete_week, load_series};
use super::webhook::{Receiver, deliver};
use crate::telemetry;

/// Missed weeks evaluated when the service comes back after a long stop.
const CATCH_UP_WEEKS: usize = 8;

pub async fn run(args: RunArgs, config: &Config) -> anyhow::Result<()> {
    let warehouse = Warehouse::new(&config.warehouse());
    let version = warehouse.schema_version().await.with_context(|| {
        format!(
            "reading the schema version of {:?} at {}",
            config.clickhouse.database, config.clickhouse.url
        )
    })?;
    anyhow::ensure!(
        version >= 2,
        "database {:?} is at schema version {version} and has no alert tables: run `cyberflag migrate`",
        config.clickhouse.database
    );
    let receivers = Receiver::from_config(config)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the webhook client")?;
    if !args.once {
        telemetry::serve_metrics(
            config.metrics.listen,
            crate::ready::Readiness::spawn(crate::ready::Role::Alerts, config),
        )?;
    }
    let interval = Duration::from_secs(config.alerts.interval_secs);
    let retry = Duration::from_secs(config.alerts.retry_secs);
    let shutdown = telemetry::shutdown_signal();
    tokio::pin!(shutdown);
    let mut next_evaluation = Instant::now();
    loop {
        if Instant::now() >= next_evaluation {
            let today = args.today.unwrap_or_else(|| Utc::now().date_naive());
            match evaluate(&warehouse, config, args.week, today).await {
                Ok(()) => next_evaluation = Instant::now() + interval,
                Err(error) if args.once => return Err(error),
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "evaluation failed; retrying");
                    next_evaluation = Instant::now() + retry;
                }
            }
        }
        let pending = match deliver(&warehouse, &receivers, &client, config).await {
            Ok(delivered) => delivered.pending,
            Err(error) if args.once => return Err(error),
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "delivery round failed");
                1
            }
        };
        if args.once {
            anyhow::ensure!(
                pending == 0,
                "{pending} alert revision(s) not accepted by their receiver; they stay pending \
                 and are delivered by the next `cyberflag alerts run`"
            );
            return Ok(());
        }
        let wait = if pending > 0 {
            retry
        } else {
            next_evaluation.saturating_duration_since(Instant::now())
        };
        tokio::select! {
            _ = tokio::time::sleep(wait.min(next_evaluation.saturating_duration_since(Instant::now()).max(Duration::from_millis(10)))) => {}
            _ = &mut shutdown => {
                tracing::info!("stopping");
                return Ok(());
            }
        }
    }
}

/// The weeks to evaluate now.
async fn weeks_due(
    warehouse: &Warehouse,
    week: Option<NaiveDate>,
    today: NaiveDate,
) -> anyhow::Result<Vec<NaiveDate>> {
    if let Some(week) = week {
        check_week(week, today).map_err(|e| anyhow::anyhow!("--week: {e}"))?;
        return Ok(vec![week]);
    }
    let current = last_complete_week(today);
    let last = warehouse
        .last_evaluated_week()
        .await
        .context("reading the last evaluated week")?;
    let mut weeks: Vec<NaiveDate> = match last {
        None => vec![current],
        Some(last) => (1..)
            .map(|i| last + Days::new(7 * i))
            .take_while(|w| *w <= current)
            .collect(),
    };
    if weeks.len() > CATCH_UP_WEEKS {
        let skipped = weeks.len() - CATCH_UP_WEEKS;
        tracing::warn!(
            skipped,
            "more complete weeks than the catch-up limit; evaluating the latest {CATCH_UP_WEEKS}"
        );
        weeks.drain(..skipped);
    }
    Ok(weeks)
}

async fn evaluate(
    warehouse: &Warehouse,
    config: &Config,
    week: Option<NaiveDate>,
    today: NaiveDate,
) -> anyhow::Result<()> {
    for week in weeks_due(warehouse, week, today).await? {
        evaluate_week(warehouse, config, week).await?;
    }
    evaluate_quality(warehouse, config, today).await?;
    let open = warehouse
        .open_alerts()
        .await
        .context("reading open alerts")?;
    metrics::gauge!("cyberflag_alerts_open").set(open.len() as f64);
    Ok(())
}

/// Scans one week and stores what changed.
async fn evaluate_week(
    warehouse: &Warehouse,
    config: &Config,
    week: NaiveDate,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let series = load_series(warehouse, week).await?;
    let report = detect::scan::scan(&series, week, &control(&config.alerts));
    metrics::histogram!("cyberflag_alerts_scan_seconds").record(started.elapsed().as_secs_f64());
    let open = warehouse
        .open_alerts()
        .await
        .context("reading open alerts")?;
    let now = Utc::now();
    let mut run = AlertRunRow::new(week, now);
    let mut rows = Vec::new();
    let mut found = std::collections::HashSet::new();
    for (rank, finding) in report.findings.iter().enumerate() {
        let method = finding.method.as_str();
        found.insert((
            method,
            finding.force.as_str(),
            finding.offence_group.as_str(),
        ));
        let numbers = AlertNumbers {
            week,
            observed: finding.observed,
            expected: finding.expected,
            threshold: finding.threshold,
            score: finding.score,
            p_value: Some(finding.p_value),
            rank: u32::try_from(rank + 1).unwrap_or(u32::MAX),
        };
        let existing = open.iter().find(|a| {
            a.kind() == AlertKind::Rise
                && a.method() == method
                && a.force() == finding.force
                && a.offence_group() == finding.offence_group
        });
        match existing {
            Some(alert) if alert.numbers().week < week => {
                rows.push(alert.updated(&numbers, now));
                run.updated += 1;
            }
            Some(_) => {}
            None => {
                rows.push(AlertRow::open(
                    AlertKind::Rise,
                    method,
                    &finding.force,
                    &finding.offence_group,
                    &numbers,
                    now,
                ));
                run.opened += 1;
            }
        }
    }
    // An alert of this week that was already resolved (a re-run of an old week) stays resolved.
    let opened: Vec<String> = rows
        .iter()
        .filter(|r| r.revision() == 1)
        .map(|r| r.alert_id().to_owned())
        .collect();
    let existing = warehouse
        .existing_alert_ids(&opened)
        .await
        .context("reading stored alerts")?;
    if !existing.is_empty() {
        rows.retain(|r| !(r.revision() == 1 && existing.contains(r.alert_id())));
        run.opened -= u32::try_from(existing.len()).unwrap_or(0);
    }
    let quiet = Days::new(7 * config.alerts.quiet_weeks);
    for alert in open.iter().filter(|a| a.kind() == AlertKind::Rise) {
        let key = (alert.method(), alert.force(), alert.offence_group());
        if !found.contains(&key) && week >= alert.numbers().week + quiet {
            rows.push(alert.resolved(now));
            run.resolved += 1;
        }
    }
    warehouse
        .insert_alerts(&rows)
        .await
        .context("storing alerts")?;
    run.series = u32::try_from(series.len()).unwrap_or(u32::MAX);
    run.tests = u32::try_from(report.tests).unwrap_or(u32::MAX);
    run.skipped = u32::try_from(report.skipped.len()).unwrap_or(u32::MAX);
    run.findings = u32::try_from(report.findings.len()).unwrap_or(u32::MAX);
    run.p_cutoff = report.p_cutoff;
    warehouse
        .insert_alert_run(&run)
        .await
        .context("recording the evaluated week")?;
    metrics::counter!("cyberflag_alerts_opened_total").increment(u64::from(run.opened));
    metrics::counter!("cyberflag_alerts_resolved_total").increment(u64::from(run.resolved));
    tracing::info!(
        %week,
        series = run.series,
        tests = run.tests,
        findings = run.findings,
        opened = run.opened,
        updated = run.updated,
        resolved = run.resolved,
        too_short = run.skipped,
        seconds = started.elapsed().as_secs_f64(),
        "week evaluated"
    );
    Ok(())
}

/// Silent forces and collapsed flag shares, as of `today`: opened when found, resolved as soon
/// as they are no longer found.
async fn evaluate_quality(
    warehouse: &Warehouse,
    config: &Config,
    today: NaiveDate,
) -> anyhow::Result<()> {
    let control = QualityControl {
        silent_days: u32::try_from(config.alerts.silent_days).unwrap_or(u32::MAX),
        drop: config.alerts.flag_share_drop,
        ..QualityControl::default()
    };
    let week = last_complete_week(today);
    let last = warehouse
        .last_received_by_force()
        .await
        .context("reading when each force last sent records")?;
    let mut findings: Vec<QualityFinding> = detect::quality::silent_forces(&last, today, &control);
    let shares = warehouse
        .weekly_flag_shares(week - Days::new(7 * 56), week + Days::new(6))
        .await
        .context("reading weekly flag shares")?;
    let mut by_force: BTreeMap<String, Vec<FlagWeek>> = BTreeMap::new();
    for (force, monday, crimes, flagged) in shares {
        by_force.entry(force).or_default().push(FlagWeek {
            week: monday,
            crimes,
            flagged,
        });
    }
    findings.extend(by_force.iter().filter_map(|(force, weeks)| {
        detect::quality::flag_share_collapse(force, weeks, week, &control)
    }));
    let now = Utc::now();
    let open = warehouse
        .open_alerts()
        .await
        .context("reading open alerts")?;
    let rows = reconcile_quality(&open, &findings, week, now);
    warehouse
        .insert_alerts(&rows)
        .await
        .context("storing data-quality alerts")?;
    Ok(())
}

/// New data-quality alerts for findings without an open one; resolutions for open ones no
/// longer found.
fn reconcile_quality(
    open: &[AlertRow],
    findings: &[QualityFinding],
    week: NaiveDate,
    now: DateTime<Utc>,
) -> Vec<AlertRow> {
    let mut rows = Vec::new();
    for finding in findings {
        let method = finding.kind.as_str();
        let exists = open.iter().any(|a| {
            a.kind() == AlertKind::DataQuality && a.method() == method && a.force() == finding.force
        });
        if !exists {
            let numbers = AlertNumbers {
                week,
                observed: finding.observed,
                expected: finding.expected,
                threshold: finding.threshold,
                score: finding.score,
                p_value: finding.p_value,
                rank: 0,
            };
            rows.push(AlertRow::open(
                AlertKind::DataQuality,
                method,
                &finding.force,
                "",
                &numbers,
                now,
            ));
            tracing::warn!(force = %finding.force, check = method, "data-quality alert");
        }
    }
    for alert in open.iter().filter(|a| a.kind() == AlertKind::DataQuality) {
        let still = findings
            .iter()
            .any(|f| f.kind.as_str() == alert.method() && f.force == alert.force());
        if !still {
            rows.push(alert.resolved(now));
        }
    }
    rows
}
