//! `cyberflag api` and `cyberflag token`: wiring the `api` crate to configuration.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use cyberflag::cli::{ApiArgs, TokenCommand};
use cyberflag::config::Config;

use crate::telemetry;

pub async fn serve(args: ApiArgs, config: &Config) -> anyhow::Result<()> {
    let listen = args.listen.unwrap_or_else(|| config.api.listen.clone());
    let address: std::net::SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen:?} is not an address like 127.0.0.1:8080"))?;
    let tokens = api::access::TokenStore::open(Path::new(&config.api.tokens_file))?;
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    let state = Arc::new(api::server::ApiState {
        warehouse: warehouse::Warehouse::new(&config.warehouse()),
        tokens,
        rule: api::disclosure::Rule {
            suppress_max: config.api.suppress_max,
            base: config.api.rounding_base,
        },
        metrics: Box::new(move || handle.render()),
    });
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("listening on {address}"))?;
    tracing::info!(%address, tokens_file = %config.api.tokens_file, "serving the API and dashboard");
    axum::serve(listener, api::server::router(state))
        .with_graceful_shutdown(telemetry::shutdown_signal())
        .await
        .context("serving the API")?;
    Ok(())
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
            eprintln!(
                "created token {:?} for role {} in {}; it is shown only now, store it safely",
                entry.name,
                entry.role,
                path.display()
            );
        }
        TokenCommand::List => {
            crate::out!("{:<28} {:<28} {:<22} status", "name", "role", "created");
            for entry in api::access::list_tokens(path)? {
                crate::out!(
                    "{:<28} {:<28} {:<22} {}",
                    entry.name,
                    entry.role,
                    entry.created,
                    if entry.revoked { "revoked" } else { "active" }
                );
            }
        }
        TokenCommand::Revoke { name } => {
            api::access::revoke_token(path, &name)?;
            eprintln!("revoked token {name:?}");
        }
    }
    Ok(())
}
