//! Faults of the hosts around the pipeline: a full disk, a broker restarted on durable storage.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{
    Guarded, Sandbox, crime_rows, free_port, police_uk_expected, police_uk_files, succeed,
    succeed_stderr, terminate, wait_until,
};
use std::path::{Path, PathBuf};

/// A small filesystem of its own (tmpfs), filled to the last byte; unmounted on drop.
struct FullDisk {
    mount: PathBuf,
    filler: PathBuf,
}

impl FullDisk {
    /// Mounts a 512 KiB tmpfs at `mount` (needs root, which `cargo xtask test` has), creates
    /// `dirs` in it, then fills it.
    fn new(mount: &Path, dirs: &[&str]) -> Self {
        std::fs::create_dir_all(mount).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
            .arg(mount)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "cannot mount a tmpfs (this test needs root)"
        );
        // From here on, dropping `disk` unmounts, whatever fails next.
        let disk = Self {
            mount: mount.to_owned(),
            filler: mount.join("filler"),
        };
        for dir in dirs {
            std::fs::create_dir_all(mount.join(dir)).unwrap();
        }
        disk.fill();
        disk
    }

    fn fill(&self) {
        use std::io::Write;
        let mut file = std::fs::File::create(&self.filler).unwrap();
        let block = vec![0u8; 4096];
        let error = loop {
            if let Err(error) = file.write_all(&block) {
                break error;
            }
        };
        assert_eq!(error.raw_os_error(), Some(28), "ENOSPC: {error}");
    }

    fn free(&self) {
        std::fs::remove_file(&self.filler).unwrap();
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let unmounted = std::process::Command::new("umount")
            .arg(&self.mount)
            .status()
            .is_ok_and(|status| status.success());
        if !unmounted {
            eprintln!(
                "could not unmount the test tmpfs at {}",
                self.mount.display()
            );
        }
    }
}

/// The disk of the adapter and ingest host is full. The adapter cannot save its checkpoint: it
/// stops with the reason rather than publish past what it can remember. Ingest, whose log
/// cannot be written, keeps storing. Once space is freed the adapter resumes, and the counts
/// are exact: nothing lost, nothing counted twice.
#[test]
fn a_full_disk_stops_the_adapter_cleanly_and_ingest_keeps_storing() {
    let sandbox = Sandbox::new("diskfull", 3);
    sandbox.migrate();
    let disk = FullDisk::new(&sandbox.dir.path().join("disk"), &["state", "logs"]);
    let state = disk.mount.join("state");
    let state = state.to_str().unwrap();
    let files = police_uk_files("city-of-london");
    let adapter = |extra: &[(&str, &str)]| {
        sandbox.adapter(extra, "city-of-london", "police-uk-street", &files)
    };
    let settings = [
        ("CYBERFLAG_ADAPTER_STATE_DIR", state),
        ("CYBERFLAG_ADAPTER_CHECKPOINT_EVERY", "200"),
    ];
    let refused = adapter(&settings).output().unwrap();
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{error}");
    assert!(error.contains("No space left on device"), "{error}");

    // Ingest with its standard output and error on the full disk (a full log volume).
    let log = std::fs::File::create(disk.mount.join("logs/ingest.log")).unwrap();
    let ingest = sandbox
        .command(&[("CYBERFLAG_LOG", "debug")])
        .args(["ingest", "--exit-when-idle", "--idle-seconds", "2"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .unwrap();
    assert!(
        ingest.success(),
        "ingest failed when its log could not be written: {ingest}"
    );
    let stored_before: u64 = sandbox.stats(&[]).values().sum();
    assert!(
        stored_before > 0,
        "what was published before the stop is stored"
    );

    disk.free();
    succeed_stderr(&mut adapter(&settings));
    let totals = sandbox.ingest_until_idle(&[]);
    assert!(
        totals.duplicates > 0 || totals.stored > 0,
        "the second run delivered records: {totals:?}"
    );
    crate::support::assert_counts(
        &sandbox.stats(&["--by", "force,month,category"]),
        &police_uk_expected(&files),
        "after the disk was full",
    );
    drop(disk);
    sandbox.drop_database();
}

/// The broker, storing in SQLite, is SIGKILLed and restarted under a running adapter and a
/// running ingest: what it acknowledged before is still there, the adapter publishes the files
/// that arrive after the restart and ingest stores them, neither restarted itself, and the
/// counts are exact.
#[test]
fn a_broker_restarted_on_durable_storage_loses_nothing_and_producers_resume() {
    let sandbox = Sandbox::new("durable", 1);
    sandbox.migrate();
    let store = sandbox.dir.path().join("broker");
    std::fs::create_dir_all(&store).unwrap();
    let port = free_port();
    let broker = crate::net::PrivateBroker::durable(port, &store);
    let brokers = format!("127.0.0.1:{port}");
    let private = [
        ("CYBERFLAG_KAFKA_BROKERS", brokers.as_str()),
        ("CYBERFLAG_KAFKA_RAW_PARTITIONS", "2"),
        ("CYBERFLAG_KAFKA_DLQ_PARTITIONS", "1"),
    ];
    succeed(sandbox.command(&private).args(["topics", "create"]));
    let settings = bus::ClientSettings::plaintext(brokers.clone());
    let on_topic = || {
        bus::read_topic(&settings, &sandbox.raw_topic, Duration::from_secs(60))
            .map(|messages| messages.len())
            .unwrap_or(0)
    };

    // A long-running adapter watching a spool directory.
    let spool = sandbox.dir.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let profile = sandbox.dir.path().join("col.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"col-durable\"\nforce = \"city-of-london\"\ndialect = \"police-uk-street\"\n\
             [source]\nwatch = \"{}\"\nextensions = [\"csv\"]\nsettle_secs = 0\npoll_interval_secs = 1\n",
            spool.display()
        ),
    )
    .unwrap();
    let mut adapter = Guarded::new(
        sandbox
            .command(&private)
            .args(["adapter", "--profile", profile.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let files = police_uk_files("city-of-london");
    let (before, after) = (&files[..2], &files[2..4]);
    let wait_for = |count: usize, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let seen = on_topic();
            if seen == count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {seen} of {count} messages on the topic"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    for file in before {
        std::fs::copy(file, spool.join(file.file_name().unwrap())).unwrap();
    }
    wait_for(crime_rows(before).0, "before the restart");
    // A long-running ingest too, which must find its group again after the restart.
    let ingest = sandbox.run_ingest(&private);
    let total = || -> u64 { sandbox.stats(&[]).values().sum() };
    let stored_before: u64 = police_uk_expected(before).values().sum();
    wait_until(
        Duration::from_secs(60),
        Duration::from_millis(250),
        "ingest did not store the first files",
        || total() == stored_before,
    );

    broker.kill();
    let broker = crate::net::PrivateBroker::durable(port, &store);
    wait_for(crime_rows(before).0, "kept across the restart");
    for file in after {
        std::fs::copy(file, spool.join(file.file_name().unwrap())).unwrap();
    }
    wait_for(crime_rows(&files[..4]).0, "published after the restart");
    assert!(
        adapter.try_wait().is_none(),
        "the adapter kept running across the restart"
    );
    terminate(adapter.into_inner());

    let expected = police_uk_expected(&files[..4]);
    let expected_total: u64 = expected.values().sum();
    wait_until(
        Duration::from_secs(120),
        Duration::from_millis(500),
        "ingest did not resume after the broker restart",
        || total() == expected_total,
    );
    terminate(ingest.into_inner());
    crate::support::assert_counts(
        &sandbox.stats(&["--by", "force,month,category"]),
        &expected,
        "after a broker restart",
    );
    drop(broker);
    sandbox.drop_database();
}

/// The network between the API and ClickHouse stalls: requests are answered 504 within the
/// query timeout instead of hanging, the API stays up, and answers again when the path recovers.
#[test]
fn the_api_answers_504_while_its_store_is_stalled_and_recovers() {
    let sandbox = Sandbox::new("apistall", 1);
    sandbox.migrate();
    let proxy = crate::net::StallingProxy::start("127.0.0.1:8123");
    let url = format!("http://{}", proxy.address());
    let token = sandbox.token("national");
    let api = sandbox.spawn_api(
        &[
            ("CYBERFLAG_API_SNAPSHOT_SECS", "0"),
            ("CYBERFLAG_API_QUERY_TIMEOUT_SECS", "2"),
            ("CYBERFLAG_CLICKHOUSE_URL", url.as_str()),
        ],
        Stdio::null(),
    );
    let address = api.address.clone();
    let auth = format!("Bearer {token}");
    let ask = || {
        let asked = Instant::now();
        let (status, body) = crate::support::http(
            &address,
            "GET",
            "/v1/stats?by=force",
            &[("Authorization", &auth)],
            b"",
        );
        (status, body, asked.elapsed())
    };
    let (before, body, _) = ask();
    proxy.stall(true);
    let (during, during_body, waited) = ask();
    let (health, _) = crate::support::http(&address, "GET", "/healthz", &[], b"");
    proxy.stall(false);
    let (after, after_body, _) = ask();
    drop(api);
    assert_eq!(before, 200, "{body}");
    assert_eq!(during, 504, "{during_body}");
    assert!(
        during_body.contains("did not answer within 2 s"),
        "{during_body}"
    );
    assert!(
        waited < Duration::from_secs(10),
        "answered after {waited:?}"
    );
    assert_eq!(health, 200, "the API itself stayed up");
    assert_eq!(after, 200, "{after_body}");
    sandbox.drop_database();
}
