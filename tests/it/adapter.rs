//! `cyberflag adapter` against the real broker: what lands on the raw topic.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::support::{Sandbox, crime_rows, free_port, http, police_uk_files, succeed_stderr};

fn payload(message: &bus::Received) -> wire::RawMessage {
    wire::RawMessage::from_bytes(&message.payload).unwrap()
}

/// The real City of London files through the police.uk dialect: one message per row with a
/// Crime ID (rows repeating an ID are all published; ingest keeps the last, see the dialect's
/// docs), keyed by force and pseudonym, signed; a second run publishes nothing; a forced
/// re-send publishes byte-identical messages.
#[test]
fn city_of_london_publishes_once_per_crime_row_and_resends_identically() {
    let sandbox = Sandbox::new("col", 6);
    let files = police_uk_files("city-of-london");
    assert!(files.len() >= 45);
    let (rows, distinct) = crime_rows(&files);
    let mut args = vec![
        "adapter",
        "--force",
        "city-of-london",
        "--dialect",
        "police-uk-street",
    ];
    let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));

    let summary = succeed_stderr(sandbox.command(&[]).args(&args));
    assert!(summary.contains(&format!("{rows} published")), "{summary}");
    assert!(
        summary.contains("no-crime-id"),
        "ASB rows are counted by reason: {summary}"
    );
    let first = sandbox.raw_messages();
    assert_eq!(first.len(), rows);

    let keyring = sandbox.verification_keyring();
    let mut references = BTreeSet::new();
    for message in &first {
        let raw = payload(message);
        assert_eq!(raw.force, "city-of-london");
        let record = raw
            .record
            .as_ref()
            .expect("a record, not a malformed marker");
        let reference = record.crime_ref.clone().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&message.key),
            format!("city-of-london/{reference}")
        );
        keyring
            .verify(
                message.header(wire::HEADER_KEY_ID),
                message.header(wire::HEADER_SIGNATURE),
                &message.payload,
                &raw.force,
            )
            .unwrap();
        references.insert(reference);
    }
    assert_eq!(
        references.len(),
        distinct,
        "one pseudonym per distinct Crime ID"
    );
    // Every version of a crime lands on one partition.
    let mut partition_of: BTreeMap<Vec<u8>, i32> = BTreeMap::new();
    for message in &first {
        let partition = *partition_of
            .entry(message.key.clone())
            .or_insert(message.partition);
        assert_eq!(partition, message.partition);
    }

    let again = succeed_stderr(sandbox.command(&[]).args(&args));
    assert!(
        again.contains(&format!("{} already published", files.len())),
        "{again}"
    );
    assert_eq!(
        sandbox.raw_messages().len(),
        rows,
        "a second run publishes nothing"
    );

    let mut resend = args.clone();
    resend.push("--resend");
    succeed_stderr(sandbox.command(&[]).args(&resend));
    let all = sandbox.raw_messages();
    assert_eq!(all.len(), 2 * rows);
    let content = |m: &bus::Received| (m.key.clone(), m.payload.clone(), m.headers.clone());
    let mut copies: BTreeMap<_, usize> = BTreeMap::new();
    for message in &all {
        *copies.entry(content(message)).or_default() += 1;
    }
    assert!(
        copies.values().all(|&n| n == 2),
        "every message re-sent byte for byte"
    );
}

/// SIGKILL in the middle of a large backfill, then a restart: every record is on the topic at
/// least once, and duplicates stay within the checkpoint bound
/// (`checkpoint_every + max_in_flight`).
#[test]
fn a_killed_adapter_resumes_without_loss_and_within_the_duplicate_bound() {
    const ROWS: usize = 300_000;
    const CHECKPOINT_EVERY: usize = 1_000;
    const MAX_IN_FLIGHT: usize = 5_000;
    let sandbox = Sandbox::new("kill", 12);
    let input = sandbox.dir.path().join("backfill.ndjson");
    let mut text = String::with_capacity(ROWS * 200);
    for i in 0..ROWS {
        text.push_str(&format!(
            "{{\"crime_ref\":\"MPS/{i:07}\",\"version\":1,\"status\":\"recorded\",\"offence_code\":\"71/17\",\"cyber\":true,\"recorded_date\":\"2019-{:02}-{:02}\",\"recorded_precision\":\"day\",\"victim_age\":{}}}\n",
            i % 12 + 1,
            i % 28 + 1,
            13 + i % 3
        ));
    }
    std::fs::write(&input, text).unwrap();
    let checkpoint_every = CHECKPOINT_EVERY.to_string();
    let max_in_flight = MAX_IN_FLIGHT.to_string();
    let vars = [
        (
            "CYBERFLAG_ADAPTER_CHECKPOINT_EVERY",
            checkpoint_every.as_str(),
        ),
        ("CYBERFLAG_ADAPTER_MAX_IN_FLIGHT", max_in_flight.as_str()),
    ];
    let args = [
        "adapter",
        "--force",
        "metropolitan",
        "--dialect",
        "national-ndjson",
        input.to_str().unwrap(),
    ];
    let checkpoint = sandbox
        .dir
        .path()
        .join("state/metropolitan-national-ndjson.checkpoint.json");

    let mut child = sandbox
        .command(&vars)
        .args(args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut killed_at = None;
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(&checkpoint) {
            let done: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let rows = done["sources"]
                .as_object()
                .and_then(|s| s.values().next())
                .map(|p| p["rows_done"].as_u64().unwrap_or(0));
            if let Some(rows) = rows.filter(|&r| r >= 20_000) {
                child.kill().unwrap(); // SIGKILL
                killed_at = Some(rows);
                break;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backfill finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed_at = killed_at.expect("the checkpoint advanced");
    child.wait().unwrap();
    assert!((killed_at as usize) < ROWS, "killed in the middle");

    succeed_stderr(sandbox.command(&vars).args(args));
    let messages = sandbox.raw_messages();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for message in &messages {
        *seen
            .entry(String::from_utf8_lossy(&message.key).into_owned())
            .or_default() += 1;
    }
    assert_eq!(seen.len(), ROWS, "every record published at least once");
    let duplicates = messages.len() - ROWS;
    assert!(
        duplicates <= CHECKPOINT_EVERY + MAX_IN_FLIGHT,
        "{duplicates} duplicates exceed the bound {}",
        CHECKPOINT_EVERY + MAX_IN_FLIGHT
    );
}

/// A force CSV export carrying names, addresses, notes and dates of birth publishes none of
/// them, nor the force's own reference.
#[test]
fn private_fields_never_reach_the_topic() {
    let sandbox = Sandbox::new("privacy", 3);
    let dir = sandbox.dir.path();
    let csv = dir.join("export.csv");
    std::fs::write(
        &csv,
        "Crime Reference,Last Modified,Recorded Date,Committed From,Committed To,HO Code,Online Flag,Victim DOB,Victim Name,Victim Address,Status,Transferred To,Outcome,LSOA,Officer Notes\n\
         22WM/777001/19,05/03/2019 14:02:09,04/03/2019,01/02/2019,01/03/2019,071/17,Y,15/06/2005,Zebedee Quartermaine,\"14 Larkspur Close, Droitwich\",Recorded,,OC18,E01032133,\"Said \"\"hi\"\" online, see MG11\"\n",
    )
    .unwrap();
    let profile = dir.join("west-mercia.toml");
    let shipped =
        std::fs::read_to_string(crate::support::root().join("deploy/forces/west-mercia.toml"))
            .unwrap();
    let source = format!("[source]\nfiles = [\"{}\"]\n\n[mapping]", csv.display());
    let mut text = shipped.split("[source]").next().unwrap().to_owned();
    text.push_str(&source);
    text.push_str(shipped.split("[mapping]").nth(1).unwrap());
    std::fs::write(&profile, text).unwrap();

    let summary = succeed_stderr(sandbox.command(&[]).args([
        "adapter",
        "--profile",
        profile.to_str().unwrap(),
    ]));
    assert!(
        summary.contains("fields not forwarded: Officer Notes, Victim Address, Victim Name"),
        "{summary}"
    );
    let messages = sandbox.raw_messages();
    assert_eq!(messages.len(), 1);
    let bytes = String::from_utf8_lossy(&messages[0].payload).into_owned()
        + &String::from_utf8_lossy(&messages[0].key);
    for private in [
        "Zebedee",
        "Quartermaine",
        "Larkspur",
        "Droitwich",
        "MG11",
        "777001",
        "15/06/2005",
        "2005-06-15",
    ] {
        assert!(!bytes.contains(private), "{private} leaked: {bytes}");
    }
    let record = payload(&messages[0]).record.unwrap();
    assert_eq!(record.victim_age.as_deref(), Some("13"));
    assert_eq!(record.offence_code.as_deref(), Some("071/17"));
}

/// The order itself, observed: with the broker frozen, a push gets no reply and nothing is on
/// the topic; once the broker runs again, the reply comes, and every message it reports
/// published is on the topic.
#[test]
fn http_push_replies_only_after_the_broker_acknowledged_the_batch() {
    let sandbox = Sandbox::new("push_order", 1);
    let port = free_port();
    let broker = crate::net::PrivateBroker::start(port, &format!("127.0.0.1:{port}"));
    let brokers = format!("127.0.0.1:{port}");
    let private = [
        ("CYBERFLAG_KAFKA_BROKERS", brokers.as_str()),
        ("CYBERFLAG_KAFKA_RAW_PARTITIONS", "1"),
        ("CYBERFLAG_KAFKA_DLQ_PARTITIONS", "1"),
    ];
    crate::support::succeed(sandbox.command(&private).args(["topics", "create"]));
    let address = format!("127.0.0.1:{}", free_port());
    let profile = sandbox.dir.path().join("met.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"met-push-order\"\nforce = \"metropolitan\"\ndialect = \"national-ndjson\"\n\
             [source]\nlisten = \"{address}\"\npush_token_env = \"IT_PUSH_TOKEN\"\n"
        ),
    )
    .unwrap();
    let adapter = crate::support::Guarded::new(
        sandbox
            .command(&private)
            .env("IT_PUSH_TOKEN", "t0ken-for-tests")
            .args(["adapter", "--profile", profile.to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(Instant::now() < deadline, "push endpoint did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let settings = bus::ClientSettings::plaintext(brokers.clone());
    let on_topic = || {
        bus::read_topic(&settings, &sandbox.raw_topic, Duration::from_secs(30))
            .map(|messages| messages.len())
            .unwrap_or(0)
    };
    // One push while the broker runs, so the producer has its connections and metadata.
    let auth = [("Authorization", "Bearer t0ken-for-tests")];
    let record = |n: u32| {
        format!(
            r#"{{"crime_ref":"MPS-{n}","version":1,"status":"recorded","offence_code":"88A","cyber":true,"recorded_date":"2019-03-01","recorded_precision":"day"}}"#
        )
    };
    let (status, reply) = http(&address, "POST", "/v1/records", &auth, record(1).as_bytes());
    assert_eq!(status, 200, "{reply}");
    assert_eq!(on_topic(), 1);

    broker.freeze(true);
    let (sender, replies) = std::sync::mpsc::channel();
    let body = format!("{}\n{}\n", record(2), record(3));
    let pusher = {
        let address = address.clone();
        std::thread::spawn(move || {
            let reply = http(&address, "POST", "/v1/records", &auth, body.as_bytes());
            let _ = sender.send(reply);
        })
    };
    // Three seconds is far longer than an acknowledgement takes from a running broker (the push
    // above); while the broker is frozen no reply may come at all.
    assert!(
        replies.recv_timeout(Duration::from_secs(3)).is_err(),
        "the endpoint replied while the broker could not have acknowledged"
    );
    broker.freeze(false);
    let (status, reply) = replies
        .recv_timeout(Duration::from_secs(60))
        .expect("a reply once the broker runs again");
    pusher.join().unwrap();
    assert_eq!(status, 200, "{reply}");
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["published"], 2);
    assert_eq!(
        on_topic(),
        3,
        "everything the reply reports is on the topic"
    );
    crate::support::terminate(adapter.into_inner());
}

/// The HTTP push endpoint reports per-line errors, refuses bad requests with the right status,
/// and has published what it reports by the time it replies.
#[test]
fn http_push_reports_each_line_and_refuses_bad_requests() {
    let sandbox = Sandbox::new("push", 3);
    let address = format!("127.0.0.1:{}", free_port());
    let profile = sandbox.dir.path().join("met.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"met-push\"\nforce = \"metropolitan\"\ndialect = \"national-ndjson\"\n\
             [source]\nlisten = \"{address}\"\npush_token_env = \"IT_PUSH_TOKEN\"\nmax_body_bytes = 4096\n"
        ),
    )
    .unwrap();
    let mut child = sandbox
        .command(&[])
        .env("IT_PUSH_TOKEN", "t0ken-for-tests")
        .args(["adapter", "--profile", profile.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(Instant::now() < deadline, "push endpoint did not start");
        assert!(child.try_wait().unwrap().is_none(), "adapter exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    let auth = [("Authorization", "Bearer t0ken-for-tests")];
    let body = concat!(
        r#"{"crime_ref":"MPS-1","version":1,"status":"recorded","offence_code":"88A","cyber":true,"recorded_date":"2019-03-01","recorded_precision":"day"}"#,
        "\n",
        r#"{"crime_ref":"MPS-2","version":1,"status":"recorded","offence_code":"71/17","cyber":true,"recorded_date":"2019-03-02","recorded_precision":"day","victim_name":"x"}"#,
        "\nthis is not json\n"
    );
    let (status, reply) = http(&address, "POST", "/v1/records", &auth, body.as_bytes());
    assert_eq!(status, 200, "{reply}");
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["received"], 3);
    assert_eq!(
        reply["published"], 3,
        "two records and one malformed marker"
    );
    assert_eq!(reply["errors"][0]["line"], 3);
    assert_eq!(
        sandbox.raw_messages().len(),
        3,
        "acknowledged before the reply"
    );

    let (status, _) = http(&address, "POST", "/v1/records", &[], body.as_bytes());
    assert_eq!(status, 401);
    let (status, _) = http(
        &address,
        "POST",
        "/v1/records",
        &[("Authorization", "Bearer wrong")],
        body.as_bytes(),
    );
    assert_eq!(status, 401);
    let (status, _) = http(&address, "POST", "/v1/records", &auth, b"  \n");
    assert_eq!(status, 400);
    let (status, _) = http(&address, "POST", "/v1/records", &auth, &[b'x'; 8192]);
    assert_eq!(status, 413);
    let (status, _) = http(&address, "POST", "/v1/records", &auth, b"\xff\xfe\n");
    assert_eq!(status, 400);
    assert_eq!(
        sandbox.raw_messages().len(),
        3,
        "refused requests publish nothing"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A watched export directory: files that have settled are published once each, in name
/// order; a file dropped later is picked up by the next scan; unsettled files wait; a symbolic
/// link (to a file outside the spool) is never followed.
#[test]
fn a_watched_directory_publishes_each_settled_file_once() {
    let sandbox = Sandbox::new("watch", 3);
    let spool = sandbox.dir.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let files = police_uk_files("city-of-london");
    for file in &files[..2] {
        std::fs::copy(file, spool.join(file.file_name().unwrap())).unwrap();
    }
    std::fs::write(spool.join("notes.txt"), "not an export").unwrap();
    // A link out of the spool (path traversal by symlink) is never followed.
    let outside = sandbox.dir.path().join("outside.csv");
    std::fs::copy(&files[3], &outside).unwrap();
    std::os::unix::fs::symlink(&outside, spool.join("link.csv")).unwrap();
    let profile = sandbox.dir.path().join("col.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"col-watch\"\nforce = \"city-of-london\"\ndialect = \"police-uk-street\"\n\
             [source]\nwatch = \"{}\"\nextensions = [\"csv\"]\nsettle_secs = 0\n",
            spool.display()
        ),
    )
    .unwrap();
    let run = || {
        succeed_stderr(sandbox.command(&[]).args([
            "adapter",
            "--profile",
            profile.to_str().unwrap(),
            "--once",
        ]))
    };
    let first = run();
    assert!(
        first.contains("not a regular file; skipped") && first.contains("link.csv"),
        "the skipped link is named: {first}"
    );
    let (two, _) = crime_rows(&files[..2]);
    assert_eq!(sandbox.raw_messages().len(), two);
    std::fs::copy(&files[2], spool.join(files[2].file_name().unwrap())).unwrap();
    let again = run();
    assert!(
        again.contains("files: 1 read, 2 already published"),
        "{again}"
    );
    let (three, _) = crime_rows(&files[..3]);
    assert_eq!(
        sandbox.raw_messages().len(),
        three,
        "only the new file was published"
    );
}
