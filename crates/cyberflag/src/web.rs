//! `cyberflag api` and `cyberflag token`: wiring the `api` crate to configuration.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use cyberflag::cli::{ApiArgs, SnapshotArgs, TokenCommand};
use cyberflag::config::Config;

use crate::telemetry;

pub async fn serve(args: ApiArgs, config: &Config) -> anyhow::Result<()> {
    let address = args.listen.unwrap_or(config.api.listen);
    let tokens = api::access::TokenStore::open(Path::new(&config.api.tokens_file))?;
    let rule = config.disclosure_rule()?;
    let handle = telemetry::install_recorder()?;
    let state = Arc::new(api::server::ApiState {
        warehouse: warehouse::Warehouse::new(&config.warehouse()),
        tokens,
        rule,
        budget: api::budget::Budget::new(
            u32::try_from(config.api.requests_per_minute).unwrap_or(u32::MAX),
            u32::try_from(config.api.request_burst).unwrap_or(u32::MAX),
        ),
        metrics: Box::new(move || handle.render()),
        ready: {
            let readiness = crate::ready::Readiness::spawn(crate::ready::Role::Api, config);
            Box::new(move || readiness.report())
        },
        query_timeout: std::time::Duration::from_secs(config.api.query_timeout_secs),
    });
    if config.api.snapshot_secs > 0 {
        tokio::spawn(refresh_snapshots(
            warehouse::Warehouse::new(&config.warehouse()),
            config.api.clone(),
        ));
    }
    let tls = crate::http::optional_tls(&config.api.tls_cert_file, &config.api.tls_key_file)?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("listening on {address}"))?;
    tracing::info!(
        %address,
        tls = tls.is_some(),
        tokens_file = %config.api.tokens_file,
        "serving the API and dashboard"
    );
    crate::http::serve(
        listener,
        api::server::router(state),
        tls,
        telemetry::shutdown_signal(),
    )
    .await
    .context("serving the API")?;
    Ok(())
}

pub async fn snapshot(args: SnapshotArgs, config: &Config) -> anyhow::Result<()> {
    let margin = args
        .margin
        .unwrap_or(u32::try_from(config.api.snapshot_margin_secs).unwrap_or(u32::MAX));
    let report = warehouse::Warehouse::new(&config.warehouse())
        .build_snapshot(margin)
        .await
        .with_context(|| {
            format!(
                "building a count snapshot in {}",
                config.clickhouse.display_url()
            )
        })?;
    stderr_line!(
        "snapshot {} (versions stored up to {}): {} groups of {} forces in {:.1} s",
        report.snapshot.id,
        chrono::DateTime::from_timestamp(i64::from(report.snapshot.cutoff), 0).unwrap_or_default(),
        report.groups,
        report.forces,
        report.seconds
    );
    Ok(())
}

/// Rebuilds the count snapshot every `api.snapshot_secs`, or sooner once
/// `api.snapshot_changes` versions were stored after the last one; failures are logged and
/// retried (queries stay exact without a fresh snapshot, only slower).
async fn refresh_snapshots(warehouse: warehouse::Warehouse, config: cyberflag::config::ApiConfig) {
    let margin = u32::try_from(config.snapshot_margin_secs).unwrap_or(u32::MAX);
    let every = std::time::Duration::from_secs(config.snapshot_secs);
    let mut last_build: Option<std::time::Instant> = None;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(30).min(every));
    loop {
        tick.tick().await;
        let due = match warehouse.latest_snapshot().await {
            Ok(None) => true,
            Ok(Some(snapshot)) => {
                let aged = last_build.is_none_or(|t| t.elapsed() >= every);
                let changes = warehouse.changes_since(snapshot).await.unwrap_or(u64::MAX);
                metrics::gauge!("cyberflag_api_changes_since_snapshot").set(changes as f64);
                aged || changes > config.snapshot_changes
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read the latest count snapshot");
                false
            }
        };
        if !due {
            continue;
        }
        match warehouse.build_snapshot(margin).await {
            Ok(report) => {
                last_build = Some(std::time::Instant::now());
                metrics::gauge!("cyberflag_api_snapshot_seconds").set(report.seconds);
                tracing::info!(
                    snapshot = report.snapshot.id,
                    groups = report.groups,
                    seconds = report.seconds,
                    "count snapshot built"
                );
            }
            Err(error) => {
                tracing::error!(%error, "count snapshot failed; queries stay exact, only slower");
            }
        }
    }
}

pub fn token(command: TokenCommand, config: &Config) -> anyhow::Result<()> {
    let path = Path::new(&config.api.tokens_file);
    match command {
        TokenCommand::Create { role, name } => {
            let name = match name {
                Some(name) => name,
                None => {
                    let taken = api::access::list_tokens(path)?.len();
                    format!("{}-{}", role.replace(':', "-"), taken + 1)
                }
            };
            let (token, entry) = api::access::create_token(path, &role, &name)?;
            crate::out!("{token}");
            stderr_line!(
                "created token {:?} for role {} in {}; it is shown only now, store it safely",
                entry.name,
                entry.role,
                path.display()
            );
        }
        TokenCommand::List => {
            use model::text::printable;
            crate::out!("{:<28} {:<28} {:<22} status", "name", "role", "created");
            for entry in api::access::list_tokens(path)? {
                // The file is outside data (anyone who can write it chose these strings).
                crate::out!(
                    "{:<28} {:<28} {:<22} {}",
                    printable(&entry.name),
                    printable(&entry.role),
                    printable(&entry.created),
                    if entry.revoked { "revoked" } else { "active" }
                );
            }
        }
        TokenCommand::Revoke { name } => {
            api::access::revoke_token(path, &name)?;
            stderr_line!("revoked token {name:?}");
        }
    }
    Ok(())
}
