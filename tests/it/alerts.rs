//! `cyberflag alerts backtest` on the real surveillance series and on bad input.

use crate::support::{cyberflag, root, succeed};

fn salmonella() -> std::path::PathBuf {
    root().join("../shared/data/alerting/salmonella-weekly.csv")
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

/// Three forces' simulated exports, West Mercia's rate doubled for the last year: the scan of
/// the last complete week finds West Mercia by the yearly rate-ratio test, and says which
/// series are too short for Farrington's five years.
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
    sandbox.drop_database();
}
