//! `cyberflag alerts list`: what duty officers look at first.

use anyhow::Context;
use chrono::Utc;
use cyberflag::cli::{Format, ListArgs};
use cyberflag::config::Config;
use warehouse::{AlertKind, AlertRow};

pub async fn list(args: ListArgs, config: &Config) -> anyhow::Result<()> {
    let warehouse = warehouse::Warehouse::new(&config.warehouse());
    let since = Utc::now() - chrono::Duration::days(i64::from(args.days));
    let mut alerts = warehouse
        .recent_alerts(if args.days == 0 { Utc::now() } else { since })
        .await
        .with_context(|| format!("reading alerts from {}", config.clickhouse.display_url()))?;
    // Open first, strongest first; then the recently resolved.
    alerts.sort_by(|a, b| {
        (a.status().as_str(), rank(a))
            .cmp(&(b.status().as_str(), rank(b)))
            .then_with(|| a.alert_id().cmp(b.alert_id()))
    });
    // Strings read back from the store are escaped before they reach a terminal.
    use model::text::printable;
    let number = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_default();
    match args.format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = alerts
                .iter()
                .map(|a| {
                    let n = a.numbers();
                    serde_json::json!({
                        "alert_id": a.alert_id(), "status": a.status().as_str(),
                        "kind": kind(a), "force": a.force(), "offence_group": a.offence_group(),
                        "method": a.method(), "opened_week": a.opened_week().to_string(),
                        "week": n.week.to_string(), "observed": n.observed, "expected": n.expected,
                        "threshold": n.threshold, "score": n.score, "p_value": n.p_value,
                        "rank": n.rank, "revision": a.revision(),
                    })
                })
                .collect();
            crate::out!("{}", serde_json::Value::Array(rows));
        }
        Format::Csv => {
            crate::out!(
                "status,kind,force,offence_group,method,opened_week,week,observed,expected,score,p_value,rank"
            );
            for a in &alerts {
                let n = a.numbers();
                crate::out!(
                    "{},{},{},{},{},{},{},{},{},{},{},{}",
                    a.status().as_str(),
                    kind(a),
                    printable(a.force()),
                    printable(a.offence_group()),
                    printable(a.method()),
                    a.opened_week(),
                    n.week,
                    n.observed,
                    number(n.expected),
                    number(n.score),
                    n.p_value.map(|p| format!("{p:.1e}")).unwrap_or_default(),
                    n.rank
                );
            }
        }
        Format::Table => {
            crate::out!(
                "{:<9} {:<12} {:<22} {:<44} {:<20} {:<10} {:>8} {:>9} {:>8}",
                "status",
                "kind",
                "force",
                "offence group",
                "method",
                "week",
                "observed",
                "expected",
                "p"
            );
            for a in &alerts {
                let n = a.numbers();
                crate::out!(
                    "{:<9} {:<12} {:<22} {:<44} {:<20} {:<10} {:>8} {:>9} {:>8}",
                    a.status().as_str(),
                    kind(a),
                    printable(a.force()),
                    printable(a.offence_group()),
                    printable(a.method()),
                    n.week.to_string(),
                    n.observed,
                    number(n.expected),
                    n.p_value.map(|p| format!("{p:.1e}")).unwrap_or_default()
                );
            }
        }
    }
    stderr_line!(
        "{} open alert(s)",
        alerts
            .iter()
            .filter(|a| a.status() == warehouse::AlertStatus::Firing)
            .count()
    );
    Ok(())
}

fn kind(alert: &AlertRow) -> &'static str {
    match alert.kind() {
        AlertKind::Rise => "rise",
        AlertKind::DataQuality => "data-quality",
    }
}

/// Rank for ordering: data quality first (rank 0), then the week's ranking.
fn rank(alert: &AlertRow) -> u32 {
    alert.numbers().rank
}
