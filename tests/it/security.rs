//! Security boundaries: no secret in logs, errors or metrics; one force cannot publish as
//! another.

use std::process::Stdio;

use crate::support::{Sandbox, free_port, http, police_uk_files, succeed};

/// Every role run at debug level with known secrets: none of them appears in what it prints.
#[test]
fn no_secret_reaches_logs_errors_or_metrics() {
    let sandbox = Sandbox::new("secrets", 3);
    sandbox.migrate();
    let keyring = std::fs::read_to_string(sandbox.dir.path().join("keyring.toml")).unwrap();
    let mut secrets: Vec<String> = keyring
        .lines()
        .filter(|l| l.starts_with("signing_key") || l.starts_with("pseudonymisation_key"))
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect();
    assert!(secrets.len() > 80, "every force's keys");
    let debug = [("CYBERFLAG_LOG", "debug")];

    // The adapter and ingest, at debug level.
    let files = police_uk_files("city-of-london");
    let adapter = sandbox
        .adapter(&debug, "city-of-london", "police-uk-street", &files[..2])
        .output()
        .unwrap();
    assert!(adapter.status.success());
    let ingest = sandbox
        .command(&debug)
        .args(["ingest", "--exit-when-idle", "--idle-seconds", "2"])
        .output()
        .unwrap();
    assert!(ingest.status.success());

    // A wrong ClickHouse password in an error message.
    let password = "pw-Zx81-never-print-me";
    secrets.push(password.to_owned());
    let refused = sandbox
        .command(&[
            ("CYBERFLAG_CLICKHOUSE_PASSWORD", password),
            ("CYBERFLAG_LOG", "debug"),
        ])
        .args(["stats"])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "a wrong password is refused");
    let shown = succeed(
        sandbox
            .command(&[("CYBERFLAG_CLICKHOUSE_PASSWORD", password)])
            .args(["config", "show"]),
    );

    // Broker credentials (SASL password, TLS key password) in configuration, and a connection
    // attempt with them that fails, at debug level.
    let (sasl_password, key_password) = ("sasl-Qw93-never-print-me", "key-Rt72-never-print-me");
    secrets.extend([sasl_password.to_owned(), key_password.to_owned()]);
    let broker_credentials = [
        ("CYBERFLAG_KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
        ("CYBERFLAG_KAFKA_SASL_USERNAME", "cyberflag-ingest"),
        ("CYBERFLAG_KAFKA_SASL_PASSWORD", sasl_password),
        ("CYBERFLAG_KAFKA_SSL_KEY_PASSWORD", key_password),
        ("CYBERFLAG_LOG", "debug"),
    ];
    let credentials_shown = succeed(
        sandbox
            .command(&broker_credentials)
            .args(["config", "show"]),
    );
    let failed_connection = sandbox
        .command(&broker_credentials)
        .args(["topics", "list"])
        .output()
        .unwrap();
    assert!(
        !failed_connection.status.success(),
        "SASL over TLS to a plaintext broker fails"
    );

    // The API: a token used, logs at debug level, and /metrics.
    let token = sandbox.token("national");
    secrets.push(token.clone());
    let api = sandbox.spawn_api(&[("CYBERFLAG_LOG", "debug")], Stdio::piped());
    let address = api.address.clone();
    let auth = format!("Bearer {token}");
    let (status, _) = http(
        &address,
        "GET",
        "/v1/stats?by=force",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(status, 200);
    let (status, _) = http(
        &address,
        "GET",
        "/v1/stats",
        &[("Authorization", "Bearer cft_wrong")],
        b"",
    );
    assert_eq!(status, 401);
    let (_, metrics) = http(&address, "GET", "/metrics", &[], b"");
    let api = api.stop();

    let outputs = [
        (
            "adapter",
            String::from_utf8_lossy(&adapter.stderr).into_owned(),
        ),
        (
            "ingest",
            String::from_utf8_lossy(&ingest.stderr).into_owned(),
        ),
        (
            "refused stats",
            String::from_utf8_lossy(&refused.stderr).into_owned(),
        ),
        ("config show", shown),
        ("config show with broker credentials", credentials_shown),
        (
            "a failed SASL connection",
            String::from_utf8_lossy(&failed_connection.stderr).into_owned(),
        ),
        ("api log", String::from_utf8_lossy(&api.stderr).into_owned()),
        ("api /metrics", metrics),
    ];
    for (what, text) in &outputs {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{what} shows a secret");
        }
    }
    assert!(
        outputs[0].1.contains("DEBUG") || outputs[1].1.contains("DEBUG"),
        "debug logs were on"
    );
    sandbox.drop_database();
}

/// Slow-loris clients: connections that never finish their headers are closed after the
/// header timeout, and honest requests are answered meanwhile.
#[test]
fn slow_clients_are_cut_off_and_honest_ones_served() {
    use std::io::{Read, Write};
    let sandbox = Sandbox::new("slowloris", 1);
    let api = sandbox.spawn_api(&[], Stdio::null());
    let address = api.address.clone();
    let mut slow: Vec<std::net::TcpStream> = (0..64)
        .map(|_| {
            let mut stream = std::net::TcpStream::connect(&address).unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            stream
        })
        .collect();
    let started = std::time::Instant::now();
    assert_eq!(
        http(&address, "GET", "/healthz", &[], b""),
        (200, "ok\n".to_owned())
    );
    // Every slow connection is closed by the server within the header timeout (10 s) and a
    // margin; a byte a second keeps none of them alive.
    for stream in &mut slow {
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let _ = stream.write_all(b"a");
        let mut buffer = [0u8; 256];
        let closed = match stream.read(&mut buffer) {
            Ok(0) => true,
            Ok(n) => String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 408"),
            Err(e) => {
                e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut
            }
        };
        assert!(closed, "a slow connection stayed open");
    }
    assert!(
        started.elapsed().as_secs() < 25,
        "cut off within the header timeout"
    );
    drop(api);
}

/// The roles' ClickHouse users: the API reads as a user that cannot write, ingest writes as
/// one that cannot drop tables (the users `cargo xtask stack up` defines, as production does
/// in deploy/clickhouse/cluster/users.d/).
#[test]
fn the_api_cannot_write_and_ingest_cannot_drop_tables() {
    let sandbox = Sandbox::new("users", 3);
    sandbox.migrate();
    let as_user = |user: &str| {
        let mut settings = cyberflag::config::Config::default().warehouse();
        settings.database = sandbox.database.clone();
        settings.user = user.to_owned();
        warehouse::Warehouse::new(&settings)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The server reloads its users within seconds of `stack up` writing them.
    let reader = as_user("cyberflag_reader");
    let started = std::time::Instant::now();
    while runtime.block_on(reader.schema_version()).is_err() {
        assert!(
            started.elapsed().as_secs() < 30,
            "cyberflag_reader cannot connect"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    // Reading works; writing and schema changes do not.
    let query = warehouse::StatsQuery::default();
    runtime.block_on(reader.stats(&query)).unwrap();
    let refused = runtime.block_on(reader.migrate());
    assert!(refused.is_err(), "the reader changed the schema");
    let row_insert = runtime.block_on(
        reader
            .client()
            .query("INSERT INTO alert_runs (week) VALUES ('2020-01-06')")
            .execute(),
    );
    assert!(row_insert.is_err(), "the reader inserted a row");

    // The API runs as the reader.
    let token = sandbox.token("national");
    let api = sandbox.spawn_api(
        &[
            ("CYBERFLAG_CLICKHOUSE_USER", "cyberflag_reader"),
            ("CYBERFLAG_API_SNAPSHOT_SECS", "0"),
        ],
        Stdio::null(),
    );
    let auth = format!("Bearer {token}");
    let (status, body) = http(
        &api.address,
        "GET",
        "/v1/stats?by=force",
        &[("Authorization", &auth)],
        b"",
    );
    drop(api);
    assert_eq!(status, 200, "{body}");

    // Ingest stores as its user, which cannot drop the database.
    sandbox.publish(
        "city-of-london",
        "police-uk-street",
        &police_uk_files("city-of-london")[..1],
    );
    let totals = crate::support::IngestTotals::parse(&crate::support::succeed_stderr(
        sandbox
            .command(&[("CYBERFLAG_CLICKHOUSE_USER", "cyberflag_ingest")])
            .args(["ingest", "--exit-when-idle", "--idle-seconds", "2"]),
    ));
    assert!(totals.stored > 0, "{totals:?}");
    let ingest = as_user("cyberflag_ingest");
    assert!(
        runtime.block_on(ingest.drop_database()).is_err(),
        "ingest dropped the database"
    );
    let drop_table = runtime.block_on(ingest.client().query("DROP TABLE crime_versions").execute());
    assert!(drop_table.is_err(), "ingest dropped a table");
    sandbox.drop_database();
}

/// The API over HTTPS: with a certificate and key configured it answers over TLS to a client
/// trusting the issuing CA, and gives a plain-HTTP client nothing.
#[test]
fn the_api_serves_https_when_given_a_certificate() {
    let sandbox = Sandbox::new("https", 1);
    sandbox.migrate();
    let ca = crate::net::TestCa::new(sandbox.dir.path());
    let token = sandbox.token("national");
    let (cert, key) = (ca.cert_pem.to_str().unwrap(), ca.key_pem.to_str().unwrap());
    let api = sandbox.spawn_api(
        &[
            ("CYBERFLAG_API_SNAPSHOT_SECS", "0"),
            ("CYBERFLAG_API_TLS_CERT_FILE", cert),
            ("CYBERFLAG_API_TLS_KEY_FILE", key),
        ],
        Stdio::null(),
    );
    let (port, address) = (api.port, api.address.clone());
    let healthz = ca.https(port, "/healthz", &[]);
    let auth = format!("Bearer {token}");
    let stats = ca.https(port, "/v1/stats?by=force", &[("Authorization", &auth)]);
    let unauthorised = ca.https(port, "/v1/stats?by=force", &[]);
    let plain = http(&address, "GET", "/healthz", &[], b"");
    drop(api);
    assert_eq!(healthz, (200, "ok\n".to_owned()));
    assert_eq!(stats.0, 200, "{}", stats.1);
    assert_eq!(unauthorised.0, 401);
    assert_eq!(plain.0, 0, "plain HTTP got an HTTP answer: {plain:?}");

    // A key that is not the certificate's is refused at start-up, naming both files.
    let other_dir = sandbox.dir.path().join("other");
    std::fs::create_dir(&other_dir).unwrap();
    let other = crate::net::TestCa::new(&other_dir);
    let refused = sandbox
        .command(&[
            ("CYBERFLAG_API_TOKENS_FILE", sandbox.tokens_file().as_str()),
            ("CYBERFLAG_API_TLS_CERT_FILE", cert),
            (
                "CYBERFLAG_API_TLS_KEY_FILE",
                other.key_pem.to_str().unwrap(),
            ),
        ])
        .args(["api", "--listen", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        error.contains(cert) && error.contains(other.key_pem.to_str().unwrap()),
        "{error}"
    );
    sandbox.drop_database();
}

/// The push endpoint over HTTPS: a force's platform pushing to a profile with a certificate
/// gets its records published; plain HTTP gets nothing.
#[test]
fn the_push_endpoint_serves_https_when_given_a_certificate() {
    let sandbox = Sandbox::new("pushtls", 1);
    let ca = crate::net::TestCa::new(sandbox.dir.path());
    let port = free_port();
    let profile = sandbox.dir.path().join("met.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"met-push-tls\"\nforce = \"metropolitan\"\ndialect = \"national-ndjson\"\n\
             [source]\nlisten = \"127.0.0.1:{port}\"\npush_token_env = \"IT_PUSH_TOKEN\"\n\
             tls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n",
            ca.cert_pem.display(),
            ca.key_pem.display()
        ),
    )
    .unwrap();
    let mut adapter = crate::support::Guarded::new(
        sandbox
            .command(&[])
            .env("IT_PUSH_TOKEN", "t0ken-for-tls")
            .args(["adapter", "--profile", profile.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let address = format!("127.0.0.1:{port}");
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(adapter.try_wait().is_none(), "the adapter exited");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let body = concat!(
        r#"{"crime_ref":"MPS-T1","version":1,"status":"recorded","offence_code":"88A","cyber":true,"recorded_date":"2019-03-01","recorded_precision":"day"}"#,
        "\n",
        r#"{"crime_ref":"MPS-T2","version":1,"status":"recorded","offence_code":"71/17","cyber":true,"recorded_date":"2019-03-02","recorded_precision":"day"}"#,
        "\n"
    );
    let auth = [("Authorization", "Bearer t0ken-for-tls")];
    let pushed = ca.https_request(port, "POST", "/v1/records", &auth, body.as_bytes());
    let plain = http(&address, "POST", "/v1/records", &auth, body.as_bytes());
    drop(adapter);
    assert_eq!(pushed.0, 200, "{}", pushed.1);
    assert_eq!(plain.0, 0, "plain HTTP got an HTTP answer: {plain:?}");
    assert_eq!(sandbox.raw_messages().len(), 2);
}

/// TLS to the brokers: records published and consumed through a TLS listener, verified
/// against a private CA, count exactly; a client that does not trust the CA gets nowhere.
#[test]
fn records_travel_over_tls_to_the_broker() {
    let sandbox = Sandbox::new("tls", 3);
    sandbox.migrate();
    let ca = crate::net::TestCa::new(sandbox.dir.path());
    // A private broker that tells clients to come back through the TLS port.
    let plain_port = free_port();
    let tls = crate::net::TlsTerminator::start(&ca, &format!("127.0.0.1:{plain_port}"));
    let tls_port = tls.port;
    let _broker = crate::net::PrivateBroker::start(plain_port, &format!("localhost:{tls_port}"));
    let brokers = format!("localhost:{tls_port}");
    let over_tls = [
        ("CYBERFLAG_KAFKA_BROKERS", brokers.as_str()),
        ("CYBERFLAG_KAFKA_SECURITY_PROTOCOL", "ssl"),
        (
            "CYBERFLAG_KAFKA_SSL_CA_LOCATION",
            ca.ca_pem.to_str().unwrap(),
        ),
        ("CYBERFLAG_KAFKA_RAW_PARTITIONS", "3"),
    ];
    succeed(sandbox.command(&over_tls).args(["topics", "create"]));
    let files = police_uk_files("city-of-london");
    let files = &files[..6];
    crate::support::succeed_stderr(&mut sandbox.adapter(
        &over_tls,
        "city-of-london",
        "police-uk-street",
        files,
    ));
    let totals = crate::support::IngestTotals::parse(&crate::support::succeed_stderr(
        sandbox
            .command(&over_tls)
            .args(["ingest", "--exit-when-idle", "--idle-seconds", "2"]),
    ));
    assert!(totals.stored > 0, "{totals:?}");
    let expected = crate::support::police_uk_expected(files);
    crate::support::assert_counts(
        &sandbox.stats(&["--by", "force,month,category"]),
        &expected,
        "over TLS",
    );

    // The system trust store does not know the private CA: the handshake fails and the
    // command fails with the reason instead of publishing in the clear.
    let untrusted = sandbox
        .command(&[
            ("CYBERFLAG_KAFKA_BROKERS", brokers.as_str()),
            ("CYBERFLAG_KAFKA_SECURITY_PROTOCOL", "ssl"),
        ])
        .args(["topics", "create"])
        .output()
        .unwrap();
    let error = String::from_utf8_lossy(&untrusted.stderr);
    assert!(!untrusted.status.success(), "{error}");
    assert!(error.contains("BrokerTransportFailure"), "{error}");
    sandbox.drop_database();
}
