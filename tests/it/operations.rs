//! Operations: replaying the dead-letter topic after a fix.

use crate::support::{Sandbox, assert_counts, police_uk_expected, police_uk_files, succeed};

/// City of London's adapter signs with a key the ingest keyring does not know yet (a new key
/// issued to the force): every record is dead-lettered. Once the keyring carries the key,
/// `cyberflag dlq replay` sends them back and the counts become exact.
#[test]
fn dlq_replay_reingests_fixed_records_and_the_counts_become_exact() {
    let sandbox = Sandbox::new("replay", 3);
    sandbox.migrate();
    let files = police_uk_files("city-of-london");
    let keyring_path = sandbox.dir.path().join("keyring.toml");
    let original = std::fs::read_to_string(&keyring_path).unwrap();
    // The force's new key, known to its adapter only.
    let new_key = format!(
        "[forces.city-of-london]\nkey_id = \"city-of-london-2027\"\nsigning_key = \"{}\"\npseudonymisation_key = \"{}\"\n",
        "ab".repeat(32),
        "cd".repeat(32)
    );
    let adapter_keyring = sandbox.dir.path().join("adapter-keyring.toml");
    std::fs::write(&adapter_keyring, &new_key).unwrap();
    crate::support::set_private(&adapter_keyring);
    crate::support::succeed_stderr(&mut sandbox.adapter(
        &[(
            "CYBERFLAG_SECURITY_KEYRING",
            adapter_keyring.to_str().unwrap(),
        )],
        "city-of-london",
        "police-uk-street",
        &files,
    ));
    let first = sandbox.ingest_until_idle(&[]);
    assert_eq!(first.stored, 0, "{first:?}");
    assert_eq!(first.dead_lettered, first.received);

    let listed = succeed(
        sandbox
            .command(&[])
            .args(["dlq", "list", "--force", "city-of-london"]),
    );
    let rows: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(rows.len() as u64, first.dead_lettered);
    let reason = rows[0].split('\t').nth(1).unwrap().to_owned();
    assert!(
        rows.iter()
            .all(|r| r.split('\t').nth(1) == Some(reason.as_str())),
        "{listed}"
    );
    let none = succeed(
        sandbox
            .command(&[])
            .args(["dlq", "list", "--reason", "no-such-reason"]),
    );
    assert_eq!(none.lines().count(), 1, "only the header: {none}");

    // The fix: the ingest keyring learns the force's new key.
    let updated: String = original
        .split("[forces.")
        .filter(|section| !section.is_empty() && !section.starts_with("city-of-london]"))
        .map(|section| format!("[forces.{section}"))
        .collect::<String>()
        + &new_key;
    std::fs::write(&keyring_path, updated).unwrap();
    succeed(sandbox.command(&[]).args([
        "dlq",
        "replay",
        "--reason",
        &reason,
        "--force",
        "city-of-london",
    ]));
    let second = sandbox.ingest_until_idle(&[]);
    assert_eq!(second.dead_lettered, 0, "{second:?}");
    let expected = police_uk_expected(&files);
    let actual = sandbox.stats(&["--by", "force,month,category"]);
    assert_counts(&actual, &expected, "after replay");

    // Replaying again changes nothing: every version is stored once.
    succeed(
        sandbox
            .command(&[])
            .args(["dlq", "replay", "--reason", &reason]),
    );
    sandbox.ingest_until_idle(&[]);
    assert_counts(
        &sandbox.stats(&["--by", "force,month,category"]),
        &expected,
        "after a second replay",
    );
    sandbox.drop_database();
}

/// A force's signing key is rotated while records flow: records signed with the old key (still
/// on the topic) and with the new one are all stored, nothing is dead-lettered, and pseudonyms
/// do not change because the pseudonymisation key is not rotated with it.
#[test]
fn a_signing_key_rotates_without_losing_a_record() {
    let sandbox = Sandbox::new("rotate", 3);
    sandbox.migrate();
    let files = police_uk_files("city-of-london");
    let (old_files, new_files) = files.split_at(files.len() / 2);
    let keyring_path = sandbox.dir.path().join("keyring.toml");
    let original = std::fs::read_to_string(&keyring_path).unwrap();
    let section = original
        .split("[forces.")
        .find(|s| s.starts_with("city-of-london]"))
        .unwrap()
        .to_owned();
    let field = |name: &str| {
        section
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split('"').nth(1))
            .unwrap()
            .to_owned()
    };
    let (old_id, old_key, pseudonymisation) = (
        field("key_id"),
        field("signing_key"),
        field("pseudonymisation_key"),
    );
    // Records signed with the old key are published but not yet ingested.
    sandbox.publish("city-of-london", "police-uk-street", old_files);

    // Rotation: ingest's keyring gets the new key as current and keeps the old one as retired;
    // the adapter signs with the new key from now on.
    let new_key = "ef".repeat(32);
    let rotated_section = format!(
        "[forces.city-of-london]\nkey_id = \"city-of-london-2027\"\nsigning_key = \"{new_key}\"\n\
         pseudonymisation_key = \"{pseudonymisation}\"\n\n\
         [[forces.city-of-london.retired]]\nkey_id = \"{old_id}\"\nsigning_key = \"{old_key}\"\n"
    );
    let rotated: String = original
        .split("[forces.")
        .filter(|s| !s.is_empty() && !s.starts_with("city-of-london]"))
        .map(|s| format!("[forces.{s}"))
        .collect::<String>()
        + &rotated_section;
    std::fs::write(&keyring_path, rotated).unwrap();
    sandbox.publish("city-of-london", "police-uk-street", new_files);

    let totals = sandbox.ingest_until_idle(&[]);
    assert_eq!(totals.dead_lettered, 0, "{totals:?}");
    let expected = police_uk_expected(&files);
    assert_counts(
        &sandbox.stats(&["--by", "force,month,category"]),
        &expected,
        "records signed before and after the rotation",
    );
    sandbox.drop_database();
}

/// `cyberflag doctor` fails a deployment whose schema is missing, saying what to run, and
/// passes it once migrated.
#[test]
fn doctor_names_each_problem_and_its_fix() {
    let sandbox = Sandbox::new("doctor", 3);
    let partitions = [("CYBERFLAG_KAFKA_RAW_PARTITIONS", "3")];
    let output = sandbox.command(&partitions).arg("doctor").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("FAIL schema") && l.contains("cyberflag migrate")),
        "{stdout}"
    );
    assert!(stdout.contains("ok   topic"), "{stdout}");
    let missing = sandbox
        .command(&[
            ("CYBERFLAG_KAFKA_RAW_PARTITIONS", "3"),
            ("CYBERFLAG_KAFKA_RAW_TOPIC", "it.doctor.no-such-topic"),
        ])
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&missing.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL topic") && l.contains("cyberflag topics create")),
        "{text}"
    );
    sandbox.migrate();
    let output = sandbox.command(&partitions).arg("doctor").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("ok   schema"), "{stdout}");
    sandbox.drop_database();
}

/// A long-running role serves `/healthz` (the Kubernetes probes) and `/metrics` (Prometheus) on
/// `metrics.listen`, including its live heap from the allocator's statistics.
#[test]
fn long_running_roles_answer_health_and_metrics() {
    let sandbox = Sandbox::new("probes", 3);
    sandbox.migrate();
    let address = format!("127.0.0.1:{}", crate::support::free_port());
    let mut ingest = sandbox
        .command(&[("CYBERFLAG_METRICS_LISTEN", address.as_str())])
        .arg("ingest")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(started.elapsed().as_secs() < 30, "no metrics endpoint");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let health = crate::support::http(&address, "GET", "/healthz", &[], b"");
    let gauge = |body: &str, name: &str| -> Option<f64> {
        body.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    };
    let mut metrics = (0, String::new());
    crate::support::wait_until(
        std::time::Duration::from_secs(15),
        std::time::Duration::from_millis(100),
        "no heap gauges on /metrics",
        || {
            metrics = crate::support::http(&address, "GET", "/metrics", &[], b"");
            gauge(&metrics.1, "cyberflag_heap_allocated_bytes").is_some()
        },
    );
    ingest.kill().unwrap();
    ingest.wait().unwrap();
    assert_eq!(health, (200, "ok\n".to_owned()));
    assert_eq!(metrics.0, 200);
    let allocated = gauge(&metrics.1, "cyberflag_heap_allocated_bytes").unwrap();
    let resident = gauge(&metrics.1, "cyberflag_heap_resident_bytes").unwrap();
    // A running ingest holds its configuration, clients and buffers: well over 100 KiB.
    assert!(allocated > 100_000.0, "{}", metrics.1);
    assert!(resident >= allocated, "{}", metrics.1);
    sandbox.drop_database();
}

/// `cyberflag backfill` publishes a directory of a force's history in name order; a second
/// backfill of the same history re-sends every row and changes no count.
#[test]
fn backfill_publishes_a_history_and_repeating_it_changes_nothing() {
    let sandbox = Sandbox::new("backfill", 3);
    sandbox.migrate();
    let files = police_uk_files("city-of-london");
    let dir = files[0].parent().unwrap().to_str().unwrap().to_owned();
    let backfill = || {
        crate::support::succeed_stderr(sandbox.command(&[]).args([
            "backfill",
            "--force",
            "city-of-london",
            "--dialect",
            "police-uk-street",
            "--extension",
            "csv",
            &dir,
        ]))
    };
    let first = backfill();
    assert!(first.contains("backfilling"), "{first}");
    let stored = sandbox.ingest_until_idle(&[]);
    let expected = police_uk_expected(&files);
    assert_counts(
        &sandbox.stats(&["--by", "force,month,category"]),
        &expected,
        "backfill",
    );
    backfill();
    let again = sandbox.ingest_until_idle(&[]);
    // Every row re-sent (and, after the group's rewind on re-joining, some read again).
    assert!(again.received >= stored.received, "{again:?} {stored:?}");
    // A new ingest process does not remember earlier versions, so it may store them again;
    // storage collapses them and no count changes (ARCHITECTURE.md, delivery semantics).
    assert_counts(
        &sandbox.stats(&["--by", "force,month,category"]),
        &expected,
        "second backfill",
    );
    sandbox.drop_database();
}
