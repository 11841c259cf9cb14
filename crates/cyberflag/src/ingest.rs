//! `cyberflag ingest` and `cyberflag stats`.

use std::time::Duration;

use anyhow::Context;
use cyberflag::cli::{Format, IngestArgs, StatsArgs};
use cyberflag::config::Config;
use warehouse::{Dimension, StatsQuery};

use crate::keyring::KeyringFile;
use crate::telemetry;

pub async fn run(args: IngestArgs, config: &Config) -> anyhow::Result<()> {
    let keyring = KeyringFile::load(&config.security)?.verification()?;
    let warehouse = warehouse::Warehouse::new(&config.warehouse());
    let schema = warehouse.schema_version().await.with_context(|| {
        format!(
            "reading the schema version from {} (has `cyberflag migrate` run?)",
            config.clickhouse.display_url()
        )
    })?;
    tracing::info!(schema, keys = keyring.len(), "ingest configuration loaded");
    telemetry::serve_metrics(
        config.metrics.listen,
        crate::ready::Readiness::spawn(crate::ready::Role::Ingest, config),
    )?;
    let settings = ingest::service::Settings {
        group: config.ingest.group.clone(),
        raw_topic: config.kafka.raw_topic.clone(),
        dlq_topic: config.kafka.dlq_topic.clone(),
        batch_rows: usize::try_from(config.ingest.batch_rows).unwrap_or(usize::MAX),
        batch_bytes: usize::try_from(config.ingest.batch_bytes).unwrap_or(usize::MAX),
        batch_interval: Duration::from_millis(config.ingest.batch_interval_ms),
        exit_when_idle: args
            .exit_when_idle
            .then(|| Duration::from_secs(args.idle_seconds.max(1))),
        seen_capacity: usize::try_from(config.ingest.seen_capacity).unwrap_or(usize::MAX),
        instance_id: Some(config.ingest.instance_id.clone()).filter(|id| !id.is_empty()),
    };
    let totals = ingest::service::run(
        &settings,
        &config.kafka_client(),
        &warehouse,
        &keyring,
        telemetry::shutdown_signal(),
    )
    .await?;
    stderr_line!(
        "received {}, stored {}, duplicates {}, dead-lettered {}",
        totals.received,
        totals.stored,
        totals.duplicates,
        totals.dead_lettered_total()
    );
    for (reason, count) in &totals.dead_lettered {
        stderr_line!("  dead-lettered {count:>8}  {reason}");
    }
    Ok(())
}

pub async fn stats(args: StatsArgs, config: &Config) -> anyhow::Result<()> {
    let by = args
        .by
        .iter()
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.parse::<Dimension>().map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let forces = args
        .force
        .iter()
        .map(|f| model::ForceId::lookup(f).map_err(anyhow::Error::from))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let offence_groups = args
        .offence_group
        .iter()
        .map(|g| {
            g.parse::<model::OffenceGroup>()
                .map_err(anyhow::Error::from)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let (Some(from), Some(to)) = (args.from, args.to) {
        anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    }
    let query = StatsQuery {
        by,
        from: args.from,
        to: args.to,
        forces,
        offence_groups,
        cyber: args.cyber,
        as_at: args.as_at,
    };
    let warehouse = warehouse::Warehouse::new(&config.warehouse());
    let rows = warehouse
        .stats(&query)
        .await
        .with_context(|| format!("querying {}", config.clickhouse.display_url()))?;
    let header: Vec<&str> = query.by.iter().map(|d| d.name()).chain(["count"]).collect();
    // Values come from the store, which outside data reached: escaped, so a cell cannot drive
    // the terminal or add a line (JSON escapes on its own).
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.values
                .iter()
                .map(|value| model::text::printable(value).into_owned())
                .chain([row.count.to_string()])
                .collect()
        })
        .collect();
    match args.format {
        Format::Csv => {
            crate::out!("{}", header.join(","));
            for line in &lines {
                let cells: Vec<String> = line.iter().map(|c| csv_cell(c)).collect();
                crate::out!("{}", cells.join(","));
            }
        }
        Format::Json => {
            let objects: Vec<serde_json::Value> = rows
                .iter()
                .map(|row| {
                    let mut object = serde_json::Map::new();
                    for (dimension, value) in query.by.iter().zip(&row.values) {
                        object.insert(dimension.name().to_owned(), value.clone().into());
                    }
                    object.insert("count".into(), row.count.into());
                    serde_json::Value::Object(object)
                })
                .collect();
            crate::out!("{}", serde_json::Value::Array(objects));
        }
        Format::Table => {
            let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
            for line in &lines {
                for (width, cell) in widths.iter_mut().zip(line) {
                    *width = (*width).max(cell.len());
                }
            }
            let render = |cells: Vec<&str>| -> String {
                cells
                    .iter()
                    .zip(&widths)
                    .enumerate()
                    .map(|(i, (cell, width))| {
                        if i + 1 == cells.len() {
                            format!("{cell:>width$}")
                        } else {
                            format!("{cell:<width$}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("  ")
            };
            crate::out!("{}", render(header.clone()));
            for line in &lines {
                crate::out!("{}", render(line.iter().map(String::as_str).collect()));
            }
            let total: u64 = rows.iter().map(|r| r.count).sum();
            stderr_line!("{} group(s), {total} crime(s)", rows.len());
        }
    }
    Ok(())
}

/// A CSV cell, quoted when needed; a leading formula character is neutralised so a
/// spreadsheet never evaluates a value (force and group names are ours, but be safe).
fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) && value.parse::<f64>().is_err() {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}
