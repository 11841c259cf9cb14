//! `cyberflag adapter`: one force's adapter, from a profile or from flags.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use adapters::checkpoint::Checkpoints;
use adapters::profile::{KeysConfig, Profile};
use adapters::publish::{DELIVERY_TIMEOUT, Options, Publishing};
use adapters::summary::Summary;
use anyhow::{Context, bail};
use cyberflag::cli::{AdapterArgs, BackfillArgs};
use cyberflag::config::{Config, SecurityConfig};

use crate::keyring::KeyringFile;
use crate::telemetry;

/// `cyberflag backfill`: a force's history re-published from files, every row again, in file
/// name order, with progress; a profile lends its dialect, mapping and keys, never its own
/// sources.
pub async fn backfill(args: BackfillArgs, config: &Config) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for path in &args.paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| {
                    args.extension.is_empty()
                        || p.extension().is_some_and(|e| {
                            args.extension
                                .iter()
                                .any(|x| x == e.to_string_lossy().as_ref())
                        })
                })
                .collect();
            found.sort();
            files.extend(found);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            bail!("{} is neither a file nor a directory", path.display());
        }
    }
    if files.is_empty() {
        bail!("no files to backfill in {:?}", args.paths);
    }
    stderr_line!("backfilling {} file(s)", files.len());
    let adapter = AdapterArgs {
        profile: args.profile,
        force: args.force,
        dialect: args.dialect,
        resend: true,
        once: true,
        files,
    };
    run_mode(adapter, config, true).await?;
    stderr_line!(
        "backfill published; `cyberflag ingest` stores it, then `cyberflag snapshot` (or the API's \
         next snapshot) makes statistics fast again"
    );
    Ok(())
}

pub async fn run(args: AdapterArgs, config: &Config) -> anyhow::Result<()> {
    run_mode(args, config, false).await
}

async fn run_mode(args: AdapterArgs, config: &Config, backfill: bool) -> anyhow::Result<()> {
    let mut profile = match (&args.profile, &args.force, &args.dialect) {
        (Some(path), _, _) => Profile::load(path)?,
        (None, Some(force), Some(dialect)) => {
            if args.files.is_empty() {
                bail!("give the files to publish after --force and --dialect");
            }
            let dialect = dialect.parse().map_err(anyhow::Error::msg)?;
            Profile::from_flags(force, dialect, args.files.clone())?
        }
        _ => bail!("give --profile FILE, or --force ID --dialect DIALECT FILE…"),
    };
    if profile.mapping.is_none()
        && matches!(
            profile.dialect,
            wire::Dialect::ForceCsv | wire::Dialect::ForceJson
        )
    {
        bail!(
            "dialect {} needs a profile with a [mapping]",
            profile.dialect
        );
    }
    if backfill {
        profile.source.files = args.files.clone();
        profile.source.watch = None;
        profile.source.listen = None;
    }
    let force = profile.force_id()?;
    let keyring = KeyringFile::load(&config.security)?;
    let (signer, pseudonymiser) = keys(&profile, &keyring, &config.security)?;
    // Checked before anything is published: a role that must not run stops at once.
    let push_token = match &profile.source.listen {
        Some(listen) => push_token(&profile, listen, &config.security)?,
        None => None,
    };
    let publisher = bus::Publisher::new(
        &config.kafka_client(),
        &config.kafka.raw_topic,
        DELIVERY_TIMEOUT,
    )
    .context("creating the Kafka producer")?;
    let publishing = Publishing {
        publisher,
        signer,
        pseudonymiser,
        force,
        dialect: profile.dialect,
        mapping: profile.mapping.clone(),
        adapter: profile.name.clone(),
    };
    let checkpoint_path = profile.source.checkpoint.clone().unwrap_or_else(|| {
        Path::new(&config.adapter.state_dir).join(format!("{}.checkpoint.json", profile.name))
    });
    let mut checkpoints = Checkpoints::load(&checkpoint_path)?;
    let options = Options {
        resend: args.resend,
        checkpoint_every: config.adapter.checkpoint_every,
        max_in_flight: usize::try_from(config.adapter.max_in_flight).unwrap_or(usize::MAX),
    };
    tracing::info!(
        adapter = %profile.name, %force, dialect = %profile.dialect,
        topic = %config.kafka.raw_topic, checkpoint = %checkpoint_path.display(),
        "adapter starting"
    );

    let reporter = telemetry::progress_reporter();
    let mut summary = Summary::default();
    let mut files = profile.source.files.clone();
    if args.profile.is_some() && !backfill {
        files.extend(args.files.iter().cloned());
    }
    let result = async {
        for file in &files {
            publishing
                .publish_file(file, &mut checkpoints, options, &mut summary, &*reporter)
                .await?;
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(error) = result {
        stderr_text!("{summary}");
        return Err(error);
    }

    let service = profile.source.listen.is_some() || (profile.source.watch.is_some() && !args.once);
    if service {
        telemetry::serve_metrics(
            config.metrics.listen,
            crate::ready::Readiness::spawn(crate::ready::Role::Adapter, config),
        )?;
    }
    let publishing = Arc::new(publishing);
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(listen) = profile.source.listen.clone() {
        let state = Arc::new(adapters::push::PushState {
            publishing: Arc::clone(&publishing),
            token: push_token,
            max_body_bytes: profile.source.max_body_bytes,
            body_timeout: adapters::push::BODY_TIMEOUT,
        });
        let router = adapters::push::router(state);
        let tls = match (&profile.source.tls_cert_file, &profile.source.tls_key_file) {
            (Some(cert), Some(key)) => Some(crate::http::tls_acceptor(
                &cert.to_string_lossy(),
                &key.to_string_lossy(),
            )?),
            _ => None,
        };
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("binding the push endpoint on {listen}"))?;
        tracing::info!(%listen, tls = tls.is_some(), "accepting pushes on POST /v1/records");
        tasks.spawn(async move {
            crate::http::serve(listener, router, tls, std::future::pending())
                .await
                .context("push endpoint failed")
        });
    }
    if let Some(dir) = profile.source.watch.clone() {
        let extensions = profile.source.extensions.clone();
        let poll = Duration::from_secs(profile.source.poll_interval_secs.max(1));
        let settle = Duration::from_secs(profile.source.settle_secs);
        let once = args.once;
        let publishing = Arc::clone(&publishing);
        let reporter = telemetry::progress_reporter();
        tasks.spawn(async move {
            let mut summary = Summary::default();
            let mut skipped = std::collections::HashSet::new();
            loop {
                let scan = adapters::spool::scan(&dir, &extensions, settle, SystemTime::now())
                    .with_context(|| format!("watching {}", dir.display()))?;
                // File names are outside data: escaped so none can forge a log line.
                for path in scan.not_regular {
                    if skipped.insert(path.clone()) {
                        let shown = path.display().to_string();
                        tracing::warn!(
                            path = %model::text::printable(&shown),
                            "not a regular file; skipped"
                        );
                    }
                }
                for scanned in &scan.ready {
                    // Exactly the file the scan saw, or nothing (see adapters::spool).
                    let file = match adapters::spool::open(scanned) {
                        Ok(file) => file,
                        Err(error @ adapters::spool::SpoolError::Io { .. }) => {
                            return Err(error.into());
                        }
                        Err(error) => {
                            let shown = error.to_string();
                            tracing::warn!(
                                error = %model::text::printable(&shown),
                                "spool file changed under the adapter"
                            );
                            continue;
                        }
                    };
                    publishing
                        .publish_open(
                            &scanned.path,
                            file,
                            &mut checkpoints,
                            options,
                            &mut summary,
                            &*reporter,
                        )
                        .await?;
                }
                if once {
                    stderr_text!("{summary}");
                    return Ok(());
                }
                tokio::time::sleep(poll).await;
            }
        });
    }
    if tasks.is_empty() {
        stderr_text!("{summary}");
        return Ok(());
    }
    stderr_text!("{summary}");
    tokio::select! {
        finished = tasks.join_next() => match finished {
            Some(Ok(result)) => result,
            Some(Err(error)) => Err(error.into()),
            None => Ok(()),
        },
        () = telemetry::shutdown_signal() => {
            tracing::info!("shutting down; acknowledged progress is checkpointed");
            Ok(())
        }
    }
}

/// The bearer token pushes must present. Refused at start-up: a token that is set but empty
/// (the endpoint would accept anyone), the example token published in `deploy/`, and no token
/// on an address other hosts can reach (the last two tolerated in development).
fn push_token(
    profile: &Profile,
    listen: &str,
    security: &SecurityConfig,
) -> anyhow::Result<Option<String>> {
    let source = &profile.source;
    let token = secret_text(
        source.push_token_env.as_deref(),
        source.push_token_file.as_deref(),
        "push token",
        security,
    )?;
    match &token {
        Some(token) if token.is_empty() => bail!(
            "the push token ({}) is empty: the push endpoint would accept any caller; put a \
             long random token there (`openssl rand -hex 32`)",
            secret_source(
                source.push_token_env.as_deref(),
                source.push_token_file.as_deref()
            )
        ),
        Some(_) => {}
        None if loopback(listen) => {}
        None => crate::keyring::tolerate(
            vec![format!(
                "the push endpoint listens on {listen}, which other hosts can reach, without a \
                 token: set push_token_env or push_token_file in the profile's [source]"
            )],
            security,
        )?,
    }
    Ok(token)
}

/// Whether `listen` is a loopback address (`127.0.0.1:…`, `[::1]:…`, `localhost:…`).
fn loopback(listen: &str) -> bool {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(address) => address.ip().is_loopback(),
        Err(_) => listen
            .rsplit_once(':')
            .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost")),
    }
}

/// The signer and pseudonymiser: from the profile's `[keys]`, else from the keyring.
fn keys(
    profile: &Profile,
    keyring: &KeyringFile,
    security: &SecurityConfig,
) -> anyhow::Result<(wire::Signer, wire::Pseudonymiser)> {
    let KeysConfig {
        key_id,
        signing_key_env,
        signing_key_file,
        pseudonymisation_key_env,
        pseudonymisation_key_file,
    } = &profile.keys;
    let from_keyring = keyring.forces.get(&profile.force);
    let signing = match secret_text(
        signing_key_env.as_deref(),
        signing_key_file.as_deref(),
        "signing key",
        security,
    )? {
        Some(text) => text,
        None => from_keyring
            .map(|k| k.signing_key.clone())
            .with_context(|| {
                format!(
                    "no signing key for {}: set [keys] signing_key_env or signing_key_file in the \
                 profile, or security.keyring",
                    profile.force
                )
            })?,
    };
    let key_id = key_id
        .clone()
        .or_else(|| from_keyring.map(|k| k.key_id.clone()))
        .with_context(|| {
            format!(
                "no key_id for {}: set [keys] key_id in the profile",
                profile.force
            )
        })?;
    let pseudonymisation = match secret_text(
        pseudonymisation_key_env.as_deref(),
        pseudonymisation_key_file.as_deref(),
        "pseudonymisation key",
        security,
    )? {
        Some(text) => text,
        None => from_keyring
            .and_then(|k| k.pseudonymisation_key.clone())
            .with_context(|| {
                format!(
                    "no pseudonymisation key for {}: set [keys] pseudonymisation_key_env or \
                 pseudonymisation_key_file in the profile",
                    profile.force
                )
            })?,
    };
    let signing = wire::Secret::from_hex(&signing).context("signing key")?;
    let pseudonymisation =
        wire::Secret::from_hex(&pseudonymisation).context("pseudonymisation key")?;
    Ok((
        wire::Signer::new(key_id, signing),
        wire::Pseudonymiser::new(profile.force.clone(), pseudonymisation),
    ))
}

/// A secret from an environment variable or a file (never from the command line). Refused
/// (tolerated in development): a file other users can read, and a value published as an
/// example in `deploy/`.
fn secret_text(
    env: Option<&str>,
    file: Option<&Path>,
    what: &str,
    security: &SecurityConfig,
) -> anyhow::Result<Option<String>> {
    let mut problems = Vec::new();
    let value = if let Some(name) = env {
        std::env::var(name).with_context(|| format!("environment variable {name} is not set"))?
    } else if let Some(path) = file {
        if let Some(problem) = cyberflag::secrets::file_mode_problem(path)
            .with_context(|| format!("reading secret file {}", path.display()))?
        {
            problems.push(format!(
                "the {what} file {} is not private, {problem}",
                path.display()
            ));
        }
        std::fs::read_to_string(path)
            .with_context(|| format!("reading secret file {}", path.display()))?
    } else {
        return Ok(None);
    };
    let value = value.trim().to_owned();
    if let Some(example) = cyberflag::secrets::example_secret(&value) {
        problems.push(format!(
            "the {what} in {} is {example}, published with cyberflag and so known to everyone; \
             replace it with a real secret (`openssl rand -hex 32`)",
            secret_source(env, file)
        ));
    }
    crate::keyring::tolerate(problems, security)?;
    Ok(Some(value))
}

/// Where a secret comes from, for messages (never its value).
fn secret_source(env: Option<&str>, file: Option<&Path>) -> String {
    match (env, file) {
        (Some(name), _) => format!("environment variable {name}"),
        (None, Some(path)) => format!("file {}", path.display()),
        (None, None) => "nowhere".into(),
    }
}
