//! `cyberflag ingest` and `cyberflag stats` against the real broker and ClickHouse.

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    IngestTotals, Sandbox, police_uk_expected, police_uk_files, terminate, wait_until, warehouse,
};

fn assert_balanced(totals: IngestTotals) {
    assert_eq!(
        totals.received,
        totals.stored + totals.duplicates + totals.dead_lettered,
        "received = stored + duplicates + dead-lettered: {totals:?}"
    );
}

/// The real police.uk files give, per force, month and category, exactly the number of
/// distinct Crime IDs, even when every file is published twice.
#[test]
fn police_uk_counts_are_distinct_crime_ids_per_force_month_and_category() {
    let sandbox = Sandbox::new("policeuk", 12);
    sandbox.migrate();
    let city = police_uk_files("city-of-london");
    let avon = police_uk_files("avon-and-somerset");
    sandbox.publish("city-of-london", "police-uk-street", &city);
    sandbox.publish("avon-and-somerset", "police-uk-street", &avon);
    // A forced re-send of a whole force's files, consumed in the same run: stored once,
    // counted as duplicates.
    let mut command = sandbox.command(&[]);
    command
        .args([
            "adapter",
            "--force",
            "avon-and-somerset",
            "--dialect",
            "police-uk-street",
            "--resend",
        ])
        .args(&avon);
    crate::support::succeed_stderr(&mut command);
    let totals = sandbox.ingest_until_idle(&[]);
    assert_balanced(totals);
    assert_eq!(totals.dead_lettered, 0);
    let published = |files: &[std::path::PathBuf]| -> u64 {
        files
            .iter()
            .map(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .skip(1)
                    .filter(|l| !l.starts_with(','))
                    .count() as u64
            })
            .sum()
    };
    let (city_rows, avon_rows) = (published(&city), published(&avon));
    assert_eq!(totals.received, city_rows + 2 * avon_rows);
    assert_eq!(
        totals.stored,
        city_rows + avon_rows,
        "each version stored once: {totals:?}"
    );
    assert_eq!(totals.duplicates, avon_rows);

    let mut expected = police_uk_expected(&city);
    expected.extend(police_uk_expected(&avon));
    let actual = sandbox.stats(&["--by", "force,month,category"]);
    crate::support::assert_counts(&actual, &expected, "counts");
    sandbox.drop_database();
}

/// Messages that fail provenance, parsing or validation are dead-lettered with their reason,
/// their source position and their original bytes; the valid one is stored.
#[test]
fn rejected_messages_reach_the_dead_letter_topic_with_reason_position_and_bytes() {
    let sandbox = Sandbox::new("dlq", 3);
    sandbox.migrate();
    let keyring = sandbox_keys();
    let record = |code: &str, age: &str, force: &str| wire::RawMessage {
        schema: wire::SCHEMA.into(),
        force: force.into(),
        dialect: wire::Dialect::NationalNdjson,
        adapter: "test".into(),
        source: wire::SourcePosition {
            name: "t".into(),
            line: 1,
        },
        record: Some(wire::RawRecord {
            crime_ref: Some(format!("ref-{code}-{age}-{force}")),
            version: Some("1".into()),
            status: Some("recorded".into()),
            offence_code: Some(code.into()),
            cyber: Some("true".into()),
            recorded_date: Some("2019-05-02".into()),
            victim_age: Some(age.into()),
            ..wire::RawRecord::default()
        }),
        malformed: None,
    };
    let west_mercia = &keyring["west-mercia"];
    let mut malformed = record("88A", "13", "west-mercia");
    malformed.record = None;
    malformed.malformed = Some("expected 15 fields, found 3".into());
    let valid = record("88A", "13", "west-mercia").to_bytes();
    let mut tampered = valid.clone();
    let tampered_signature = west_mercia.sign(&valid);
    if let Some(byte) = tampered.iter_mut().rev().find(|b| b.is_ascii_digit()) {
        *byte = b'7';
    }
    let cases: Vec<(Vec<u8>, String, &str)> = vec![
        (valid.clone(), west_mercia.sign(&valid), "stored"),
        {
            let bytes = record("88A", "13", "kent").to_bytes();
            let signature = west_mercia.sign(&bytes);
            (bytes, signature, "force-mismatch")
        },
        (tampered, tampered_signature, "bad-signature"),
        {
            let bytes = malformed.to_bytes();
            let signature = west_mercia.sign(&bytes);
            (bytes, signature, "malformed-row")
        },
        {
            let bytes = record("99Z", "13", "west-mercia").to_bytes();
            let signature = west_mercia.sign(&bytes);
            (bytes, signature, "unknown-offence-code")
        },
        {
            let bytes = record("19D", "12", "west-mercia").to_bytes();
            let signature = west_mercia.sign(&bytes);
            (bytes, signature, "age-inconsistent-with-offence")
        },
        (
            b"not json at all".to_vec(),
            west_mercia.sign(b"not json at all"),
            "malformed-envelope",
        ),
    ];
    let publisher = bus::Publisher::new(
        &crate::support::kafka(),
        &sandbox.raw_topic,
        Duration::from_secs(30),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for (payload, signature, _) in &cases {
            let headers: [(&str, &[u8]); 2] = [
                (wire::HEADER_KEY_ID, b"west-mercia-test"),
                (wire::HEADER_SIGNATURE, signature.as_bytes()),
            ];
            let delivery = publisher
                .send(bus::Outgoing {
                    key: b"k",
                    payload,
                    headers: &headers,
                })
                .await
                .unwrap();
            bus::Publisher::acknowledged(delivery).await.unwrap();
        }
    });
    let log = crate::support::succeed_stderr(sandbox.command(&[]).args([
        "ingest",
        "--exit-when-idle",
        "--idle-seconds",
        "2",
    ]));
    assert_eq!(
        IngestTotals::parse(&log),
        IngestTotals {
            received: 7,
            stored: 1,
            duplicates: 0,
            dead_lettered: 6
        }
    );
    // Each message of bad provenance leaves one audit line naming the reason, the key, the
    // detail and the message's position.
    let audit: Vec<&str> = log.lines().filter(|l| l.contains(" audit:")).collect();
    assert_eq!(audit.len(), 2, "{log}");
    for reason in ["force-mismatch", "bad-signature"] {
        let named = |line: &&str| {
            line.contains(&format!("reason=\"{reason}\""))
                && line.contains("key_id=\"west-mercia-test\"")
                && line.contains("detail=\"")
                && line.contains(&format!("topic={}", sandbox.raw_topic))
                && line.contains("partition=")
                && line.contains("offset=")
        };
        assert!(
            audit.iter().any(named),
            "no audit line for {reason}: {audit:?}"
        );
    }

    let dead = bus::read_topic(
        &crate::support::kafka(),
        &sandbox.dlq_topic,
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(dead.len(), 6);
    let mut reasons: Vec<String> = Vec::new();
    for message in &dead {
        let reason =
            String::from_utf8_lossy(message.header("cyberflag-dlq-reason").unwrap()).into_owned();
        let source =
            String::from_utf8_lossy(message.header("cyberflag-dlq-source").unwrap()).into_owned();
        let position = source
            .strip_prefix(&format!("{}/", sandbox.raw_topic))
            .unwrap_or_else(|| panic!("{source}"));
        let (partition, offset) = position.split_once('/').unwrap();
        assert!(
            partition.parse::<i32>().is_ok() && offset.parse::<i64>().is_ok(),
            "{source}"
        );
        let (payload, _, _) = cases.iter().find(|(_, _, r)| *r == reason).unwrap();
        assert_eq!(
            &message.payload, payload,
            "original bytes are kept for {reason}"
        );
        assert!(
            message
                .header("cyberflag-dlq-message")
                .is_some_and(|m| !m.is_empty())
        );
        reasons.push(reason);
    }
    reasons.sort();
    let mut expected: Vec<String> = cases
        .iter()
        .map(|(_, _, r)| (*r).to_owned())
        .filter(|r| r != "stored")
        .collect();
    expected.sort();
    assert_eq!(reasons, expected);
    sandbox.drop_database();
}

fn sandbox_keys() -> BTreeMap<String, wire::Signer> {
    model::ForceId::all()
        .enumerate()
        .map(|(i, force)| {
            let key = wire::Secret::from_hex(&format!("{:02x}", i + 1).repeat(32)).unwrap();
            (
                force.as_str().to_owned(),
                wire::Signer::new(format!("{force}-test"), key),
            )
        })
        .collect()
}

/// A small deterministic generator for kill timings (seed printed on failure).
struct Lcg(u64);

impl Lcg {
    fn next_millis(&mut self, low: u64, high: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        low + (self.0 >> 33) % (high - low)
    }
}

fn spawn_ingest(sandbox: &Sandbox, extra: &[(&str, &str)]) -> Child {
    sandbox
        .command(extra)
        .arg("ingest")
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// SIGKILL at random moments, five times in one run, with a restart after each: the counts
/// are still exact.
#[test]
fn ingest_killed_five_times_still_counts_exactly() {
    let sandbox = Sandbox::new("sigkill", 12);
    sandbox.migrate();
    let city = police_uk_files("city-of-london");
    let avon = police_uk_files("avon-and-somerset");
    sandbox.publish("city-of-london", "police-uk-street", &city);
    sandbox.publish("avon-and-somerset", "police-uk-street", &avon);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut random = Lcg(seed);
    // Small batches so kills land between, inside and after many INSERT/commit pairs.
    // One static member identity across the restarts, as a supervisor restarting one
    // process would give it: the restart takes over the killed member's partitions.
    let small = [
        ("CYBERFLAG_INGEST_BATCH_ROWS", "1500"),
        ("CYBERFLAG_INGEST_BATCH_INTERVAL_MS", "100"),
        ("CYBERFLAG_INGEST_INSTANCE_ID", "ingest-0"),
    ];
    for kill in 0..5 {
        let mut child = spawn_ingest(&sandbox, &small);
        let wait = random.next_millis(1_500, 5_000);
        std::thread::sleep(Duration::from_millis(wait));
        assert!(
            child.try_wait().unwrap().is_none(),
            "ingest exited early (seed {seed}, kill {kill})"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let last = sandbox.ingest_until_idle(&small);
    assert_balanced(last);
    let mut expected = police_uk_expected(&city);
    expected.extend(police_uk_expected(&avon));
    crate::support::assert_counts(
        &sandbox.stats(&["--by", "force,month,category"]),
        &expected,
        &format!("seed {seed}"),
    );
    sandbox.drop_database();
}

/// Two processes in one consumer group split the partitions and produce the same totals as one.
#[test]
fn two_ingest_processes_in_one_group_count_exactly() {
    let sandbox = Sandbox::new("twoproc", 12);
    sandbox.migrate();
    let avon = police_uk_files("avon-and-somerset");
    let city = police_uk_files("city-of-london");
    sandbox.publish("avon-and-somerset", "police-uk-street", &avon);
    sandbox.publish("city-of-london", "police-uk-street", &city);
    let spawn = || {
        sandbox
            .command(&[("CYBERFLAG_INGEST_BATCH_ROWS", "2000")])
            .args(["ingest", "--exit-when-idle", "--idle-seconds", "4"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outputs: Vec<String> = [a, b]
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(output.status.success(), "{stderr}");
            stderr
        })
        .collect();
    std::fs::write(sandbox.dir.path().join("../two-proc-a.log"), &outputs[0]).ok();
    std::fs::write(sandbox.dir.path().join("../two-proc-b.log"), &outputs[1]).ok();
    let totals: Vec<IngestTotals> = outputs.iter().map(|o| IngestTotals::parse(o)).collect();
    let both = totals[0].add(totals[1]);
    assert_balanced(both);
    assert!(both.stored > 0);
    let mut expected = police_uk_expected(&avon);
    expected.extend(police_uk_expected(&city));
    crate::support::assert_counts(
        &sandbox.stats(&["--by", "force,month,category"]),
        &expected,
        "counts",
    );
    sandbox.drop_database();
}

/// The Rust row type matches the live table column for column (RowBinary has no names).
#[tokio::test]
async fn the_row_type_matches_the_table() {
    #[derive(Debug, clickhouse::Row, serde::Deserialize)]
    struct Column {
        name: String,
    }
    let sandbox_db = crate::support::unique("it_schema");
    let warehouse = warehouse(&sandbox_db);
    warehouse.migrate().await.unwrap();
    let sql = format!(
        "SELECT name FROM system.columns WHERE database = '{sandbox_db}' AND table = 'crime_versions'"
    );
    let columns: Vec<String> = warehouse
        .client()
        .query(&sql)
        .fetch_all::<Column>()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(columns, warehouse::CRIME_VERSION_COLUMNS);
    let sql = format!(
        "SELECT name FROM system.columns WHERE database = '{sandbox_db}' AND table = 'alerts'"
    );
    let columns: Vec<String> = warehouse
        .client()
        .query(&sql)
        .fetch_all::<Column>()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        columns,
        warehouse::alerts::ALERT_COLUMNS,
        "AlertRow's field order"
    );
    warehouse.drop_database().await.unwrap();
}

/// A private ClickHouse for the outage test, so stopping it disturbs no other test.
struct PrivateClickHouse {
    dir: tempfile::TempDir,
    http_port: u16,
    child: Option<Child>,
}

impl PrivateClickHouse {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let http_port = crate::support::free_port();
        let tcp_port = crate::support::free_port();
        let path = dir.path().display().to_string();
        std::fs::write(
            dir.path().join("config.xml"),
            format!(
                "<?xml version=\"1.0\"?><yandex><logger><level>warning</level><log>{path}/server.log</log><errorlog>{path}/error.log</errorlog></logger>\
                 <http_port>{http_port}</http_port><tcp_port>{tcp_port}</tcp_port><listen_host>127.0.0.1</listen_host>\
                 <path>{path}/data/</path><tmp_path>{path}/data/tmp/</tmp_path><user_files_path>{path}/data/user_files/</user_files_path>\
                 <format_schema_path>{path}/data/format_schemas/</format_schema_path>\
                 <users_config>users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database>\
                 <mark_cache_size>268435456</mark_cache_size><timezone>UTC</timezone><mlock_executable>false</mlock_executable></yandex>"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("users.xml"),
            "<?xml version=\"1.0\"?><yandex><profiles><default/></profiles><users><default><password></password>\
             <networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>\
             <quotas><default/></quotas></yandex>",
        )
        .unwrap();
        let mut server = Self {
            dir,
            http_port,
            child: None,
        };
        server.resume();
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    fn resume(&mut self) {
        let binary = ["/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("clickhouse-server installed by `cargo xtask stack up`");
        let child = std::process::Command::new(binary)
            .arg(format!(
                "--config-file={}/config.xml",
                self.dir.path().display()
            ))
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        let address = format!("127.0.0.1:{}", self.http_port);
        loop {
            let (status, body) = std::panic::catch_unwind(|| {
                crate::support::http(&address, "GET", "/ping", &[], b"")
            })
            .unwrap_or((0, String::new()));
            if status == 200 && body.starts_with("Ok.") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "private ClickHouse did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for PrivateClickHouse {
    fn drop(&mut self) {
        self.stop();
    }
}

/// ClickHouse stops for 30 seconds in the middle of a run: ingest waits, resumes on its own,
/// and the counts are exact.
#[test]
fn ingest_waits_out_a_clickhouse_outage_and_counts_exactly() {
    let sandbox = Sandbox::new("outage", 6);
    let mut clickhouse = PrivateClickHouse::start();
    let url = clickhouse.url();
    let private = [("CYBERFLAG_CLICKHOUSE_URL", url.as_str())];
    crate::support::succeed(sandbox.command(&private).arg("migrate"));
    let city = police_uk_files("city-of-london");
    let (early, late) = city.split_at(12);
    sandbox.publish("city-of-london", "police-uk-street", early);

    let mut child = sandbox.run_ingest(&private);
    let stats = |extra: &[&str]| {
        let mut command = sandbox.command(&private);
        command.args(["stats", "--format", "csv"]).args(extra);
        command.output().unwrap()
    };
    let total = |output: std::process::Output| -> Option<u64> {
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.lines().nth(1).and_then(|l| l.trim().parse().ok())
    };
    let early_expected: u64 = police_uk_expected(early).values().sum();
    wait_until(
        Duration::from_secs(60),
        Duration::from_millis(250),
        "the first part was not stored",
        || total(stats(&[])) == Some(early_expected),
    );

    clickhouse.stop();
    sandbox.publish("city-of-london", "police-uk-street", late);
    std::thread::sleep(Duration::from_secs(30));
    assert!(
        child.try_wait().is_none(),
        "ingest must wait, not exit, while ClickHouse is down"
    );
    clickhouse.resume();

    let expected = police_uk_expected(&city);
    let expected_total: u64 = expected.values().sum();
    wait_until(
        Duration::from_secs(120),
        Duration::from_millis(500),
        "ingest did not resume after the outage",
        || total(stats(&[])) == Some(expected_total),
    );
    // SIGTERM: flush, commit, exit 0.
    terminate(child.into_inner());
    let text =
        String::from_utf8_lossy(&stats(&["--by", "force,month,category"]).stdout).into_owned();
    let actual = crate::support::parse_counts(&text);
    crate::support::assert_counts(&actual, &expected, "counts");
}

/// The network between ingest and ClickHouse stalls for 25 seconds (no byte moves, no reset)
/// in the middle of a run: inserts time out instead of hanging, are retried on the same rows,
/// and the counts are exact once the path recovers, even though requests caught in the stall
/// may reach the server late, after their retry.
#[test]
fn ingest_rides_out_a_network_stall_to_clickhouse_and_counts_exactly() {
    let sandbox = Sandbox::new("stall", 6);
    sandbox.migrate();
    let proxy = crate::net::StallingProxy::start("127.0.0.1:8123");
    let url = format!("http://{}", proxy.address());
    let city = police_uk_files("city-of-london");
    let (early, late) = city.split_at(12);
    sandbox.publish("city-of-london", "police-uk-street", early);
    let mut child = sandbox.run_ingest(&[
        ("CYBERFLAG_CLICKHOUSE_URL", url.as_str()),
        ("CYBERFLAG_CLICKHOUSE_INSERT_TIMEOUT_SECS", "3"),
        ("CYBERFLAG_INGEST_BATCH_ROWS", "2000"),
    ]);
    // Statistics are read directly, not through the stalled path.
    let total = || -> u64 { sandbox.stats(&[]).values().sum() };
    let early_expected: u64 = police_uk_expected(early).values().sum();
    wait_until(
        Duration::from_secs(60),
        Duration::from_millis(250),
        "the first part was not stored",
        || total() == early_expected,
    );

    proxy.stall(true);
    sandbox.publish("city-of-london", "police-uk-street", late);
    std::thread::sleep(Duration::from_secs(25));
    assert!(
        child.try_wait().is_none(),
        "ingest must wait, not exit, while the network is stalled"
    );
    assert_eq!(total(), early_expected, "nothing passed the stall");
    proxy.stall(false);

    let expected = police_uk_expected(&city);
    let expected_total: u64 = expected.values().sum();
    wait_until(
        Duration::from_secs(120),
        Duration::from_millis(500),
        "ingest did not recover from the stall",
        || total() == expected_total,
    );
    let log = terminate(child.into_inner());
    assert!(
        log.lines().any(
            |line| line.contains("insert failed; retrying the same rows")
                && line.contains("timeout expired")
        ),
        "the stall was felt as a timed-out insert: {log}"
    );
    crate::support::assert_counts(
        &sandbox.stats(&["--by", "force,month,category"]),
        &expected,
        "after a network stall",
    );
    sandbox.drop_database();
}

/// Three processes on a 12-partition topic; one is SIGKILLed mid-run and a replacement with its
/// identity (as a StatefulSet restarts a pod) takes over: the counts are exact.
#[test]
fn three_ingest_processes_one_killed_and_replaced_count_exactly() {
    let sandbox = Sandbox::new("scale", 12);
    sandbox.migrate();
    let avon = police_uk_files("avon-and-somerset");
    let city = police_uk_files("city-of-london");
    sandbox.publish("avon-and-somerset", "police-uk-street", &avon);
    sandbox.publish("city-of-london", "police-uk-street", &city);
    let spawn = |id: &str| {
        sandbox
            .command(&[
                ("CYBERFLAG_INGEST_BATCH_ROWS", "1000"),
                ("CYBERFLAG_INGEST_BATCH_INTERVAL_MS", "100"),
                ("CYBERFLAG_INGEST_INSTANCE_ID", id),
            ])
            .args(["ingest", "--exit-when-idle", "--idle-seconds", "4"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn("ingest-0");
    let mut victim = spawn("ingest-1");
    let third = spawn("ingest-2");
    std::thread::sleep(Duration::from_millis(2_500));
    assert!(
        victim.try_wait().unwrap().is_none(),
        "ingest-1 finished before the kill"
    );
    victim.kill().unwrap();
    victim.wait().unwrap();
    let replacement = spawn("ingest-1");
    for child in [first, third, replacement] {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut expected = police_uk_expected(&avon);
    expected.extend(police_uk_expected(&city));
    crate::support::assert_counts(
        &sandbox.stats(&["--by", "force,month,category"]),
        &expected,
        "three processes, one killed and replaced",
    );
    sandbox.drop_database();
}
