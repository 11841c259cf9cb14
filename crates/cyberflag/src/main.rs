//! `cyberflag`: the single binary; each subcommand is one role of the pipeline.

/// `eprintln!` that cannot panic: a full disk or a closed pipe behind standard error must not
/// take a running service down (its work does not depend on its messages being written).
/// Control characters other than tabs and newlines are escaped (`model::text::printable_layout`),
/// so no message quoting outside data can drive the terminal.
macro_rules! stderr_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        let _ = writeln!(std::io::stderr(), "{}", model::text::printable_layout(&text));
    }};
}

/// `eprint!` that cannot panic (see [`stderr_line`]).
macro_rules! stderr_text {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        let _ = write!(std::io::stderr(), "{}", model::text::printable_layout(&text));
    }};
}

mod adapter;
mod alerts;
mod dlq;
mod doctor;
mod http;
mod ingest;
mod keyring;
mod ready;
mod simulate;
mod telemetry;
mod web;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use cyberflag::cli::{AlertsCommand, Cli, Command, ConfigCommand, DlqCommand, TopicsCommand};
use cyberflag::config::{self, Config, LogFormat};
use tracing_subscriber::EnvFilter;

/// jemalloc: it returns freed memory to the kernel and reports the live heap (see
/// `telemetry::record_heap` and the dependency's note in Cargo.toml).
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Prints a line to standard output; a closed pipe (`cyberflag … | head`) ends the process
/// quietly instead of panicking. Control characters other than tabs and newlines are escaped
/// whatever the caller passed (`model::text::printable_layout`): the last line of defence
/// behind the per-field escaping of outside data.
pub(crate) fn emit(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let text = line.to_string();
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(model::text::printable_layout(&text).as_bytes())
        .and_then(|()| stdout.write_all(b"\n"));
    if written.is_err_and(|error| error.kind() == std::io::ErrorKind::BrokenPipe) {
        std::process::exit(0);
    }
}

#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::emit(format_args!($($arg)*)) };
}

fn main() -> ExitCode {
    // Purge freed pages on a timer, not only when an arena is next used: a quiet role (an API
    // between requests) would otherwise hold its freed memory indefinitely.
    #[cfg(target_os = "linux")]
    if let Err(error) = tikv_jemalloc_ctl::background_thread::write(true) {
        stderr_line!(
            "cannot start jemalloc's purging thread ({error}); freed memory returns later"
        );
    }
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            stderr_line!("error: {error}");
            stderr_line!(
                "hint: `cyberflag config keys` lists every key and its CYBERFLAG_* variable"
            );
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            stderr_line!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            stderr_line!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &Config) {
    let filter = std::env::var("CYBERFLAG_LOG")
        .ok()
        .and_then(|value| EnvFilter::try_new(value).ok())
        .or_else(|| EnvFilter::try_new(&config.log.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // Colours only on a terminal: log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A failed write (a full log disk) loses that line; reporting it on the same full
        // standard error would panic.
        .log_internal_errors(false)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Adapter(args) => adapter::run(args, &config).await,
        Command::Ingest(args) => ingest::run(args, &config).await,
        Command::Stats(args) => ingest::stats(args, &config).await,
        Command::Simulate(args) => simulate::run(args),
        Command::Api(args) => web::serve(args, &config).await,
        Command::Token(command) => web::token(command, &config),
        Command::Snapshot(args) => web::snapshot(args, &config).await,
        Command::Doctor => doctor::doctor(&config).await,
        Command::Backfill(args) => adapter::backfill(args, &config).await,
        Command::Dlq(DlqCommand::List(filter)) => dlq::list(filter, &config),
        Command::Dlq(DlqCommand::Replay { filter, dry_run }) => {
            dlq::replay(filter, dry_run, &config).await
        }
        Command::Alerts(AlertsCommand::Backtest(args)) => alerts::backtest(args),
        Command::Alerts(AlertsCommand::Scan(args)) => alerts::scan(args, &config).await,
        Command::Alerts(AlertsCommand::Run(args)) => alerts::run(args, &config).await,
        Command::Alerts(AlertsCommand::Evaluate(args)) => alerts::evaluate(args, &config),
        Command::Alerts(AlertsCommand::List(args)) => alerts::list(args, &config).await,
        Command::Migrate(args) => {
            let mut config = config;
            if let Some(cluster) = args.cluster {
                config.clickhouse.cluster = cluster;
            }
            migrate(&config).await
        }
        Command::Topics(TopicsCommand::Create) => topics_create(&config).await,
        Command::Topics(TopicsCommand::List) => topics_list(&config).await,
        Command::Config(ConfigCommand::Show) => {
            out!("{}", config.to_redacted_toml().trim_end());
            Ok(())
        }
        Command::Config(ConfigCommand::Keys) => {
            for key in config::keys() {
                out!("{:<32} {:<42} {}", key.path, key.env, key.default);
            }
            Ok(())
        }
    }
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let warehouse = warehouse::Warehouse::new(&config.warehouse());
    let report = warehouse.migrate().await.with_context(|| {
        format!(
            "migrating ClickHouse database {:?} at {}",
            config.clickhouse.database,
            config.clickhouse.display_url()
        )
    })?;
    for migration in &report.applied {
        out!("applied   {migration}");
    }
    out!(
        "database {} is at schema version {} ({} migration(s) applied now, {} already present)",
        config.clickhouse.database,
        report.version,
        report.applied.len(),
        report.already_applied
    );
    Ok(())
}

fn topic_specs(config: &Config) -> Vec<bus::TopicSpec> {
    vec![
        bus::TopicSpec {
            name: config.kafka.raw_topic.clone(),
            partitions: config.kafka.raw_partitions,
            replication_factor: config.kafka.replication_factor,
        },
        bus::TopicSpec {
            name: config.kafka.dlq_topic.clone(),
            partitions: config.kafka.dlq_partitions,
            replication_factor: config.kafka.replication_factor,
        },
    ]
}

async fn topics_create(config: &Config) -> anyhow::Result<()> {
    let specs = topic_specs(config);
    let outcomes = bus::create_topics(&config.kafka_client(), &specs)
        .await
        .with_context(|| format!("creating topics on {}", config.kafka.brokers))?;
    for outcome in outcomes {
        out!("{outcome}");
    }
    Ok(())
}

async fn topics_list(config: &Config) -> anyhow::Result<()> {
    let names: Vec<String> = topic_specs(config)
        .into_iter()
        .map(|spec| spec.name)
        .collect();
    let found = bus::describe_topics(&config.kafka_client(), &names)
        .with_context(|| format!("reading topic metadata from {}", config.kafka.brokers))?;
    for name in &names {
        match found.get(name) {
            Some(partitions) => {
                let messages: i64 = bus::watermarks(&config.kafka_client(), name)
                    .map(|marks| marks.iter().map(|(_, low, high)| high - low).sum())
                    .unwrap_or(-1);
                out!(
                    "{}\t{partitions} partition(s)\t{messages} message(s)",
                    model::text::printable(name)
                );
            }
            None => out!(
                "{}\tmissing (run `cyberflag topics create`)",
                model::text::printable(name)
            ),
        }
    }
    Ok(())
}
