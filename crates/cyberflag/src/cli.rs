//! The command line: one binary, one subcommand per role.
//!
//! Only subcommands that do something are listed; later roles (`adapter`, `ingest`, `stats`,
//! `api`, `alerts`) are added here as they land.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Streams cyber-flagged police crime records into one national aggregate.
#[derive(Debug, Parser)]
#[command(name = "cyberflag", version, propagate_version = true)]
pub struct Cli {
    /// Configuration file [default: ./cyberflag.toml when present].
    #[arg(long, global = true, env = "CYBERFLAG_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The role to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The roles.
#[derive(Debug, Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once at start-up; boxing a clap subcommand buys nothing"
)]
pub enum Command {
    /// Run a force adapter: publish exports, watch a directory, or accept HTTP pushes.
    Adapter(AdapterArgs),
    /// Consume the raw topic: verify, normalise, deduplicate and store records in ClickHouse.
    Ingest(IngestArgs),
    /// Count current crimes by force, period, offence, category, age band or flag.
    Stats(StatsArgs),
    /// Write realistic simulated force exports, their adapter profiles and the ground truth.
    Simulate(SimulateArgs),
    /// Detect sudden rises in weekly counts with outbreak-detection statistics.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Serve national statistics, revisions, alerts and the dashboard over HTTP, with roles and disclosure control.
    Api(ApiArgs),
    /// Manage the API's bearer tokens (stored as digests in api.tokens_file).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Rebuild the count snapshot that keeps statistics fast (the API also does it on a schedule).
    Snapshot(SnapshotArgs),
    /// Inspect the dead-letter topic, and replay chosen records to the raw topic after a fix.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Check connectivity, schema version, topics, lag, snapshots, alerting and keys; say what to do.
    Doctor,
    /// Re-publish a force's history from files or directories of exports, every row, with progress.
    Backfill(BackfillArgs),
    /// Apply the versioned ClickHouse schema migrations (safe to run any number of times).
    Migrate(MigrateArgs),
    /// Manage the Kafka topics cyberflag uses.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Inspect the effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `cyberflag adapter …`
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["profile", "force"])))]
pub struct AdapterArgs {
    /// The force's adapter profile (TOML; examples in deploy/forces/).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["force", "dialect"])]
    pub profile: Option<PathBuf>,
    /// One-off run: the force's police.uk id (give --dialect and the files too).
    #[arg(long, value_name = "ID", requires = "dialect")]
    pub force: Option<String>,
    /// One-off run: the files' dialect (police-uk-street or national-ndjson).
    #[arg(long, value_name = "DIALECT", requires = "force")]
    pub dialect: Option<String>,
    /// Publish every row again, ignoring checkpoints (the messages are byte-identical).
    #[arg(long)]
    pub resend: bool,
    /// Scan the watched directory once and exit instead of watching.
    #[arg(long)]
    pub once: bool,
    /// Files to publish, in order (with a profile: in addition to its own).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `cyberflag ingest …`
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Process everything published so far, make sure it is stored and committed, then exit.
    #[arg(long)]
    pub exit_when_idle: bool,
    /// With --exit-when-idle: seconds without a new message before exiting.
    #[arg(long, value_name = "SECONDS", default_value_t = 3)]
    pub idle_seconds: u64,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table for people.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// `cyberflag stats …`
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// First recorded date included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub from: Option<chrono::NaiveDate>,
    /// Last recorded date included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub to: Option<chrono::NaiveDate>,
    /// Grouping, comma-separated: force, region, day, week, month, quarter, financial_year,
    /// offence_group, offence_code, category, age_band, cyber.
    #[arg(long, value_name = "DIMENSIONS", value_delimiter = ',')]
    pub by: Vec<String>,
    /// Only these forces (police.uk ids or names, comma-separated).
    #[arg(long, value_name = "FORCES", value_delimiter = ',')]
    pub force: Vec<String>,
    /// Only these offence groups (comma-separated).
    #[arg(long, value_name = "GROUPS", value_delimiter = ',')]
    pub offence_group: Vec<String>,
    /// Only crimes with (true) or without (false) the online flag.
    #[arg(long, value_name = "BOOL")]
    pub cyber: Option<bool>,
    /// Answer with what was known at the end of this day (versions received by then).
    #[arg(long, value_name = "DATE")]
    pub as_at: Option<chrono::NaiveDate>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `cyberflag simulate …`
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Output directory (must not hold an earlier simulation).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Options file (TOML, every field of the simulator's options); flags override it.
    #[arg(long, value_name = "FILE")]
    pub options: Option<PathBuf>,
    /// Random seed: the same seed and options give byte-identical output.
    #[arg(long)]
    pub seed: Option<u64>,
    /// First simulated day.
    #[arg(long, value_name = "DATE")]
    pub from: Option<chrono::NaiveDate>,
    /// Last simulated day.
    #[arg(long, value_name = "DATE")]
    pub to: Option<chrono::NaiveDate>,
    /// Inject a rise: FORCE:FROM:FACTOR, e.g. west-mercia:2016-04-01:1.87.
    #[arg(long, value_name = "FORCE:DATE:FACTOR")]
    pub rise: Option<String>,
    /// Simulate all recorded crime (every police.uk category) instead of online child sexual
    /// offences, at about 6.5 million crimes a year, for scale tests.
    #[arg(long)]
    pub all_crime: bool,
}

/// `cyberflag api …`
#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// Listen address (default: api.listen).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
}

/// `cyberflag backfill …`
#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// The force's adapter profile (its dialect, mapping and keys; not its sources).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["force", "dialect"])]
    pub profile: Option<PathBuf>,
    /// Without a profile: the force's police.uk id.
    #[arg(long, value_name = "ID", requires = "dialect")]
    pub force: Option<String>,
    /// Without a profile: the files' dialect (police-uk-street or national-ndjson).
    #[arg(long, value_name = "DIALECT", requires = "force")]
    pub dialect: Option<String>,
    /// In directories, only files with these extensions (e.g. csv), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub extension: Vec<String>,
    /// Files, or directories whose files are published in name order.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// `cyberflag migrate …`
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Create replicated and distributed tables on this cluster (default: clickhouse.cluster).
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
}

/// `cyberflag dlq …`
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead-lettered messages (time, reason, force, source position, detail).
    List(DlqFilter),
    /// Re-publish the chosen dead-lettered messages to the raw topic, as they first arrived.
    Replay {
        /// Which messages.
        #[command(flatten)]
        filter: DlqFilter,
        /// Only count what would be replayed.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Which dead-lettered messages.
#[derive(Debug, clap::Args)]
pub struct DlqFilter {
    /// Only these reasons (e.g. bad-signature), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub reason: Vec<String>,
    /// Only these forces (police.uk ids), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub force: Vec<String>,
    /// Dead-lettered on or after this day.
    #[arg(long, value_name = "DATE")]
    pub since: Option<chrono::NaiveDate>,
    /// Dead-lettered on or before this day.
    #[arg(long, value_name = "DATE")]
    pub until: Option<chrono::NaiveDate>,
}

/// `cyberflag snapshot …`
#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    /// Cut the snapshot this many seconds before the server's clock (default: api.snapshot_margin_secs).
    #[arg(long, value_name = "SECONDS")]
    pub margin: Option<u32>,
}

/// `cyberflag token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a role (national, public or force:<id>) and print it once.
    Create {
        /// national, public or force:<police.uk id>.
        #[arg(long)]
        role: String,
        /// A name to list and revoke it by (default: the role and a number).
        #[arg(long)]
        name: Option<String>,
    },
    /// List tokens (names, roles, creation, revocation; never the tokens).
    List,
    /// Revoke a token by name; the API stops accepting it at once.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// `cyberflag alerts …`
#[derive(Debug, Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once at start-up; boxing a clap subcommand buys nothing"
)]
pub enum AlertsCommand {
    /// Run one detection method over a weekly series (CSV `date,count`) and print every monitored week.
    Backtest(BacktestArgs),
    /// Scan every force × offence group of online-flagged crimes for one complete week; print ranked findings.
    Scan(ScanArgs),
    /// Evaluate new complete weeks on a schedule (or once), store alerts and deliver them to Alertmanager.
    Run(RunArgs),
    /// Measure detection rate and false alarms of the configured detectors on seeded simulations.
    Evaluate(EvaluateArgs),
    /// List stored alerts: the open ones, and with --days the ones changed recently.
    List(ListArgs),
}

/// `cyberflag alerts list …`
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Also show alerts resolved in the last DAYS days.
    #[arg(long, value_name = "DAYS", default_value_t = 0)]
    pub days: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `cyberflag alerts run …`
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Evaluate and deliver once, then exit (non-zero if a delivery is still pending).
    #[arg(long)]
    pub once: bool,
    /// Evaluate this week (its Monday) instead of the complete weeks not yet evaluated.
    #[arg(long, value_name = "DATE")]
    pub week: Option<chrono::NaiveDate>,
    /// Take this day as today (replays and tests; default: the clock).
    #[arg(long, value_name = "DATE")]
    pub today: Option<chrono::NaiveDate>,
}

/// `cyberflag alerts evaluate …`
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// Seeded simulations with an injected rise (detection rate).
    #[arg(long, default_value_t = 50)]
    pub seeds: u64,
    /// Seeded simulations without any injected change (false alarms).
    #[arg(long, default_value_t = 5)]
    pub null_seeds: u64,
    /// First seed; runs use consecutive seeds from it.
    #[arg(long, default_value_t = 1)]
    pub first_seed: u64,
    /// The force whose rate rises.
    #[arg(long, default_value = "west-mercia")]
    pub force: String,
    /// Its yearly count before the rise.
    #[arg(long, default_value_t = 114.0)]
    pub before: f64,
    /// Its yearly count after the rise.
    #[arg(long, default_value_t = 213.0)]
    pub after: f64,
    /// Weeks after the change within which an alert counts as a detection.
    #[arg(long, default_value_t = 12)]
    pub within_weeks: u64,
    /// Directory for the simulations (default: a temporary one, removed afterwards).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `cyberflag alerts scan …`
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// The week to scan: its Monday (default: the last complete week).
    #[arg(long, value_name = "DATE")]
    pub week: Option<chrono::NaiveDate>,
    /// Benjamini–Hochberg false-discovery rate over every test of the week (default: alerts.fdr).
    #[arg(long)]
    pub fdr: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Detection methods, as in the R package `surveillance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// `algo.farrington` (Farrington et al. 1996).
    Farrington,
    /// `farringtonFlexible` (Noufaily et al. 2013 improvements available).
    FarringtonFlexible,
    /// EARS C1.
    EarsC1,
    /// EARS C2.
    EarsC2,
    /// EARS C3 (the documented statistic; `--r-compatible` for R's).
    EarsC3,
    /// `algo.bayes`.
    Bayes,
    /// `algo.cusum` (Rossi).
    Cusum,
    /// `algo.glrnb`: negative-binomial likelihood-ratio CUSUM.
    Glrnb,
}

/// `cyberflag alerts backtest …`; control options are named after R's, defaults are R's.
#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// CSV with header `date,count`, one row per week (ISO dates, weekly spacing).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Detection method.
    #[arg(long, value_enum)]
    pub method: Method,
    /// Monitored weeks, inclusive (`FROM:TO`, dates in the input); earlier rows are history.
    #[arg(long, value_name = "FROM:TO")]
    pub range: Option<String>,
    /// R `b`: years of history.
    #[arg(long = "b")]
    pub b: Option<usize>,
    /// R `w`: half-width of the window of weeks around the current week, each year.
    #[arg(long = "w")]
    pub w: Option<usize>,
    /// R `alpha`.
    #[arg(long)]
    pub alpha: Option<f64>,
    /// R `reweight` (true or false).
    #[arg(long)]
    pub reweight: Option<bool>,
    /// R `weightsThreshold`.
    #[arg(long)]
    pub weights_threshold: Option<f64>,
    /// R `trend` (true or false).
    #[arg(long)]
    pub trend: Option<bool>,
    /// R `pThresholdTrend`.
    #[arg(long)]
    pub p_threshold_trend: Option<f64>,
    /// R `limit54`: CASES,PERIODS.
    #[arg(long, value_name = "CASES,PERIODS")]
    pub limit54: Option<String>,
    /// R `powertrans`: 2/3, 1/2 or none.
    #[arg(long)]
    pub powertrans: Option<String>,
    /// R `pastWeeksNotIncluded`.
    #[arg(long)]
    pub past_weeks_not_included: Option<usize>,
    /// R `thresholdMethod`: delta, nbPlugin or muan.
    #[arg(long)]
    pub threshold_method: Option<String>,
    /// R `noPeriods`.
    #[arg(long)]
    pub no_periods: Option<usize>,
    /// EARS `baseline`.
    #[arg(long)]
    pub baseline: Option<usize>,
    /// EARS `minSigma`.
    #[arg(long)]
    pub min_sigma: Option<f64>,
    /// EARS C3 as R computes it rather than as documented.
    #[arg(long)]
    pub r_compatible: bool,
    /// CUSUM `k`.
    #[arg(long = "k")]
    pub k: Option<f64>,
    /// CUSUM `h`.
    #[arg(long = "h")]
    pub h: Option<f64>,
    /// CUSUM `m`: a number, or `glm` for the harmonic model (default: mean before the range).
    #[arg(long = "m")]
    pub m: Option<String>,
    /// Bayes `actY` (true or false).
    #[arg(long = "actY")]
    pub act_y: Option<bool>,
    /// glrnb `c.ARL`.
    #[arg(long)]
    pub c_arl: Option<f64>,
    /// glrnb `theta` (for example 0.693 = log 2: a doubling); omit for the full GLR.
    #[arg(long)]
    pub theta: Option<f64>,
    /// glrnb `M`: window of the statistic.
    #[arg(long)]
    pub glr_window: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
}

/// `cyberflag topics …`
#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Create the raw and dead-letter topics with their partition counts (safe to repeat).
    Create,
    /// List cyberflag's topics with their partition counts as the broker reports them.
    List,
}

/// `cyberflag config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration as TOML, with secrets redacted.
    Show,
    /// List every configuration key with its environment variable and default.
    Keys,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_subcommand_says_what_it_does_in_one_line() {
        fn walk(command: &clap::Command, path: &str) {
            for sub in command.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
                assert!(
                    !about.trim().is_empty(),
                    "`{path}` has no one-line description"
                );
                assert!(
                    !about.contains('\n'),
                    "`{path}` description is not one line"
                );
                walk(sub, &path);
            }
        }
        walk(&Cli::command(), "cyberflag");
    }
}
