//! `cyberflag alerts backtest` on the real surveillance series and on bad input.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::{cyberflag, root, succeed};

fn salmonella() -> std::path::PathBuf {
    root().join("tests/data/alerting/salmonella-weekly.csv")
}

fn last_weeks(n: usize) -> (String, String) {
    let text = std::fs::read_to_string(salmonella()).unwrap();
    let dates: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    (
        dates[dates.len() - n].to_owned(),
        dates[dates.len() - 1].to_owned(),
    )
}

#[test]
fn every_method_prints_one_row_per_monitored_week() {
    let (from, to) = last_weeks(52);
    let range = format!("{from}:{to}");
    let input = salmonella();
    for method in [
        "farrington",
        "farrington-flexible",
        "ears-c1",
        "ears-c2",
        "ears-c3",
        "bayes",
        "cusum",
        "glrnb",
    ] {
        let output = succeed(cyberflag(&[]).args([
            "alerts",
            "backtest",
            "--input",
            input.to_str().unwrap(),
            "--method",
            method,
            "--range",
            &range,
        ]));
        let mut lines = output.lines();
        assert_eq!(
            lines.next(),
            Some("date,observed,expected,upperbound,alarm,score"),
            "{method}"
        );
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 52, "{method}");
        assert_eq!(rows[0][0], from, "{method}");
        assert_eq!(rows[51][0], to, "{method}");
        for row in &rows {
            assert_eq!(row.len(), 6, "{method}: {row:?}");
            assert!(row[4] == "true" || row[4] == "false", "{method}: {row:?}");
            if row[4] == "true" && !row[3].is_empty() {
                let observed: f64 = row[1].parse().unwrap();
                let bound: f64 = row[3].parse().unwrap();
                assert!(
                    observed > bound || method.starts_with("cusum") || method == "glrnb",
                    "{method}: {row:?}"
                );
            }
        }
    }
}

#[test]
fn control_options_change_the_result_and_json_is_available() {
    let (from, to) = last_weeks(104);
    let range = format!("{from}:{to}");
    let input = salmonella();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "alerts",
            "backtest",
            "--input",
            input.to_str().unwrap(),
            "--method",
            "farrington-flexible",
            "--range",
            &range,
        ];
        args.extend_from_slice(extra);
        succeed(cyberflag(&[]).args(&args))
    };
    let default = run(&[]);
    let noufaily = run(&[
        "--b",
        "5",
        "--w",
        "3",
        "--no-periods",
        "10",
        "--past-weeks-not-included",
        "26",
        "--weights-threshold",
        "2.58",
        "--threshold-method",
        "nbPlugin",
        "--alpha",
        "0.01",
        "--limit54",
        "5,4",
    ]);
    assert_ne!(
        default, noufaily,
        "the Noufaily settings give other thresholds"
    );
    let json = run(&["--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 104);
    assert!(rows[0]["alarm"].is_boolean());
}

#[test]
fn bad_input_gets_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "date,count\n2020-01-06,1\n2020-01-08,2\n",
            "whole number of weeks",
            &["--method", "ears-c1"],
        ),
        (
            "date,count\n2020-01-06,1\n2020-01-13,-2\n",
            "negative",
            &["--method", "ears-c1"],
        ),
        (
            "when,n\n2020-01-06,1\n",
            "date,count",
            &["--method", "ears-c1"],
        ),
        (
            "date,count\n2020-01-06,x\n",
            "whole number",
            &["--method", "ears-c1"],
        ),
        (
            "date,count\n2020-01-06,1\n2020-01-13,2\n",
            "needs --range",
            &["--method", "glrnb"],
        ),
        (
            "date,count\n2020-01-06,1\n2020-01-13,2\n2020-01-20,2\n",
            "history",
            &["--method", "farrington", "--range", "2020-01-20:2020-01-20"],
        ),
        (
            "date,count\n2020-01-06,1\n2020-01-13,2\n2020-01-20,2\n",
            "decrease b",
            &[
                "--method",
                "farrington-flexible",
                "--range",
                "2020-01-20:2020-01-20",
            ],
        ),
        (
            "date,count\n2020-01-06,1\n",
            "--range",
            &["--method", "ears-c1", "--range", "2019-01-01:2020-01-06"],
        ),
    ];
    for (i, (text, expected, args)) in cases.iter().enumerate() {
        let input = dir.path().join(format!("{i}.csv"));
        std::fs::write(&input, text).unwrap();
        let output = cyberflag(&[])
            .args(["alerts", "backtest", "--input", input.to_str().unwrap()])
            .args(*args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "case {i} succeeded");
        assert!(!stderr.contains("panicked"), "case {i} panicked: {stderr}");
        assert!(
            stderr.to_lowercase().contains(expected),
            "case {i}: expected {expected:?} in {stderr}"
        );
    }
}

/// A local Alertmanager stand-in: records each request's alerts and answers with `status`.
struct Receiver {
    address: String,
    status: Arc<AtomicU16>,
    received: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Receiver {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let status = Arc::new(AtomicU16::new(200));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (answer, log) = (status.clone(), received.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let code = answer.load(Ordering::SeqCst);
                if code == 200 {
                    assert!(
                        request_line.starts_with("POST /api/v2/alerts "),
                        "{request_line}"
                    );
                    let alerts: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    log.lock()
                        .unwrap()
                        .extend(alerts.as_array().unwrap().iter().cloned());
                }
                let reply =
                    format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                stream.write_all(reply.as_bytes()).unwrap();
            }
        });
        Self {
            address,
            status,
            received,
        }
    }

    /// (alert_id, revision) of everything accepted so far.
    fn deliveries(&self) -> Vec<(String, String)> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["labels"]["alert_id"].as_str().unwrap().to_owned(),
                    a["annotations"]["revision"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

/// Three forces' simulated exports, West Mercia's rate doubled for the last year: the scan of
/// the last complete week finds West Mercia by the yearly rate-ratio test, and says which
/// series are too short for Farrington's five years; `alerts run` stores the alerts in
/// ClickHouse and delivers each revision to the webhook exactly once, across a refusing
/// receiver and restarts.
#[test]
fn a_scan_of_stored_records_finds_the_force_whose_rate_doubled() {
    let sandbox = crate::support::Sandbox::new("scan", 3);
    sandbox.migrate();
    let out = sandbox.dir.path().join("simulation");
    let options = sandbox.dir.path().join("options.toml");
    std::fs::write(
        &options,
        "seed = 11\nfrom = \"2015-04-01\"\nto = \"2018-03-31\"\ntoday = \"2018-04-01\"\n\
         forces = [\"west-mercia\", \"staffordshire\", \"warwickshire\"]\n\
         malformed_rate = 0.0\n\
         [rise]\nforce = \"west-mercia\"\nfrom = \"2017-04-01\"\nfactor = 2.0\n",
    )
    .unwrap();
    crate::support::succeed_stderr(sandbox.command(&[]).args([
        "simulate",
        "--out",
        out.to_str().unwrap(),
        "--options",
        options.to_str().unwrap(),
    ]));
    for force in ["west-mercia", "staffordshire", "warwickshire"] {
        let profile = out.join(format!("profiles/{force}.toml"));
        crate::support::succeed_stderr(sandbox.command(&[]).args([
            "adapter",
            "--profile",
            profile.to_str().unwrap(),
        ]));
    }
    sandbox.ingest_until_idle(&[]);

    let scan = |week: &str| {
        let output = sandbox
            .command(&[])
            .args(["alerts", "scan", "--week", week, "--format", "csv"])
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = scan("2018-03-26");
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("series,week,method,observed,expected,threshold,score,p_value\n"),
        "{stdout}"
    );
    let findings: Vec<&str> = stdout.lines().skip(1).collect();
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("west-mercia/") && f.contains(",rate-ratio,")),
        "West Mercia's doubling is found: {stdout}"
    );
    let others = findings
        .iter()
        .filter(|f| f.starts_with("staffordshire/") || f.starts_with("warwickshire/"))
        .count();
    let west_mercia = findings
        .iter()
        .filter(|f| f.starts_with("west-mercia/"))
        .count();
    assert!(
        others < west_mercia.max(1) * 2,
        "steady forces stay mostly quiet: {stdout}"
    );
    assert!(stderr.contains("too little history"), "{stderr}");

    let (ok, _, stderr) = scan("2018-03-28");
    assert!(!ok && stderr.contains("Monday"), "{stderr}");
    let (ok, _, stderr) = scan("2030-01-07");
    assert!(!ok && stderr.contains("not complete"), "{stderr}");

    // The service, once, with a receiver that refuses: alerts are stored, the run fails and
    // says they stay pending.
    let receiver = Receiver::start();
    receiver.status.store(503, Ordering::SeqCst);
    let run = |today: &str| {
        sandbox
            .command(&[
                ("CYBERFLAG_ALERTS_WEBHOOKS", receiver.address.as_str()),
                ("CYBERFLAG_ALERTS_RETRY_SECS", "1"),
            ])
            .args(["alerts", "run", "--once", "--today", today])
            .output()
            .unwrap()
    };
    let output = run("2018-04-02");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("pending"), "{stderr}");
    assert!(receiver.deliveries().is_empty());
    let stored = tokio_runtime()
        .block_on(crate::support::warehouse(&sandbox.database).open_alerts())
        .unwrap();
    assert!(
        stored
            .iter()
            .any(|a| a.force() == "west-mercia" && a.method() == "rate-ratio"),
        "{stored:?}"
    );
    assert!(
        stored
            .iter()
            .all(|a| a.numbers().week.to_string() == "2018-03-26"),
        "{stored:?}"
    );

    // Restarted with the receiver accepting: everything pending arrives, once.
    receiver.status.store(200, Ordering::SeqCst);
    let output = run("2018-04-02");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let first = receiver.deliveries();
    assert_eq!(first.len(), stored.len(), "{first:?}");
    let alert = receiver.received.lock().unwrap()[0].clone();
    assert_eq!(alert["labels"]["alertname"], "CyberCrimeRise");
    assert!(alert["startsAt"].as_str().unwrap().ends_with('Z'));
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("expected")
    );

    // Restarted again for the same day: nothing new to store or send.
    let output = run("2018-04-02");
    assert!(output.status.success());
    assert_eq!(receiver.deliveries(), first, "no alert is delivered twice");
    let history = tokio_runtime()
        .block_on(crate::support::warehouse(&sandbox.database).alert_history())
        .unwrap();
    assert_eq!(
        history.len(),
        stored.len(),
        "re-evaluating a week changes nothing"
    );

    // Four weeks later the data have stopped (missing weeks, not zeros): the service catches
    // up the weeks it missed, resolves every alert, and delivers each resolution once.
    let output = run("2018-04-30");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let warehouse = crate::support::warehouse(&sandbox.database);
    assert!(
        tokio_runtime()
            .block_on(warehouse.open_alerts())
            .unwrap()
            .is_empty()
    );
    let history = tokio_runtime().block_on(warehouse.alert_history()).unwrap();
    let mut delivered = receiver.deliveries();
    delivered.sort();
    let mut revisions: Vec<(String, String)> = history
        .iter()
        .map(|a| (a.alert_id().to_owned(), a.revision().to_string()))
        .collect();
    revisions.sort();
    assert_eq!(
        delivered, revisions,
        "opened and resolved, each delivered once"
    );
    let resolved = receiver.received.lock().unwrap().last().unwrap().clone();
    assert_eq!(resolved["annotations"]["revision"], "2");
    let firing = receiver
        .received
        .lock()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alert_id"] == resolved["labels"]["alert_id"])
        .unwrap()
        .clone();
    assert_eq!(firing["annotations"]["revision"], "1");
    assert!(
        resolved["endsAt"].as_str().unwrap() < firing["endsAt"].as_str().unwrap(),
        "a resolution ends the alert now, not a TTL later: {resolved} {firing}"
    );

    // Three weeks from now nothing new has arrived: each force is silent, an alert of its own.
    let later = (chrono::Utc::now().date_naive() + chrono::Days::new(21)).to_string();
    let output = run(&later);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let open = tokio_runtime().block_on(warehouse.open_alerts()).unwrap();
    let mut silent: Vec<&str> = open
        .iter()
        .filter(|a| a.method() == "silent-force")
        .map(|a| a.force())
        .collect();
    silent.sort_unstable();
    assert_eq!(silent, ["staffordshire", "warwickshire", "west-mercia"]);
    let received = receiver.received.lock().unwrap().clone();
    let names: Vec<&str> = received
        .iter()
        .filter(|a| a["labels"]["alertname"] == "ForceSilent")
        .map(|a| a["labels"]["force"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let listed = crate::support::succeed(
        sandbox
            .command(&[])
            .args(["alerts", "list", "--days", "30", "--format", "csv"]),
    );
    assert!(
        listed.contains("firing,data-quality,west-mercia,,silent-force,")
            && listed.contains("resolved,rise,west-mercia,all,rate-ratio,2018-03-26,"),
        "{listed}"
    );
    sandbox.drop_database();
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
