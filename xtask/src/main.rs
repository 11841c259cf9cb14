//! `cargo xtask`: the project's automation, in Rust so it needs nothing but cargo.
//!
//! - `stack up|down|status`: install (once, cached) and run the local ClickHouse and Kafka
//!   broker on loopback, apply the schema, create the topics, write `./cyberflag.toml`;
//! - `cluster up|down|stop-replicas|status`: a local ClickHouse cluster (2 shards x 2
//!   replicas and ZooKeeper) on loopback, writing `./cyberflag-cluster.toml`;
//! - `demo`: the main job, end to end, on the local stack;
//! - `test`: the one command CI runs: stack, cluster, test tools, formatting, lints, every
//!   test;
//! - `tools`: the test tools alone (Python with chdb and kubernetes-validate, promtool);
//! - `bench`, `bench-api`, `soak`: the measurements of BENCHMARKS.md and RELIABILITY.md.

mod bench;
mod bench_api;
mod cluster;
mod soak;
mod stack;
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "cyberflag's project automation")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Manage the local ClickHouse and Kafka broker (loopback only, state under .stack/).
    #[command(subcommand)]
    Stack(StackCommand),
    /// Manage a local ClickHouse cluster: 2 shards x 2 replicas and ZooKeeper, on loopback.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Run the whole system on the local stack and print where to look.
    Demo,
    /// The full check CI runs: stack, cluster and test tools up, fmt, clippy -D warnings,
    /// every test (the cluster tests included); stops the cluster if it started it.
    Test,
    /// Install the test tools (a Python venv with chdb and kubernetes-validate, promtool).
    Tools,
    /// Measure adapter and ingest throughput against the naive baseline (BENCHMARKS.md).
    Bench {
        /// Records to publish and ingest.
        #[arg(long, default_value_t = 500_000)]
        records: u64,
    },
    /// Run the pipeline at a steady load, recording memory and lag every minute (RELIABILITY.md).
    Soak {
        /// Minutes of load (the first five are warm-up).
        #[arg(long, default_value_t = 30)]
        minutes: u64,
        /// Records pushed a second.
        #[arg(long, default_value_t = 200)]
        rate: u64,
    },
    /// Measure API latency with years of national records loaded (BENCHMARKS.md).
    BenchApi {
        /// Years of records.
        #[arg(long, default_value_t = 10)]
        years: u32,
        /// Crimes a year.
        #[arg(long, default_value_t = 6_500_000)]
        per_year: u64,
        /// Requests per query.
        #[arg(long, default_value_t = 40)]
        requests: usize,
        /// Regenerate the data even if the database holds it already.
        #[arg(long)]
        reload: bool,
    },
}

#[derive(Debug, Subcommand)]
enum StackCommand {
    /// Install what is missing, start what is not running, apply schema and topics.
    Up {
        /// Keep the broker's data in SQLite under .stack/ so it survives a broker restart
        /// (about 15x slower than the default in-memory store).
        #[arg(long)]
        durable: bool,
    },
    /// Stop the servers this project started (and nothing else).
    Down,
    /// Show what is installed and running.
    Status,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Start what is not running (stopped replicas too), wait until every replica has caught
    /// up, apply the schema, write ./cyberflag-cluster.toml.
    Up,
    /// Stop the cluster's processes this project started (and nothing else).
    Down,
    /// Stop one replica of each shard (never the entry node), to rehearse an outage.
    StopReplicas,
    /// Show which replicas answer and which this project started.
    Status,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let root = project_root();
    match cli.command {
        Task::Stack(StackCommand::Up { durable }) => stack::up(&root, durable),
        Task::Stack(StackCommand::Down) => stack::down(&root),
        Task::Stack(StackCommand::Status) => stack::status(&root),
        Task::Cluster(ClusterCommand::Up) => cluster::up(&root).map(drop),
        Task::Cluster(ClusterCommand::Down) => cluster::down(&root),
        Task::Cluster(ClusterCommand::StopReplicas) => cluster::stop_replicas(&root),
        Task::Cluster(ClusterCommand::Status) => cluster::status(&root),
        Task::Demo => demo(&root),
        Task::Test => test(&root),
        Task::Tools => tools::ensure(&root),
        Task::Bench { records } => bench::bench(&root, records),
        Task::Soak { minutes, rate } => soak::soak(&root, minutes, rate),
        Task::BenchApi {
            years,
            per_year,
            requests,
            reload,
        } => bench_api::bench_api(&root, years, per_year, requests, reload),
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Runs a command in `dir`, echoing it, and fails with its exit status.
fn run(dir: &Path, program: &str, args: &[&str]) -> anyhow::Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// The debug `cyberflag` binary, built if needed.
fn cyberflag_binary(root: &Path) -> anyhow::Result<PathBuf> {
    run(
        root,
        "cargo",
        &[
            "build",
            "--quiet",
            "--package",
            "cyberflag",
            "--bin",
            "cyberflag",
        ],
    )?;
    Ok(target_dir(root).join("debug").join("cyberflag"))
}

/// Builds the release `cyberflag` binary (for benchmarks) and returns its path.
fn release_cyberflag(root: &Path) -> anyhow::Result<PathBuf> {
    run(
        root,
        "cargo",
        &[
            "build",
            "--release",
            "--quiet",
            "-p",
            "cyberflag",
            "--bin",
            "cyberflag",
        ],
    )?;
    Ok(target_dir(root).join("release").join("cyberflag"))
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, else `target/` in the workspace).
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn demo(root: &Path) -> anyhow::Result<()> {
    stack::up(root, false)?;
    let binary = cyberflag_binary(root)?;
    let cyberflag = binary.to_string_lossy();
    let dir = root.join(".stack").join("demo-simulation");
    let dir_text = dir.to_string_lossy().into_owned();
    if dir.join("summary.json").exists() {
        eprintln!("reusing the simulation in {dir_text} (delete it for a fresh one)");
    } else {
        // Five and a quarter years of every force's exports at a steady national rate, with
        // West Mercia's 114 → 213 a year (×1.87) injected from April 2019: the alerting has
        // five years of history and twelve weeks to notice.
        let options = root.join(".stack").join("demo-options.toml");
        std::fs::write(
            &options,
            "seed = 2015\nfrom = \"2014-01-06\"\nto = \"2019-06-30\"\ntoday = \"2019-07-01\"\n\
             daily_rates = [{ year = 2017, per_day = 6.2 }]\n\
             [rise]\nforce = \"west-mercia\"\nfrom = \"2019-04-01\"\nfactor = 1.87\n",
        )?;
        run(
            root,
            &cyberflag,
            &[
                "simulate",
                "--out",
                &dir_text,
                "--options",
                &options.to_string_lossy(),
            ],
        )?;
    }
    let mut profiles: Vec<PathBuf> = std::fs::read_dir(dir.join("profiles"))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    profiles.sort();
    eprintln!(
        "publishing {} forces' exports through their adapters",
        profiles.len()
    );
    for profile in &profiles {
        let output = Command::new(&binary)
            .args(["adapter", "--profile"])
            .arg(profile)
            .current_dir(root)
            .output()
            .with_context(|| format!("running the adapter for {}", profile.display()))?;
        if !output.status.success() {
            bail!(
                "adapter {} failed:\n{}",
                profile.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    run(root, &cyberflag, &["ingest", "--exit-when-idle"])?;
    // The alerting service, once, as of the day after the simulation ends.
    run(
        root,
        &cyberflag,
        &["alerts", "run", "--once", "--today", "2019-07-01"],
    )?;
    println!("\nAlerts for the week of 2019-06-24, strongest first:");
    run(root, &cyberflag, &["alerts", "list"])?;
    println!("\nOnline child sexual offences recorded nationally, by financial year:");
    run(
        root,
        &cyberflag,
        &[
            "stats",
            "--by",
            "financial_year",
            "--cyber",
            "true",
            "--offence-group",
            "sexual-communication-with-a-child,sexual-grooming,rape-of-a-child-under-13,rape-of-a-child-under-16,sexual-assault-and-activity-involving-a-child,other-child-sexual-offences",
        ],
    )?;
    println!(
        "\nWest Mercia, online-flagged crimes by financial year (a rise was injected from April 2019):"
    );
    run(
        root,
        &cyberflag,
        &[
            "stats",
            "--by",
            "financial_year",
            "--cyber",
            "true",
            "--force",
            "west-mercia",
        ],
    )?;
    println!("\nNational 2018/19 by offence group:");
    run(
        root,
        &cyberflag,
        &[
            "stats",
            "--from",
            "2018-04-01",
            "--to",
            "2019-03-31",
            "--by",
            "offence_group",
        ],
    )?;
    // The dashboard: the API in the background and a national token for this demo.
    stack::start_api(root, &binary)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let output = Command::new(&binary)
        .args(["token", "create", "--role", "national", "--name"])
        .arg(format!("demo-{stamp}"))
        .current_dir(root)
        .output()?;
    if !output.status.success() {
        bail!(
            "creating a demo token failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    println!();
    println!("Where to look:");
    println!(
        "  Dashboard       http://127.0.0.1:8080/?from=2018-07-01&to=2019-06-30#token={token}"
    );
    println!(
        "                  (national role; `cyberflag token create --role public` for the public view)"
    );
    println!(
        "  ClickHouse      http://127.0.0.1:8123 database cyberflag: crime_versions, alerts, alert_runs"
    );
    println!("  Alerts          target/debug/cyberflag alerts list --days 30");
    println!(
        "  Kafka           127.0.0.1:9092 topics cyberflag.raw.v1 (records), cyberflag.dlq.v1 (rejects)"
    );
    println!("  Simulation      {dir_text} (exports, profiles, ground-truth.csv, summary.json)");
    println!("  Ask anything    target/debug/cyberflag stats --help");
    println!("Stop the stack and the API with `cargo xtask stack down`.");
    Ok(())
}

fn test(root: &Path) -> anyhow::Result<()> {
    stack::up(root, false)?;
    stack::ensure_chromium()?;
    tools::ensure(root)?;
    // The cluster tests (tests/it/cluster.rs) need the local cluster; stop it afterwards if
    // this run started it, pass or fail.
    let started_cluster = cluster::up(root)?;
    let result = checks(root);
    if started_cluster && let Err(error) = cluster::down(root) {
        eprintln!("stopping the cluster failed: {error:#}");
    }
    result
}

/// Formatting, lints and every test.
fn checks(root: &Path) -> anyhow::Result<()> {
    run(root, "cargo", &["fmt", "--all", "--check"])?;
    run(
        root,
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // Integration tests run the real binary; build it first so they never run a stale one.
    cyberflag_binary(root)?;
    let nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !nextest {
        // `cargo test` would ignore `.config/nextest.toml`: the broker-heavy tests would run
        // concurrently and the hung-test timeout would not apply.
        bail!(
            "cargo-nextest is missing: the suite needs its test groups and timeouts \
             (.config/nextest.toml). Install it with `cargo install cargo-nextest --locked`"
        );
    }
    run(
        root,
        "cargo",
        &["nextest", "run", "--workspace", "--no-fail-fast"],
    )
}
