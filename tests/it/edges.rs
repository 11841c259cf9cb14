//! Hostile input at the edges of the running binary (issue 15): connections that never
//! finish against the API and the push endpoint, outside data with terminal controls in CLI
//! output, and operator mistakes with secrets refused at start-up or shown by `doctor`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Guarded, Sandbox, free_port, parse_http_response};

/// Connections an attacker holds open: more than the server's 1,024.
const HELD: usize = 1_030;
/// The client preface of HTTP/2 with prior knowledge.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Raises this process's open-file limit to its hard limit: the test holds over a thousand
/// sockets, more than a default soft limit of 1,024 allows.
fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let Some(maximum) = limit.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(maximum),
                maximum: Some(maximum),
            },
        );
    }
    let now = getrlimit(Resource::Nofile).current;
    assert!(
        now.is_none_or(|n| n >= HELD as u64 + 256),
        "the open-file limit ({now:?}) is too low for this test; raise the hard limit"
    );
}

/// One held connection: what it sent, and when it was opened.
struct Held {
    stream: TcpStream,
    opened: Instant,
    kind: &'static str,
}

/// Opens [`HELD`] connections to `address` that never finish a request: a third send
/// nothing, a third an HTTP/2 preface, a third half of one.
fn hold(address: &str) -> Vec<Held> {
    (0..HELD)
        .map(|i| {
            let mut stream = TcpStream::connect(address).unwrap();
            let (kind, opening) = match i % 3 {
                0 => ("silent", &b""[..]),
                1 => ("HTTP/2 preface", PREFACE),
                _ => ("half an HTTP/2 preface", &PREFACE[..12]),
            };
            stream.write_all(opening).unwrap();
            Held {
                stream,
                opened: Instant::now(),
                kind,
            }
        })
        .collect()
}

/// `GET /healthz` with a 5-second budget: the status and how long the answer took.
fn honest_healthz(address: &str) -> (u16, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    (parse_http_response(&response).0, started.elapsed())
}

/// Waits until the server has closed every held connection, failing if one is still open
/// 15 s after it was opened.
fn assert_all_closed_within_15s(held: Vec<Held>) {
    let limit = Duration::from_secs(15);
    let mut open: Vec<Held> = held;
    for connection in &open {
        connection.stream.set_nonblocking(true).unwrap();
    }
    let mut latest = Duration::ZERO;
    while !open.is_empty() {
        let mut buffer = [0u8; 512];
        open.retain_mut(|connection| {
            let closed = match connection.stream.read(&mut buffer) {
                Ok(0) => true,
                // Whatever the server answers (an error status) before closing.
                Ok(_) => false,
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            };
            if closed {
                latest = latest.max(connection.opened.elapsed());
            }
            !closed
        });
        if let Some(late) = open.iter().find(|c| c.opened.elapsed() > limit) {
            panic!(
                "{} of {HELD} connections still open after 15 s (e.g. one that sent {})",
                open.len(),
                late.kind
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("every held connection closed; the last {latest:?} after it was opened");
}

/// Holds 1,030 unfinished connections against `address`, then checks an honest request is
/// answered within 5 s and every held connection is closed within 15 s.
fn survives_connections_that_never_finish(address: &str) {
    raise_open_file_limit();
    let held = hold(address);
    let (status, took) = honest_healthz(address);
    assert_eq!(
        status, 200,
        "an honest /healthz was not answered within 5 s while {HELD} connections hung \
         (took {took:?})"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    eprintln!("honest /healthz answered in {took:?} with {HELD} connections held");
    assert_all_closed_within_15s(held);
    // And the server still serves.
    assert_eq!(honest_healthz(address).0, 200);
}

#[test]
fn the_api_outlasts_connections_that_never_finish() {
    let sandbox = Sandbox::new("hangapi", 1);
    let api = sandbox.spawn_api(&[], Stdio::null());
    survives_connections_that_never_finish(&api.address);
    drop(api);
}

#[test]
fn the_push_endpoint_outlasts_connections_that_never_finish() {
    let sandbox = Sandbox::new("hangpush", 1);
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let profile = sandbox.dir.path().join("met.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"met-hang\"\nforce = \"metropolitan\"\ndialect = \"national-ndjson\"\n\
             [source]\nlisten = \"{address}\"\npush_token_env = \"IT_PUSH_TOKEN\"\n"
        ),
    )
    .unwrap();
    let mut adapter = Guarded::new(
        sandbox
            .command(&[])
            .env("IT_PUSH_TOKEN", "t0ken-for-hanging")
            .args(["adapter", "--profile", profile.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&address).is_err() {
        assert!(adapter.try_wait().is_none(), "the adapter exited");
        assert!(
            Instant::now() < deadline,
            "the push endpoint did not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    survives_connections_that_never_finish(&address);
    drop(adapter);
}

/// Characters that must never reach a terminal from outside data: escape sequences (ESC, the
/// 8-bit CSI), bell, backspace, carriage return, NUL, and the bidirectional override.
fn assert_no_terminal_controls(what: &str, text: &str) {
    let found: Vec<char> = text
        .chars()
        .filter(|c| {
            (c.is_control() && *c != '\n' && *c != '\t')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(found.is_empty(), "{what} prints {found:?}: {text}");
}

/// A message on the dead-letter topic: key, payload, headers.
type DeadLetter = (Vec<u8>, Vec<u8>, Vec<(&'static str, Vec<u8>)>);

/// Dead letters carrying terminal escape codes and forged `cyberflag-dlq-*` headers (as an
/// ingest that copied incoming headers wrote them, the forgeries first): `dlq list` prints
/// ingest's own reason (the last header), escapes every field, takes the force from the
/// verified payload and marks an unsigned key's claim as unverified.
#[test]
fn dlq_list_escapes_outside_data_and_trusts_only_what_it_verifies() {
    let sandbox = Sandbox::new("dlqescape", 1);
    let signer = wire::Signer::new(
        "west-mercia-test",
        // The sandbox keyring's key for west-mercia (see support.rs).
        wire::Secret::from_hex(
            &format!(
                "{:02x}",
                model::ForceId::all()
                    .position(|f| f.as_str() == "west-mercia")
                    .unwrap()
                    + 1
            )
            .repeat(32),
        )
        .unwrap(),
    );
    let genuine = wire::RawMessage {
        schema: wire::SCHEMA.into(),
        force: "west-mercia".into(),
        dialect: wire::Dialect::NationalNdjson,
        adapter: "test".into(),
        source: wire::SourcePosition {
            name: "t".into(),
            line: 1,
        },
        record: None,
        malformed: Some("row of 3 fields".into()),
    }
    .to_bytes();
    let signature = signer.sign(&genuine);
    let unsigned = b"\x1b]0;owned\x07 not a message".to_vec();
    let messages: Vec<DeadLetter> = vec![
        (
            b"west-mercia/ref-1".to_vec(),
            genuine,
            vec![
                (wire::HEADER_SCHEMA, wire::SCHEMA.as_bytes().to_vec()),
                (wire::HEADER_KEY_ID, b"west-mercia-test".to_vec()),
                (wire::HEADER_SIGNATURE, signature.into_bytes()),
                ("cyberflag-dlq-reason", b"all-fine\x1b[2J".to_vec()),
                ("cyberflag-dlq-reason", b"malformed-row".to_vec()),
                (
                    "cyberflag-dlq-message",
                    "row of 3 fields \u{202e}txt.exe\x1b[31m\x08\x00".into(),
                ),
                ("cyberflag-dlq-source", b"it.raw/0/5".to_vec()),
            ],
        ),
        (
            b"metropolitan\x1b[31m/x".to_vec(),
            unsigned,
            vec![
                ("cyberflag-dlq-reason", b"bad\rsig".to_vec()),
                (
                    "cyberflag-dlq-source",
                    b"x\n2020-01-01\tforged\trow".to_vec(),
                ),
                ("cyberflag-dlq-reason", b"malformed-envelope".to_vec()),
                (
                    "cyberflag-dlq-message",
                    b"payload is not a raw message: \xff\x9b1m".to_vec(),
                ),
                ("cyberflag-dlq-source", b"it.raw/0/6\r".to_vec()),
            ],
        ),
    ];
    let publisher = bus::Publisher::new(
        &crate::support::kafka(),
        &sandbox.dlq_topic,
        Duration::from_secs(30),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for (key, payload, headers) in &messages {
            let headers: Vec<(&str, &[u8])> =
                headers.iter().map(|(k, v)| (*k, v.as_slice())).collect();
            let delivery = publisher
                .send(bus::Outgoing {
                    key,
                    payload,
                    headers: &headers,
                })
                .await
                .unwrap();
            bus::Publisher::acknowledged(delivery).await.unwrap();
        }
    });

    let output = sandbox.command(&[]).args(["dlq", "list"]).output().unwrap();
    assert!(output.status.success());
    let listed = String::from_utf8_lossy(&output.stdout).into_owned();
    let summary = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_no_terminal_controls("dlq list", &listed);
    assert_no_terminal_controls("dlq list's summary", &summary);
    let rows: Vec<Vec<&str>> = listed
        .lines()
        .skip(1)
        .map(|line| line.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 2, "no forged row: {listed}");
    assert!(
        rows.iter().all(|r| r.len() == 5),
        "no forged column: {listed}"
    );
    let (genuine, forged) = (&rows[0], &rows[1]);
    assert_eq!(
        genuine[1], "malformed-row",
        "ingest's reason, not the forged one"
    );
    assert_eq!(genuine[2], "west-mercia", "verified by its signature");
    assert_eq!(genuine[3], "it.raw/0/5");
    assert!(
        genuine[4].contains("\\u202etxt.exe\\u001b[31m\\u0008\\u0000"),
        "{listed}"
    );
    assert_eq!(forged[1], "malformed-envelope");
    assert_eq!(forged[2], "metropolitan\\u001b[31m (unverified)");
    assert_eq!(forged[3], "it.raw/0/6\\r");
    assert!(forged[4].ends_with("\u{fffd}\u{fffd}1m"), "{listed}");
    assert!(
        summary.contains("1 malformed-envelope, 1 malformed-row"),
        "{summary}"
    );

    let west_mercia = crate::support::succeed(sandbox.command(&[]).args([
        "dlq",
        "list",
        "--force",
        "west-mercia",
    ]));
    assert_eq!(west_mercia.lines().count(), 2, "{west_mercia}");
}

/// A private copy of a file shipped in the repository, mode 0600.
fn private_copy(sandbox: &Sandbox, shipped: &str) -> std::path::PathBuf {
    let copy = sandbox.dir.path().join(shipped.rsplit('/').next().unwrap());
    std::fs::copy(crate::support::root().join(shipped), &copy).unwrap();
    crate::support::set_private(&copy);
    copy
}

fn stderr_of(command: &mut std::process::Command) -> (bool, String) {
    let output = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every placeholder secret shipped in deploy/ is one the binary recognises as an example.
#[test]
fn every_shipped_example_secret_is_recognised() {
    let dir = crate::support::root().join("deploy/secrets.example");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.ends_with("-key") || name.ends_with("-token")) {
            continue;
        }
        let value = std::fs::read_to_string(&path).unwrap();
        assert!(
            cyberflag::secrets::example_secret(&value).is_some(),
            "{name} is not listed in cyberflag::secrets::EXAMPLE_SECRETS"
        );
        seen += 1;
    }
    assert!(seen >= 7, "{seen}");
    let keyring: toml::Value = toml::from_str(
        &std::fs::read_to_string(crate::support::root().join("deploy/keyring.example.toml"))
            .unwrap(),
    )
    .unwrap();
    for (force, keys) in keyring["forces"].as_table().unwrap() {
        let key = keys["signing_key"].as_str().unwrap();
        assert!(
            cyberflag::secrets::example_secret(key).is_some(),
            "the example key of {force}"
        );
    }
}

/// Operator mistakes with keys, refused at start-up outside development and shown by
/// `doctor`: the example keyring of deploy/, a keyring other users can read, an adapter's
/// example key files.
#[test]
fn example_keys_and_readable_keyrings_are_refused_outside_development() {
    let sandbox = Sandbox::new("mistakes", 1);
    sandbox.migrate();
    let example = private_copy(&sandbox, "deploy/keyring.example.toml");
    let example = example.to_str().unwrap();
    let keyring = sandbox.dir.path().join("keyring.toml");

    let (started, stderr) = stderr_of(
        sandbox
            .command(&[("CYBERFLAG_SECURITY_KEYRING", example)])
            .args(["ingest", "--exit-when-idle", "--idle-seconds", "1"]),
    );
    assert!(!started, "ingest ran with the example keyring");
    assert!(
        stderr.contains("west-mercia has the example signing key of west-mercia")
            && stderr.contains("security.development"),
        "{stderr}"
    );
    let doctor = |extra: &[(&str, &str)]| {
        String::from_utf8_lossy(
            &sandbox
                .command(extra)
                .arg("doctor")
                .output()
                .unwrap()
                .stdout,
        )
        .into_owned()
    };
    let report = doctor(&[("CYBERFLAG_SECURITY_KEYRING", example)]);
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("FAIL keyring") && l.contains("example signing key")),
        "{report}"
    );
    // In development the same keyring is accepted, and doctor says so.
    let report = doctor(&[
        ("CYBERFLAG_SECURITY_KEYRING", example),
        ("CYBERFLAG_SECURITY_DEVELOPMENT", "true"),
    ]);
    assert!(
        report.lines().any(|l| l.starts_with("WARN development")),
        "{report}"
    );
    assert_eq!(
        report
            .lines()
            .filter(|l| l.starts_with("WARN keyring") && l.contains("example signing key"))
            .count(),
        3,
        "{report}"
    );

    // A keyring other users can read: refused, naming the fix.
    std::fs::set_permissions(
        &keyring,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let (started, stderr) =
        stderr_of(
            sandbox
                .command(&[])
                .args(["ingest", "--exit-when-idle", "--idle-seconds", "1"]),
        );
    assert!(!started, "ingest ran with a readable keyring");
    assert!(
        stderr.contains("is not private") && stderr.contains("every user can read it"),
        "{stderr}"
    );
    assert!(
        doctor(&[])
            .lines()
            .any(|l| l.starts_with("FAIL keyring") && l.contains("not private")),
    );
    crate::support::set_private(&keyring);

    // An adapter whose profile names the example key files of deploy/secrets.example.
    let signing = private_copy(&sandbox, "deploy/secrets.example/west-mercia-signing-key");
    let pseudonymisation = private_copy(
        &sandbox,
        "deploy/secrets.example/west-mercia-pseudonymisation-key",
    );
    let profile = sandbox.dir.path().join("wm.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"wm\"\nforce = \"west-mercia\"\ndialect = \"police-uk-street\"\n\
             [source]\nfiles = [\"{}\"]\n\
             [keys]\nkey_id = \"west-mercia-1\"\nsigning_key_file = \"{}\"\n\
             pseudonymisation_key_file = \"{}\"\n",
            crate::support::police_uk_files("city-of-london")[0].display(),
            signing.display(),
            pseudonymisation.display()
        ),
    )
    .unwrap();
    let (published, stderr) =
        stderr_of(
            sandbox
                .command(&[])
                .args(["adapter", "--profile", profile.to_str().unwrap()]),
        );
    assert!(!published, "the adapter ran with example keys");
    assert!(
        stderr.contains("the example signing key of west-mercia"),
        "{stderr}"
    );
    assert!(sandbox.raw_messages().is_empty(), "nothing was published");
    sandbox.drop_database();
}

/// Push tokens: one set but empty (the endpoint would accept anyone), the example token of
/// deploy/, a token file other users can read, and no token on an address other hosts can
/// reach: each refused before the endpoint listens. The example token is accepted in
/// development.
#[test]
fn unusable_push_tokens_are_refused_at_start_up() {
    let sandbox = Sandbox::new("pushtoken", 1);
    let port = free_port();
    let profile = |name: &str, listen: &str, token: &str| {
        let path = sandbox.dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "name = \"met\"\nforce = \"metropolitan\"\ndialect = \"national-ndjson\"\n\
                 [source]\nlisten = \"{listen}\"\n{token}"
            ),
        )
        .unwrap();
        path
    };
    let loopback = format!("127.0.0.1:{port}");
    let refused = |path: &std::path::Path, env: &[(&str, &str)], expected: &str| {
        let mut command = sandbox.command(&[]);
        command.envs(env.iter().copied());
        let (ran, stderr) =
            stderr_of(command.args(["adapter", "--profile", path.to_str().unwrap()]));
        assert!(!ran, "started with {env:?}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            TcpStream::connect(&loopback).is_err(),
            "the endpoint listened"
        );
    };
    let by_env = profile("by-env", &loopback, "push_token_env = \"IT_PUSH_TOKEN\"\n");
    refused(&by_env, &[("IT_PUSH_TOKEN", "")], "is empty");
    refused(&by_env, &[("IT_PUSH_TOKEN", "   \n")], "is empty");
    refused(
        &by_env,
        &[("IT_PUSH_TOKEN", "example-push-token-change-me")],
        "the example push token",
    );
    let file = sandbox.dir.path().join("push-token");
    std::fs::write(&file, "").unwrap();
    crate::support::set_private(&file);
    let by_file = profile(
        "by-file",
        &loopback,
        &format!("push_token_file = \"{}\"\n", file.display()),
    );
    refused(&by_file, &[], "is empty");
    std::fs::write(&file, "a-real-token-Qm4x9").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    refused(&by_file, &[], "is not private");
    let open = profile("open", &format!("0.0.0.0:{port}"), "");
    refused(&open, &[], "without a token");

    // Development accepts the example token, with a warning.
    let mut adapter = Guarded::new(
        sandbox
            .command(&[("CYBERFLAG_SECURITY_DEVELOPMENT", "true")])
            .env("IT_PUSH_TOKEN", "example-push-token-change-me")
            .args(["adapter", "--profile", by_env.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&loopback).is_err() {
        assert!(adapter.try_wait().is_none(), "the adapter exited");
        assert!(
            Instant::now() < deadline,
            "the push endpoint did not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(adapter);
}

/// Credentials written into `clickhouse.url` stop every command at start-up, and are never
/// printed, not even by the refusal.
#[test]
fn credentials_in_the_clickhouse_url_are_refused_and_never_printed() {
    for url in [
        "http://default:pw-Lk38-never-print@127.0.0.1:8123",
        "http://127.0.0.1:8123/?user=default&password=pw-Lk38-never-print",
    ] {
        for args in [&["config", "show"][..], &["stats"], &["doctor"]] {
            let output = crate::support::cyberflag(&[("CYBERFLAG_CLICKHOUSE_URL", url)])
                .args(args)
                .output()
                .unwrap();
            let printed = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(!output.status.success(), "{args:?} ran with {url}");
            assert!(printed.contains("clickhouse.url"), "{printed}");
            assert!(printed.contains("clickhouse.password"), "{printed}");
            assert!(
                !printed.contains("pw-Lk38"),
                "{args:?} printed it: {printed}"
            );
        }
    }
}

/// A token file anyone with write access edited: names and roles with terminal controls are
/// listed escaped, one line each.
#[test]
fn token_list_escapes_what_the_file_holds() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.toml");
    std::fs::write(
        &tokens,
        "[[tokens]]\nname = \"ops\\u001b]0;owned\\u0007\\nforged-line\"\n\
         role = \"national\\u202e\"\nhash = \"sha256:00\"\ncreated = \"2026-01-01T00:00:00Z\\r\"\n",
    )
    .unwrap();
    let listed = crate::support::succeed(
        crate::support::cyberflag(&[("CYBERFLAG_API_TOKENS_FILE", tokens.to_str().unwrap())])
            .args(["token", "list"]),
    );
    assert_no_terminal_controls("token list", &listed);
    assert_eq!(listed.lines().count(), 2, "header and one token: {listed}");
    assert!(
        listed.contains("ops\\u001b]0;owned\\u0007\\nforged-line"),
        "{listed}"
    );
    assert!(listed.contains("national\\u202e"), "{listed}");
}
