//! `cargo xtask soak`: the whole pipeline at a steady load for a fixed time, on the local stack
//! with release builds, recording every minute what would show a leak or a backlog.
//!
//! A force pushes national NDJSON to the adapter's HTTP endpoint every second: mostly new
//! crimes, some new versions of earlier ones (reclassified), some exact re-sends. `ingest`
//! stores them; the API answers a national query every two seconds and rebuilds its snapshot
//! every minute. Each minute the resident memory and the live heap (`/metrics`) of the three
//! processes, the consumer lag (from ingest's `/metrics`) and the versions stored are written
//! to `soak.csv`.
//!
//! At the end the load stops, and the run passes only if
//! - every distinct version pushed is stored (none lost) and the national count equals the
//!   crimes pushed (none counted twice);
//! - no process's memory trends upwards after the warm-up: the least-squares growth over the
//!   measured window of its live heap (what its allocator counts as allocated) and of its
//!   anonymous resident memory (the heap plus what the allocators hold, and the memory C
//!   libraries take) is under 10 % of their means (total RSS is recorded too, but it also counts
//!   pages of the binary mapped in as new code paths run);
//! - the lag at the end of the load is under ten seconds' worth of records.
//!
//! Ingest's duplicate-detection memory (`ingest.seen_capacity`) is set to 20,000 versions (it
//! holds twice that at most), so at the default rate it reaches its bound within the warm-up
//! and a growing cache cannot hide a leak or look like one.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::bench::clickhouse;

/// Minutes before memory trends are measured (caches fill, the snapshot is first built).
const WARM_UP_MINUTES: u64 = 5;
const CODES: [(&str, u32); 5] = [
    ("71/17", 13),
    ("88A", 14),
    ("86/2", 15),
    ("19D", 14),
    ("22B", 12),
];

/// Runs the soak for `minutes` at `rate` records a second.
pub fn soak(root: &Path, minutes: u64, rate: u64) -> anyhow::Result<()> {
    if minutes <= WARM_UP_MINUTES + 2 {
        bail!("--minutes must exceed the {WARM_UP_MINUTES}-minute warm-up by at least 3");
    }
    crate::stack::up(root, false)?;
    let cyberflag = crate::release_cyberflag(root)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let dir = root.join(".stack/soak").join(stamp.to_string());
    std::fs::create_dir_all(&dir)?;
    let database = format!("soak_{stamp}");
    let [push_port, api_port, adapter_metrics, ingest_metrics] = testkit::free_ports()?;
    let token_file = dir.join("push-token");
    let push_token = format!("soak-push-{stamp}");
    std::fs::write(&token_file, &push_token)?;
    // Private, as the adapter requires of a secret file.
    std::fs::set_permissions(
        &token_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )?;
    let env: Vec<(String, String)> = vec![
        (
            "CYBERFLAG_KAFKA_RAW_TOPIC".into(),
            format!("soak.raw.{stamp}"),
        ),
        (
            "CYBERFLAG_KAFKA_DLQ_TOPIC".into(),
            format!("soak.dlq.{stamp}"),
        ),
        ("CYBERFLAG_CLICKHOUSE_DATABASE".into(), database.clone()),
        ("CYBERFLAG_INGEST_GROUP".into(), format!("soak-{stamp}")),
        ("CYBERFLAG_INGEST_SEEN_CAPACITY".into(), "20000".into()),
        (
            "CYBERFLAG_ADAPTER_STATE_DIR".into(),
            dir.join("state").display().to_string(),
        ),
        (
            "CYBERFLAG_API_TOKENS_FILE".into(),
            dir.join("tokens.toml").display().to_string(),
        ),
        ("CYBERFLAG_API_SNAPSHOT_SECS".into(), "60".into()),
        ("CYBERFLAG_LOG_LEVEL".into(), "warn".into()),
    ];
    let command = |args: &[&str], metrics_port: Option<u16>| {
        let mut command = Command::new(&cyberflag);
        command
            .args(args)
            .current_dir(root)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env(
                "CYBERFLAG_METRICS_LISTEN",
                metrics_port
                    .map(|port| format!("127.0.0.1:{port}"))
                    .unwrap_or_default(),
            );
        command
    };
    for args in [&["topics", "create"][..], &["migrate"]] {
        let status = command(args, None).status()?;
        if !status.success() {
            bail!("cyberflag {} failed ({status})", args.join(" "));
        }
    }
    let token = command(&["token", "create", "--role", "national"], None).output()?;
    if !token.status.success() {
        bail!(
            "cyberflag token create failed ({}): {}",
            token.status,
            String::from_utf8_lossy(&token.stderr)
        );
    }
    let token = String::from_utf8(token.stdout)?.trim().to_owned();

    let profile = dir.join("metropolitan-push.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"soak-push\"\nforce = \"metropolitan\"\ndialect = \"national-ndjson\"\n\
             [source]\nlisten = \"127.0.0.1:{push_port}\"\npush_token_file = \"{}\"\n",
            token_file.display()
        ),
    )?;
    // Each role's standard output and error go to its own log.
    let logged = |name: &str, mut command: Command| -> anyhow::Result<(String, Command)> {
        let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
        command.stdout(log.try_clone()?).stderr(log);
        Ok((name.to_owned(), command))
    };
    let mut services = testkit::Services::default();
    let (name, adapter) = logged(
        "adapter",
        command(
            &["adapter", "--profile", &profile.display().to_string()],
            Some(adapter_metrics),
        ),
    )?;
    let adapter = services.start(name, adapter)?;
    let (name, ingest) = logged("ingest", command(&["ingest"], Some(ingest_metrics)))?;
    let ingest = services.start(name, ingest)?;
    let api_address = format!("127.0.0.1:{api_port}");
    // The API serves its `/metrics` on its own listener.
    let (name, api) = logged("api", command(&["api", "--listen", &api_address], None))?;
    let api = services.start(name, api)?;
    wait_for_port(push_port)?;
    wait_for_port(api_port)?;
    wait_for_port(ingest_metrics)?;

    eprintln!(
        "soak: {minutes} min at {rate} records/s; samples in {}",
        dir.join("soak.csv").display()
    );
    let mut csv = std::fs::File::create(dir.join("soak.csv"))?;
    writeln!(
        csv,
        "minute,pushed,stored_versions,lag,adapter_rss_kib,ingest_rss_kib,api_rss_kib,\
         adapter_anon_kib,ingest_anon_kib,api_anon_kib,api_p95_ms,adapter_heap_kib,ingest_heap_kib,\
         api_heap_kib"
    )?;
    let mut load = Load::default();
    let started = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut api_latencies: Vec<f64> = Vec::new();
    let mut next_query = Instant::now();
    let auth = format!("Bearer {token}");
    let push_auth = format!("Bearer {push_token}");
    for second in 0..minutes * 60 {
        let body = load.next_second(rate);
        let (status, reply) = http(
            &format!("127.0.0.1:{push_port}"),
            "POST",
            "/v1/records",
            &[("Authorization", &push_auth)],
            body.as_bytes(),
        )?;
        if status != 200 {
            bail!("push refused ({status}): {reply}");
        }
        while Instant::now() >= next_query {
            let asked = Instant::now();
            let (status, reply) = http(
                &api_address,
                "GET",
                "/v1/stats?by=month",
                &[("Authorization", &auth)],
                b"",
            )?;
            if status != 200 {
                bail!("API refused ({status}): {reply}");
            }
            api_latencies.push(asked.elapsed().as_secs_f64() * 1000.0);
            next_query += Duration::from_secs(2);
        }
        if (second + 1) % 60 == 0 {
            // Ingest's page gives the lag as well as its heap: read once, and required.
            let ingest_page = metrics_page(ingest_metrics)?;
            let sample = Sample {
                minute: (second + 1) / 60,
                pushed: load.pushed,
                stored: stored_versions(&database)?,
                lag: lag(&ingest_page),
                memory: [
                    memory_kib(adapter, &metrics_page(adapter_metrics).unwrap_or_default()),
                    memory_kib(ingest, &ingest_page),
                    memory_kib(api, &metrics_page(api_port).unwrap_or_default()),
                ],
                api_p95_ms: percentile(&mut api_latencies, 0.95),
            };
            api_latencies.clear();
            writeln!(csv, "{}", sample.csv())?;
            eprintln!("{}", sample.csv());
            samples.push(sample);
            services.check()?;
        }
        let due = started + Duration::from_secs(second + 1);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }

    // Drain: every distinct version pushed must be stored.
    let expected_versions = load.versions.values().map(|&v| u64::from(v)).sum::<u64>();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut stored = stored_versions(&database)?;
    while stored < expected_versions && Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        stored = stored_versions(&database)?;
    }
    let national = command(&["stats", "--format", "csv"], None).output()?;
    if !national.status.success() {
        bail!(
            "cyberflag stats failed ({}): {}",
            national.status,
            String::from_utf8_lossy(&national.stderr)
        );
    }
    let national: u64 = String::from_utf8(national.stdout)?
        .lines()
        .nth(1)
        .and_then(|line| line.trim().parse().ok())
        .context("cyberflag stats printed no total")?;
    drop(services);

    let measured: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.minute > WARM_UP_MINUTES)
        .collect();
    let mut failures = Vec::new();
    println!(
        "| process | live heap after warm-up → end (MiB) | its trend | anonymous memory after warm-up → end (MiB) | its trend | RSS after warm-up → end (MiB) | its trend |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (i, name) in ["adapter", "ingest", "api"].iter().enumerate() {
        let series = |pick: fn(&Memory) -> u64| -> (f64, f64, f64) {
            let points: Vec<(f64, f64)> = measured
                .iter()
                .map(|s| (s.minute as f64, pick(&s.memory[i]) as f64))
                .collect();
            let first = points.first().map_or(0.0, |p| p.1) / 1024.0;
            let last = points.last().map_or(0.0, |p| p.1) / 1024.0;
            (first, last, relative_growth(&points))
        };
        let (heap_first, heap_last, heap_growth) = series(|m| m.heap);
        let (anon_first, anon_last, growth) = series(|m| m.anon);
        let (rss_first, rss_last, rss_growth) = series(|m| m.rss);
        println!(
            "| {name} | {heap_first:.1} → {heap_last:.1} | {:+.1} % | {anon_first:.1} → {anon_last:.1} | {:+.1} % | {rss_first:.1} → {rss_last:.1} | {:+.1} % |",
            heap_growth * 100.0,
            growth * 100.0,
            rss_growth * 100.0
        );
        // A leak shows in the live heap, and in anonymous memory (which also holds what C
        // libraries take from the system allocator); resident code and shared libraries
        // (file-backed pages) rise as new paths run and fall as the kernel reclaims them.
        if heap_first == 0.0 {
            failures.push(format!("{name} reported no live heap on /metrics"));
        }
        for (what, growth) in [("live heap", heap_growth), ("anonymous memory", growth)] {
            if growth > 0.10 {
                failures.push(format!(
                    "{name}'s {what} grows {:.1} % over the window",
                    growth * 100.0
                ));
            }
        }
    }
    let last_lag = samples.last().map_or(0, |s| s.lag);
    let max_lag = measured.iter().map(|s| s.lag).max().unwrap_or(0);
    let lost = expected_versions.saturating_sub(stored);
    let crimes = load.versions.len() as u64;
    println!();
    println!(
        "pushed {} messages ({} distinct versions of {crimes} crimes, {} exact re-sends) in {minutes} min",
        load.pushed, expected_versions, load.resent
    );
    println!("stored versions: {stored}; lost: {lost}");
    println!(
        "national count: {national} (crimes pushed: {crimes}); counted twice: {}",
        national.saturating_sub(crimes)
    );
    println!("lag: at most {max_lag} after warm-up, {last_lag} at the end of the load");
    if lost > 0 {
        failures.push(format!("{lost} versions lost"));
    }
    if stored > expected_versions {
        failures.push(format!(
            "{} versions stored more than once",
            stored - expected_versions
        ));
    }
    if national != crimes {
        failures.push(format!("national count {national} ≠ {crimes} crimes"));
    }
    if last_lag > rate * 10 {
        failures.push(format!("lag {last_lag} at the end exceeds 10 s of load"));
    }
    if !failures.is_empty() {
        bail!("soak failed: {}", failures.join("; "));
    }
    let _ = clickhouse(&format!("DROP DATABASE IF EXISTS {database}"));
    Ok(())
}

/// The records of the soak: crime references are unique per run; a crime's versions count up.
#[derive(Default)]
struct Load {
    /// Highest version pushed per crime (versions 1..=v all pushed).
    versions: HashMap<u64, u32>,
    /// Lines already pushed (for exact re-sends).
    pushed_lines: Vec<String>,
    pushed: u64,
    resent: u64,
    next_crime: u64,
    /// A deterministic generator (xorshift).
    state: u64,
}

impl Load {
    fn random(&mut self) -> u64 {
        if self.state == 0 {
            self.state = 0x9E37_79B9_7F4A_7C15;
        }
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// One second of load: `rate` NDJSON lines, about 88 % new crimes, 10 % new versions of
    /// earlier ones (reclassified), 2 % exact re-sends.
    fn next_second(&mut self, rate: u64) -> String {
        let mut body = String::new();
        for _ in 0..rate {
            let roll = self.random() % 100;
            let line = if roll < 2 && !self.pushed_lines.is_empty() {
                self.resent += 1;
                let i = (self.random() % self.pushed_lines.len() as u64) as usize;
                self.pushed_lines[i].clone()
            } else if roll < 12 && self.next_crime > 0 {
                let crime = self.random() % self.next_crime;
                let version = self.versions.entry(crime).or_insert(0);
                *version += 1;
                let version = *version;
                self.line(crime, version)
            } else {
                let crime = self.next_crime;
                self.next_crime += 1;
                self.versions.insert(crime, 1);
                self.line(crime, 1)
            };
            // Keep a bounded pool of lines to re-send.
            if self.pushed_lines.len() < 100_000 {
                self.pushed_lines.push(line.clone());
            }
            body.push_str(&line);
            body.push('\n');
            self.pushed += 1;
        }
        body
    }

    fn line(&self, crime: u64, version: u32) -> String {
        let (code, age) = CODES[((crime + u64::from(version)) % 5) as usize];
        format!(
            "{{\"crime_ref\":\"SOAK/{crime:09}\",\"version\":{version},\"status\":\"recorded\",\
             \"offence_code\":\"{code}\",\"cyber\":true,\"recorded_date\":\"2024-{:02}-{:02}\",\
             \"recorded_precision\":\"day\",\"offence_from\":\"2024-01-01\",\
             \"offence_to\":\"2024-01-01\",\"victim_age\":{age},\"lsoa\":\"E01000914\"}}",
            crime % 12 + 1,
            crime % 28 + 1,
        )
    }
}

struct Sample {
    minute: u64,
    pushed: u64,
    stored: u64,
    lag: u64,
    memory: [Memory; 3],
    api_p95_ms: f64,
}

/// A process's memory, KiB: resident (all of it, and the anonymous part: heap, stacks,
/// allocator caches) and its live heap as its allocator counts it.
#[derive(Clone, Copy, Default)]
struct Memory {
    rss: u64,
    anon: u64,
    heap: u64,
}

/// `pid`'s memory from `/proc`, and its live heap from its `/metrics` page (0 if absent).
fn memory_kib(pid: u32, metrics: &str) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss: field("VmRSS:"),
        anon: field("RssAnon:"),
        heap: gauge(metrics, "cyberflag_heap_allocated_bytes").map_or(0, |b| b as u64 / 1024),
    }
}

impl Sample {
    fn csv(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{},{},{},{:.1},{},{},{}",
            self.minute,
            self.pushed,
            self.stored,
            self.lag,
            self.memory[0].rss,
            self.memory[1].rss,
            self.memory[2].rss,
            self.memory[0].anon,
            self.memory[1].anon,
            self.memory[2].anon,
            self.api_p95_ms,
            self.memory[0].heap,
            self.memory[1].heap,
            self.memory[2].heap,
        )
    }
}

/// Least-squares growth of `points` (x, y) across their x range, relative to the mean of y.
fn relative_growth(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    if sxx == 0.0 || mean_y == 0.0 {
        return 0.0;
    }
    let span = points.last().map_or(0.0, |p| p.0) - points.first().map_or(0.0, |p| p.0);
    sxy / sxx * span / mean_y
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() as f64 * p).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// Distinct versions stored (exact; a re-delivered version stored twice counts once).
fn stored_versions(database: &str) -> anyhow::Result<u64> {
    Ok(clickhouse(&format!(
        "SELECT uniqExact(force, crime_ref, version) FROM {database}.crime_versions"
    ))?
    .trim()
    .parse()?)
}

/// A process's `/metrics` page.
fn metrics_page(port: u16) -> anyhow::Result<String> {
    let (_, text) = http(&format!("127.0.0.1:{port}"), "GET", "/metrics", &[], b"")?;
    Ok(text)
}

/// An unlabelled gauge from a `/metrics` page.
fn gauge(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Messages not yet consumed, summed over partitions, from ingest's `/metrics` page.
fn lag(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with("cyberflag_ingest_lag{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// One HTTP/1.1 exchange on loopback: status and body.
fn http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> anyhow::Result<(u16, String)> {
    let response = testkit::exchange(
        address,
        method,
        path,
        headers,
        body,
        Duration::from_secs(120),
    )
    .with_context(|| format!("{method} {path} on {address}"))?;
    Ok((response.status, response.text()))
}

/// Waits until something listens on loopback `port`.
fn wait_for_port(port: u16) -> anyhow::Result<()> {
    testkit::wait_for_port(&format!("127.0.0.1:{port}"), Duration::from_secs(60))
        .context("see the logs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_the_fitted_rise_over_the_window_relative_to_the_mean() {
        let flat: Vec<(f64, f64)> = (6..=30).map(|m| (m as f64, 100.0)).collect();
        assert_eq!(relative_growth(&flat), 0.0);
        // 100 → 124 over 24 minutes: a rise of 24 on a mean of 112.
        let rising: Vec<(f64, f64)> = (6..=30).map(|m| (m as f64, 94.0 + m as f64)).collect();
        assert!((relative_growth(&rising) - 24.0 / 112.0).abs() < 1e-9);
        // Noise around a flat line does not read as growth.
        let noisy: Vec<(f64, f64)> = (6..=30)
            .map(|m| (m as f64, if m % 2 == 0 { 101.0 } else { 99.0 }))
            .collect();
        assert!(relative_growth(&noisy).abs() < 0.01);
    }

    #[test]
    fn a_metrics_page_gives_the_heap_and_the_summed_lag() {
        let page = "# TYPE cyberflag_heap_allocated_bytes gauge\n\
                    cyberflag_heap_allocated_bytes_total 7\n\
                    cyberflag_heap_allocated_bytes 3548760\n\
                    cyberflag_ingest_lag{partition=\"0\"} 12\n\
                    cyberflag_ingest_lag{partition=\"1\"} 30\n\
                    cyberflag_ingest_lag_seconds 9\n";
        assert_eq!(
            gauge(page, "cyberflag_heap_allocated_bytes"),
            Some(3_548_760.0)
        );
        assert_eq!(gauge(page, "cyberflag_heap_resident_bytes"), None);
        assert_eq!(lag(page), 42);
        assert_eq!(lag(""), 0);
    }

    #[test]
    fn the_load_counts_versions_and_resends() {
        let mut load = Load::default();
        let body = load.next_second(5_000);
        assert_eq!(body.lines().count(), 5_000);
        let versions: u64 = load.versions.values().map(|&v| u64::from(v)).sum();
        assert_eq!(load.pushed, versions + load.resent);
        assert!(load.resent > 0 && versions > load.versions.len() as u64);
    }
}
