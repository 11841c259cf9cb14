//! `cargo xtask bench`: the end-to-end figures of BENCHMARKS.md, measured in one run on the
//! local stack with release builds:
//!
//! 1. the file adapter publishing N national-NDJSON records (records/s);
//! 2. the naive baseline: a plain rdkafka consumer writing each message to stdout, piped into
//!    `clickhouse-client … FORMAT JSONEachRow` (no checks, no normalisation, no dedup);
//! 3. `cyberflag ingest` taking the same topic into ClickHouse (records/s, peak RSS).
//!
//! Each run uses fresh topic, group and database names, so nothing else is disturbed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::run;

/// Runs the benchmark with `records` records.
pub fn bench(root: &Path, records: u64) -> anyhow::Result<()> {
    crate::stack::up(root, false)?;
    let cyberflag = crate::release_cyberflag(root)?;
    run(
        root,
        "cargo",
        &[
            "build",
            "--release",
            "--quiet",
            "-p",
            "bus",
            "--example",
            "naive_consumer",
        ],
    )?;
    let naive = crate::target_dir(root).join("release/examples/naive_consumer");

    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let dir = root.join(".stack/bench").join(stamp.to_string());
    std::fs::create_dir_all(&dir)?;
    let topic = format!("bench.raw.{stamp}");
    let database = format!("bench_{stamp}");
    let env: Vec<(String, String)> = vec![
        ("CYBERFLAG_KAFKA_RAW_TOPIC".into(), topic.clone()),
        (
            "CYBERFLAG_KAFKA_DLQ_TOPIC".into(),
            format!("bench.dlq.{stamp}"),
        ),
        ("CYBERFLAG_CLICKHOUSE_DATABASE".into(), database.clone()),
        ("CYBERFLAG_INGEST_GROUP".into(), format!("bench-{stamp}")),
        (
            "CYBERFLAG_ADAPTER_STATE_DIR".into(),
            dir.join("state").display().to_string(),
        ),
        ("CYBERFLAG_METRICS_LISTEN".into(), String::new()),
        ("CYBERFLAG_LOG_LEVEL".into(), "warn".into()),
    ];
    let cyberflag_cmd = |args: &[&str]| {
        let mut command = Command::new(&cyberflag);
        command
            .args(args)
            .current_dir(root)
            .envs(env.iter().map(|(k, v)| (k, v)));
        command
    };
    let check = |mut command: Command, what: &str| -> anyhow::Result<()> {
        let status = command
            .status()
            .with_context(|| format!("running {what}"))?;
        if !status.success() {
            bail!("{what} failed ({status})");
        }
        Ok(())
    };
    check(cyberflag_cmd(&["topics", "create"]), "topics create")?;
    check(cyberflag_cmd(&["migrate"]), "migrate")?;

    eprintln!("writing {records} records of national NDJSON");
    let input = dir.join("input.ndjson");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input)?);
    let codes = [
        ("71/17", 13),
        ("88A", 14),
        ("86/2", 15),
        ("19D", 14),
        ("22B", 12),
    ];
    for i in 0..records {
        let (code, age) = codes[(i % 5) as usize];
        writeln!(
            file,
            "{{\"crime_ref\":\"MPS/{i:09}\",\"version\":1,\"status\":\"recorded\",\"offence_code\":\"{code}\",\
             \"cyber\":true,\"recorded_date\":\"2019-{:02}-{:02}\",\"recorded_precision\":\"day\",\
             \"offence_from\":\"2019-01-01\",\"offence_to\":\"2019-01-01\",\"victim_age\":{age},\"lsoa\":\"E01000914\"}}",
            i % 12 + 1,
            i % 28 + 1,
        )?;
    }
    file.flush()?;
    drop(file);

    let started = Instant::now();
    let mut adapter = cyberflag_cmd(&[
        "adapter",
        "--force",
        "metropolitan",
        "--dialect",
        "national-ndjson",
    ]);
    adapter.arg(&input).stderr(Stdio::null());
    check(adapter, "adapter")?;
    let adapter_rate = records as f64 / started.elapsed().as_secs_f64();

    clickhouse(&format!(
        "CREATE TABLE IF NOT EXISTS {database}.naive_raw (schema String, force String, dialect String, adapter String) \
         ENGINE = MergeTree ORDER BY force"
    ))?;
    let started = Instant::now();
    let pipeline = format!(
        "'{}' '{topic}' | clickhouse-client --database {database} --input_format_skip_unknown_fields=1 \
         --query 'INSERT INTO naive_raw FORMAT JSONEachRow'",
        naive.display()
    );
    check(
        {
            let mut c = Command::new("sh");
            c.args(["-c", &pipeline]);
            c
        },
        "naive baseline",
    )?;
    // The consumer stops after two quiet seconds; those are not work.
    let naive_seconds = (started.elapsed().as_secs_f64() - 2.0).max(0.001);
    let naive_rows: u64 = clickhouse(&format!("SELECT count() FROM {database}.naive_raw"))?
        .trim()
        .parse()?;
    let naive_rate = naive_rows as f64 / naive_seconds;

    let started = Instant::now();
    let mut ingest = cyberflag_cmd(&["ingest", "--exit-when-idle", "--idle-seconds", "2"])
        .stderr(Stdio::null())
        .spawn()?;
    let pid = ingest.id();
    let mut peak_kib = 0u64;
    let mut stored_at = None;
    loop {
        if let Some(kib) = rss_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        if stored_at.is_none() {
            let stored: u64 =
                clickhouse(&format!("SELECT count() FROM {database}.crime_versions"))?
                    .trim()
                    .parse()
                    .unwrap_or(0);
            if stored >= records {
                stored_at = Some(started.elapsed());
            }
        }
        if let Some(status) = ingest.try_wait()? {
            if !status.success() {
                bail!("ingest failed ({status})");
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ingest_seconds = stored_at
        .context("ingest exited before storing every record")?
        .as_secs_f64();
    let ingest_rate = records as f64 / ingest_seconds;

    // The same topic again, into fresh databases, by two and by three processes in one group.
    let mut scaled = Vec::new();
    for processes in 2..=3u32 {
        let database = format!("bench_{stamp}_{processes}");
        let group = format!("bench-{stamp}-{processes}");
        let with = |args: &[&str], id: Option<String>| {
            let mut command = cyberflag_cmd(args);
            command
                .env("CYBERFLAG_CLICKHOUSE_DATABASE", &database)
                .env("CYBERFLAG_INGEST_GROUP", &group)
                .stderr(Stdio::null());
            if let Some(id) = id {
                command.env("CYBERFLAG_INGEST_INSTANCE_ID", id);
            }
            command
        };
        check(with(&["migrate"], None), "migrate")?;
        let started = Instant::now();
        let mut children = Vec::new();
        for i in 0..processes {
            children.push(
                with(
                    &["ingest", "--exit-when-idle", "--idle-seconds", "2"],
                    Some(format!("bench-{i}")),
                )
                .spawn()?,
            );
        }
        let mut stored_at = None;
        while stored_at.is_none() {
            let stored: u64 =
                clickhouse(&format!("SELECT count() FROM {database}.crime_versions"))?
                    .trim()
                    .parse()
                    .unwrap_or(0);
            if stored >= records {
                stored_at = Some(started.elapsed().as_secs_f64());
            } else if started.elapsed() > Duration::from_secs(1800) {
                bail!("{processes} processes did not store every record in 30 minutes");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        for mut child in children {
            child.wait()?;
        }
        let seconds = stored_at.unwrap_or(f64::NAN);
        scaled.push((processes, seconds, records as f64 / seconds));
        let _ = clickhouse(&format!("DROP DATABASE IF EXISTS {database}"));
    }

    println!("| measurement | records | seconds | records/s |");
    println!("|---|---:|---:|---:|");
    println!(
        "| file adapter → broker (national NDJSON, release) | {records} | {:.2} | {:.0} |",
        records as f64 / adapter_rate,
        adapter_rate
    );
    println!(
        "| naive baseline: consumer → stdout → clickhouse-client JSONEachRow | {naive_rows} | {naive_seconds:.2} | {naive_rate:.0} |"
    );
    println!(
        "| cyberflag ingest: raw topic → ClickHouse (verify, normalise, dedup, commit) | {records} | {ingest_seconds:.2} | {ingest_rate:.0} |"
    );
    for (processes, seconds, rate) in &scaled {
        println!(
            "| cyberflag ingest, {processes} processes in one group (12 partitions) | {records} | {seconds:.2} | {rate:.0} |"
        );
    }
    println!();
    println!("ingest peak RSS: {:.1} MiB", peak_kib as f64 / 1024.0);
    println!("ingest / baseline: {:.2}", ingest_rate / naive_rate);
    let _ = clickhouse(&format!("DROP DATABASE IF EXISTS {database}"));
    let _ = std::fs::remove_file(&input);
    Ok(())
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs one statement on the local ClickHouse over HTTP and returns the body.
pub(crate) fn clickhouse(sql: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect("127.0.0.1:8123")?;
    let request = format!(
        "POST / HTTP/1.0\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{sql}",
        sql.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    if !head.contains(" 200 ") {
        bail!("ClickHouse: {body}");
    }
    Ok(body.to_owned())
}
