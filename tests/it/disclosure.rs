//! The differencing attack of issue 14 against the real API on data loaded through the
//! pipeline: a public token (and a force token against another force) asks for every window
//! of a series, reads each answer as an interval, and solves the intervals as difference
//! constraints on prefix sums (`api::differencing`). No count of 1–7 may come out determined.

use std::collections::BTreeMap;
use std::process::Stdio;

use api::differencing::{Outcome, Window, judge, tightest_bounds};
use serde_json::Value;

use crate::support::{Sandbox, http};

/// The true values a published figure stands for. Figures carry their bounds (`low`, `high`);
/// a figure without them is read as the rule this API applied before (0 exact, suppressed
/// 1–7, rounded `v` as `v − 2..=v + 2`), so the same attack also runs against that API.
fn interval(published: &Value) -> (i64, i64) {
    if let (Some(low), Some(high)) = (published["low"].as_i64(), published["high"].as_i64()) {
        return (low, high);
    }
    if published["suppressed"] == true {
        return (1, 7);
    }
    let v = published["count"].as_i64().unwrap();
    if published["rounded"] == true {
        ((v - 2).max(8), v + 2)
    } else {
        (v, v)
    }
}

/// One viewer's questions to the API, keeping count of what was refused.
struct Viewer<'a> {
    address: &'a str,
    token: String,
    asked: usize,
    refused: usize,
}

impl Viewer<'_> {
    /// The answer, or `None` when refused with 403 (which must name the disclosure rule).
    fn ask(&mut self, path: &str) -> Option<Value> {
        let auth = format!("Bearer {}", self.token);
        let (status, body) = http(self.address, "GET", path, &[("Authorization", &auth)], b"");
        self.asked += 1;
        if status == 403 {
            assert!(
                body.contains("month-grid"),
                "{path}: a refusal names the rule: {body}"
            );
            self.refused += 1;
            return None;
        }
        assert_eq!(status, 200, "{path}: {body}");
        Some(serde_json::from_str(&body).unwrap())
    }
}

fn days_of(month: &str) -> Vec<String> {
    let first: chrono::NaiveDate = format!("{month}-01").parse().unwrap();
    first
        .iter_days()
        .take_while(|d| d.format("%Y-%m").to_string() == month)
        .map(|d| d.to_string())
        .collect()
}

fn months(from: &str, count: usize) -> Vec<(String, String)> {
    let mut first: chrono::NaiveDate = format!("{from}-01").parse().unwrap();
    (0..count)
        .map(|_| {
            let next = first.checked_add_months(chrono::Months::new(1)).unwrap();
            let pair = (first.to_string(), next.pred_opt().unwrap().to_string());
            first = next;
            pair
        })
        .collect()
}

/// A row's value for `dimension`, from an exact (national) answer.
fn exact_rows(answer: &Value, dimension: &str) -> BTreeMap<String, u64> {
    answer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[dimension].as_str().unwrap().to_owned(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Asks every window `[a, b]` of `cells` periods (`periods[i]` is the `(from, to)` of cell
/// `i`) with `filter`, and solves. `own` subtracts the attacker's own exact figure of each
/// window (a force attacking another through windows over both).
fn attack_windows(
    viewer: &mut Viewer<'_>,
    filter: &str,
    periods: &[(String, String)],
    own: Option<(&mut Viewer<'_>, &str)>,
) -> Vec<Window> {
    let mut own = own;
    let mut windows = Vec::new();
    for a in 0..periods.len() {
        for b in a..periods.len() {
            let range = format!("from={}&to={}", periods[a].0, periods[b].1);
            let Some(answer) = viewer.ask(&format!("/v1/stats?{filter}&{range}")) else {
                continue;
            };
            let (mut low, mut high) = interval(&answer["total"]);
            if let Some((exact, own_filter)) = own.as_mut() {
                let mine = exact
                    .ask(&format!("/v1/stats?{own_filter}&{range}"))
                    .unwrap();
                assert_eq!(mine["total"]["suppressed"], false, "own figures are exact");
                let mine = mine["total"]["count"].as_i64().unwrap();
                low -= mine;
                high -= mine;
            }
            windows.push(Window {
                first: a,
                last: b,
                low,
                high,
            });
        }
    }
    windows
}

fn report(name: &str, outcome: &Outcome, windows: usize, viewer: &Viewer<'_>) {
    eprintln!(
        "{name}: {} figures from {} questions ({} refused); {} of {} cells of 1-7 determined",
        windows,
        viewer.asked,
        viewer.refused,
        outcome.determined.len(),
        outcome.small
    );
}

#[test]
fn no_set_of_windows_determines_a_small_count() {
    let sandbox = Sandbox::new("disclosure", 3);
    crate::api::load(&sandbox);
    let (national, public, west_mercia) = (
        sandbox.token("national"),
        sandbox.token("public"),
        sandbox.token("force:west-mercia"),
    );
    let running = sandbox.spawn_api(
        &[
            ("CYBERFLAG_API_REQUESTS_PER_MINUTE", "1000000"),
            ("CYBERFLAG_API_REQUEST_BURST", "1000000"),
        ],
        Stdio::null(),
    );
    let address = running.address.as_str();
    let viewer = |token: &str| Viewer {
        address,
        token: token.to_owned(),
        asked: 0,
        refused: 0,
    };
    let mut exact = viewer(&national);
    let mut failures = Vec::new();

    // 1. One force, every day window of a month; 2. one offence group nationally, the same.
    let month = "2018-01";
    let days: Vec<(String, String)> = days_of(month).into_iter().map(|d| (d.clone(), d)).collect();
    for (name, filter) in [
        ("day windows, one force", "force=warwickshire"),
        (
            "day windows, one offence group nationally",
            "offence_group=sexual-communication-with-a-child",
        ),
    ] {
        let truth = exact_rows(
            &exact
                .ask(&format!(
                    "/v1/stats?{filter}&by=day&from={month}-01&to={}",
                    days.last().unwrap().1
                ))
                .unwrap(),
            "day",
        );
        let truth: Vec<u64> = days
            .iter()
            .map(|(d, _)| truth.get(d).copied().unwrap_or(0))
            .collect();
        let mut attacker = viewer(&public);
        let windows = attack_windows(&mut attacker, filter, &days, None);
        let outcome = judge(
            &tightest_bounds(days.len(), &windows).unwrap(),
            &truth,
            1..=7,
        )
        .unwrap();
        report(name, &outcome, windows.len(), &attacker);
        assert!(outcome.small >= 10, "{name}: enough small days to attack");
        if !outcome.determined.is_empty() {
            failures.push(format!("{name}: {outcome:?}"));
        }
    }

    // 3. One force's monthly series of one offence group, every month window of two years.
    let periods = months("2016-04", 24);
    let filter = "force=warwickshire&offence_group=sexual-grooming&cyber=true";
    let truth = exact_rows(
        &exact
            .ask(&format!(
                "/v1/stats?{filter}&by=month&from=2016-04-01&to=2018-03-31"
            ))
            .unwrap(),
        "month",
    );
    let truth: Vec<u64> = periods
        .iter()
        .map(|(from, _)| truth.get(&from[..7]).copied().unwrap_or(0))
        .collect();
    let mut attacker = viewer(&public);
    let windows = attack_windows(&mut attacker, filter, &periods, None);
    let outcome = judge(
        &tightest_bounds(periods.len(), &windows).unwrap(),
        &truth,
        1..=7,
    )
    .unwrap();
    report(
        "month windows, one force and group",
        &outcome,
        windows.len(),
        &attacker,
    );
    assert!(outcome.small >= 5, "enough small months to attack");
    if !outcome.determined.is_empty() {
        failures.push(format!("month windows: {outcome:?}"));
    }

    // 4. Nested groupings: a force's year as month × offence group cells, month-major, with
    // the month totals, the quarters and the year over them.
    let force_only = "force=warwickshire&cyber=true";
    let force = &format!("{force_only}&from=2017-04-01&to=2018-03-31");
    let cells_exact = exact
        .ask(&format!("/v1/stats?{force}&by=month,offence_group"))
        .unwrap();
    let groups: std::collections::BTreeSet<String> = cells_exact["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["offence_group"].as_str().unwrap().to_owned())
        .collect();
    let groups: Vec<String> = groups.into_iter().collect();
    let year = months("2017-04", 12);
    let index = |month: &str, group: &str| {
        let m = year.iter().position(|(f, _)| &f[..7] == month).unwrap();
        m * groups.len() + groups.iter().position(|g| g == group).unwrap()
    };
    let n = year.len() * groups.len();
    let mut truth = vec![0u64; n];
    for r in cells_exact["rows"].as_array().unwrap() {
        truth[index(
            r["month"].as_str().unwrap(),
            r["offence_group"].as_str().unwrap(),
        )] = r["count"].as_u64().unwrap();
    }
    let mut attacker = viewer(&public);
    let mut windows = Vec::new();
    if let Some(answer) = attacker.ask(&format!("/v1/stats?{force}&by=month,offence_group")) {
        // Every cell: a row, or 0 when absent.
        let mut seen = vec![false; n];
        for r in answer["rows"].as_array().unwrap() {
            let i = index(
                r["month"].as_str().unwrap(),
                r["offence_group"].as_str().unwrap(),
            );
            let (low, high) = interval(r);
            seen[i] = true;
            windows.push(Window {
                first: i,
                last: i,
                low,
                high,
            });
        }
        for (i, _) in seen.iter().enumerate().filter(|(_, s)| !**s) {
            windows.push(Window {
                first: i,
                last: i,
                low: 0,
                high: 0,
            });
        }
    }
    for (by, span) in [("month", 1), ("quarter", 3), ("financial_year", 12)] {
        if let Some(answer) = attacker.ask(&format!("/v1/stats?{force}&by={by}")) {
            for r in answer["rows"].as_array().unwrap() {
                let label = r[by].as_str().unwrap();
                let first_month = year
                    .iter()
                    .position(|(f, _)| match by {
                        "month" => &f[..7] == label,
                        "quarter" => {
                            let q: u32 = f[5..7].parse::<u32>().unwrap().div_ceil(3);
                            format!("{}-Q{q}", &f[..4]) == label
                        }
                        _ => true,
                    })
                    .unwrap();
                let (low, high) = interval(r);
                windows.push(Window {
                    first: first_month * groups.len(),
                    last: (first_month + span) * groups.len() - 1,
                    low,
                    high,
                });
            }
        }
    }
    // And every month window of the year's total over them.
    for window in attack_windows(&mut attacker, force_only, &year, None) {
        windows.push(Window {
            first: window.first * groups.len(),
            last: (window.last + 1) * groups.len() - 1,
            ..window
        });
    }
    let outcome = judge(&tightest_bounds(n, &windows).unwrap(), &truth, 1..=7).unwrap();
    report("nested groupings", &outcome, windows.len(), &attacker);
    assert!(outcome.small >= 10, "enough small cells to attack");
    if !outcome.determined.is_empty() {
        failures.push(format!("nested groupings: {outcome:?}"));
    }

    // 5. A force token against another force: windows over both, minus its own exact figures.
    let mut attacker = viewer(&west_mercia);
    let mut own = viewer(&west_mercia);
    let truth = exact_rows(
        &exact
            .ask(&format!(
                "/v1/stats?force=warwickshire&by=day&from={month}-01&to={}",
                days.last().unwrap().1
            ))
            .unwrap(),
        "day",
    );
    let truth: Vec<u64> = days
        .iter()
        .map(|(d, _)| truth.get(d).copied().unwrap_or(0))
        .collect();
    let windows = attack_windows(
        &mut attacker,
        "force=west-mercia,warwickshire",
        &days,
        Some((&mut own, "force=west-mercia")),
    );
    let outcome = judge(
        &tightest_bounds(days.len(), &windows).unwrap(),
        &truth,
        1..=7,
    )
    .unwrap();
    report(
        "a force token against another force, day windows",
        &outcome,
        windows.len(),
        &attacker,
    );
    if !outcome.determined.is_empty() {
        failures.push(format!("force against force, days: {outcome:?}"));
    }
    let filter = "offence_group=sexual-grooming&cyber=true";
    let truth = exact_rows(
        &exact
            .ask(&format!(
                "/v1/stats?force=warwickshire&{filter}&by=month&from=2016-04-01&to=2018-03-31"
            ))
            .unwrap(),
        "month",
    );
    let truth: Vec<u64> = periods
        .iter()
        .map(|(from, _)| truth.get(&from[..7]).copied().unwrap_or(0))
        .collect();
    let windows = attack_windows(
        &mut attacker,
        &format!("force=west-mercia,warwickshire&{filter}"),
        &periods,
        Some((&mut own, &format!("force=west-mercia&{filter}"))),
    );
    let outcome = judge(
        &tightest_bounds(periods.len(), &windows).unwrap(),
        &truth,
        1..=7,
    )
    .unwrap();
    report(
        "a force token against another force, month windows",
        &outcome,
        windows.len(),
        &attacker,
    );
    if !outcome.determined.is_empty() {
        failures.push(format!("force against force, months: {outcome:?}"));
    }

    assert!(
        failures.is_empty(),
        "small counts determined by differencing:\n{}",
        failures.join("\n")
    );

    // Sub-month questions about a force are refused, naming the rule.
    let mut public = viewer(&public);
    for path in [
        "/v1/stats?force=kent&from=2018-03-05&to=2018-03-05",
        "/v1/stats?by=force&from=2018-03-05&to=2018-03-05",
        "/v1/stats?by=region,day",
    ] {
        assert!(public.ask(path).is_none(), "{path} is refused");
    }
    drop(running);
    sandbox.drop_database();
}

/// Status, headers (lower-case names) and body of one request.
fn request(address: &str, path: &str, token: &str) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// Each token has a query budget: past it, 429 with `Retry-After`, counted on `/metrics`;
/// another token is not affected.
#[test]
fn a_token_past_its_budget_is_told_when_to_come_back() {
    let sandbox = Sandbox::new("budget", 1);
    sandbox.migrate();
    let (public, other) = (sandbox.token("public"), sandbox.token("national"));
    let running = sandbox.spawn_api(
        &[
            ("CYBERFLAG_API_REQUESTS_PER_MINUTE", "1"),
            ("CYBERFLAG_API_REQUEST_BURST", "3"),
        ],
        Stdio::null(),
    );
    let address = running.address.as_str();
    for _ in 0..3 {
        let (status, _, body) = request(address, "/v1/stats?by=month", &public);
        assert_eq!(status, 200, "{body}");
    }
    let (status, headers, body) = request(address, "/v1/stats?by=month", &public);
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("api.requests_per_minute"), "{body}");
    let retry: u64 = headers
        .iter()
        .find(|(k, _)| k == "retry-after")
        .map(|(_, v)| v.parse().unwrap())
        .expect("a Retry-After header");
    assert!((1..=60).contains(&retry), "{retry}");
    // Refused questions spend the budget too; another token has its own.
    assert_eq!(request(address, "/v1/alerts", &public).0, 429);
    assert_eq!(request(address, "/v1/alerts", &other).0, 200);
    let (_, metrics) = http(address, "GET", "/metrics", &[], b"");
    let limited = metrics
        .lines()
        .find(|l| l.starts_with("cyberflag_api_rate_limited_total{role=\"public\"}"))
        .unwrap_or_else(|| panic!("the metric is exported:\n{metrics}"));
    assert!(limited.ends_with(" 2"), "{limited}");
    drop(running);
    sandbox.drop_database();
}

/// A token file that stops parsing makes the API refuse every token until it parses again:
/// a revocation typed into the file must not leave the previous set in force.
#[test]
fn a_broken_token_file_refuses_every_token_until_repaired() {
    let sandbox = Sandbox::new("tokenfile", 1);
    sandbox.migrate();
    let token = sandbox.token("national");
    let running = sandbox.spawn_api(&[], Stdio::null());
    let address = running.address.as_str();
    let file = sandbox.tokens_file();
    let good = std::fs::read_to_string(&file).unwrap();
    assert_eq!(request(address, "/v1/alerts", &token).0, 200);
    std::fs::write(&file, good.replace("revoked = false", "revoked = tru")).unwrap();
    let (status, _, body) = request(address, "/v1/alerts", &token);
    assert!(
        status == 503 && body.contains("token file is unusable"),
        "{status} {body}"
    );
    std::fs::write(&file, &good).unwrap();
    assert_eq!(request(address, "/v1/alerts", &token).0, 200);
    // Revoked in place, within the same second: refused at once.
    std::fs::write(&file, good.replace("revoked = false", "revoked = true")).unwrap();
    assert_eq!(request(address, "/v1/alerts", &token).0, 401);
    drop(running);
    sandbox.drop_database();
}

/// Settings under which the guarantee would not hold stop the API at start-up, naming the key.
#[test]
fn unsafe_disclosure_settings_stop_the_api() {
    for (variable, value, key) in [
        (
            "CYBERFLAG_API_PERTURBATION_MAX",
            "0",
            "api.perturbation_max",
        ),
        ("CYBERFLAG_API_SUPPRESS_MAX", "1000", "api.suppress_max"),
        ("CYBERFLAG_API_REQUEST_BURST", "0", "api.request_burst"),
    ] {
        let output = crate::support::cyberflag(&[(variable, value)])
            .args(["api", "--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{variable}={value} was accepted");
        assert!(stderr.contains(key), "{variable}={value}: {stderr}");
    }
}

/// A force sees its own alerts' figures, and national alerts without theirs: a weekly count
/// (and the p-value and expectation that imply it) is finer than the grid.
#[test]
fn alerts_outside_a_force_withhold_their_weekly_figures() {
    let sandbox = Sandbox::new("alertscope", 1);
    sandbox.migrate();
    let warehouse = crate::support::warehouse(&sandbox.database);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let numbers = warehouse::AlertNumbers {
        week: "2018-03-05".parse().unwrap(),
        observed: 3,
        expected: Some(0.8),
        threshold: Some(2.5),
        score: Some(4.0),
        p_value: Some(0.001),
        rank: 1,
    };
    let now = chrono::Utc::now();
    let rows: Vec<warehouse::AlertRow> = ["west-mercia", "national", "kent"]
        .iter()
        .map(|force| {
            warehouse::AlertRow::open(
                warehouse::AlertKind::Rise,
                "farrington-flexible",
                force,
                "sexual-grooming",
                &numbers,
                now,
            )
        })
        .collect();
    runtime.block_on(warehouse.insert_alerts(&rows)).unwrap();
    let token = sandbox.token("force:west-mercia");
    let running = sandbox.spawn_api(&[], Stdio::null());
    let (status, _, body) = request(&running.address, "/v1/alerts", &token);
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let alerts: BTreeMap<&str, &Value> = answer["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["force"].as_str().unwrap(), a))
        .collect();
    assert_eq!(
        alerts.keys().copied().collect::<Vec<_>>(),
        ["national", "west-mercia"],
        "another force's alerts are not shown"
    );
    let own = alerts["west-mercia"];
    assert_eq!(
        (&own["withheld"], &own["observed"]["count"], &own["p_value"]),
        (&Value::Bool(false), &Value::from(3), &Value::from(0.001))
    );
    let national = alerts["national"];
    assert_eq!(national["withheld"], true);
    for field in ["observed", "expected", "p_value"] {
        assert!(national[field].is_null(), "{field}: {national}");
    }
    drop(running);
    sandbox.drop_database();
}
