//! `cyberflag api` against the real ClickHouse: the numbers, access control, disclosure
//! control under thousands of random public queries, as-at and revisions, and the dashboard
//! in headless Chromium.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use chrono::Datelike;

use serde_json::Value;

use crate::support::{Sandbox, assert_counts, http, succeed, succeed_stderr};

/// A running `cyberflag api` with one token per role.
struct Api {
    /// The process, killed with this.
    _running: crate::support::RunningApi,
    address: String,
    national: String,
    west_mercia: String,
    public: String,
}

impl Api {
    fn start(sandbox: &Sandbox) -> Api {
        let (national, west_mercia, public) = (
            sandbox.token("national"),
            sandbox.token("force:west-mercia"),
            sandbox.token("public"),
        );
        // The random queries below run far beyond a viewer's normal query budget.
        let running = sandbox.spawn_api(
            &[
                ("CYBERFLAG_API_REQUESTS_PER_MINUTE", "1000000"),
                ("CYBERFLAG_API_REQUEST_BURST", "1000000"),
            ],
            Stdio::null(),
        );
        Api {
            address: running.address.clone(),
            _running: running,
            national,
            west_mercia,
            public,
        }
    }

    fn get(&self, token: &str, path: &str) -> (u16, String) {
        let auth = format!("Bearer {token}");
        let headers: Vec<(&str, &str)> = if token.is_empty() {
            vec![]
        } else {
            vec![("Authorization", auth.as_str())]
        };
        http(&self.address, "GET", path, &headers, b"")
    }

    fn json(&self, token: &str, path: &str) -> Value {
        let (status, body) = self.get(token, path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// Financial year of an ISO date, as `2016/17`.
fn financial_year(date: &str) -> String {
    let year: i32 = date[..4].parse().unwrap();
    let month: u32 = date[5..7].parse().unwrap();
    let start = if month >= 4 { year } else { year - 1 };
    format!("{start}/{:02}", (start + 1) % 100)
}

/// Three forces' simulated exports through the real pipeline into the sandbox's database.
pub(crate) fn load(sandbox: &Sandbox) -> std::path::PathBuf {
    sandbox.migrate();
    let out = sandbox.dir.path().join("simulation");
    let options = sandbox.dir.path().join("options.toml");
    std::fs::write(
        &options,
        "seed = 5\nfrom = \"2016-04-01\"\nto = \"2018-03-31\"\ntoday = \"2018-04-01\"\n\
         forces = [\"west-mercia\", \"staffordshire\", \"warwickshire\"]\n",
    )
    .unwrap();
    succeed_stderr(sandbox.command(&[]).args([
        "simulate",
        "--out",
        out.to_str().unwrap(),
        "--options",
        options.to_str().unwrap(),
    ]));
    for force in ["west-mercia", "staffordshire", "warwickshire"] {
        let profile = out.join(format!("profiles/{force}.toml"));
        succeed_stderr(sandbox.command(&[]).args([
            "adapter",
            "--profile",
            profile.to_str().unwrap(),
        ]));
    }
    sandbox.ingest_until_idle(&[]);
    out
}

/// A CSV answer of the API as grouping values → count (national role: every count exact).
fn csv_counts(body: &str) -> BTreeMap<Vec<String>, u64> {
    let mut lines = body.lines();
    let header = lines.next().unwrap();
    assert!(
        header.ends_with(",count,suppressed,perturbed,low,high"),
        "{header}"
    );
    lines
        .map(|line| {
            let cells: Vec<String> = line.split(',').map(str::to_owned).collect();
            let n = cells.len();
            assert_eq!(cells[n - 3], "false", "{line}");
            assert_eq!(
                cells[n - 1],
                cells[n - 5],
                "{line}: exact, so low = high = count"
            );
            (cells[..n - 5].to_vec(), cells[n - 5].parse().unwrap())
        })
        .collect()
}

/// The true values a published figure stands for, as it states them.
fn interval(published: &Value) -> (u64, u64) {
    (
        published["low"].as_u64().unwrap(),
        published["high"].as_u64().unwrap(),
    )
}

/// Checks one controlled figure against its exact value: 0 stays 0; anything else is a
/// perturbed sum that is suppressed or above 7, with bounds that hold the truth.
#[track_caller]
fn check_controlled(published: &Value, exact: u64, context: &str) {
    if exact == 0 {
        assert!(
            published["count"] == 0 && published["perturbed"] == false,
            "{context}: 0 shown as {published}"
        );
        return;
    }
    let (low, high) = interval(published);
    assert!(
        published["perturbed"] == true && low <= exact && exact <= high && high > low,
        "{context}: {exact} shown as {published}"
    );
    match published["count"].as_u64() {
        None => assert!(published["suppressed"] == true, "{context}: {published}"),
        Some(v) => assert!(
            published["suppressed"] == false && v > 7,
            "{context}: {exact} shown as {published}"
        ),
    }
}

/// A deterministic generator for the random queries.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn api_answers_equal_stats_and_ground_truth_and_no_small_number_reaches_the_public() {
    let sandbox = Sandbox::new("api", 3);
    let simulation = load(&sandbox);
    // Statistics read the count snapshot from here on (the ground truth checks it).
    succeed_stderr(sandbox.command(&[]).args(["snapshot", "--margin", "0"]));
    let api = Api::start(&sandbox);

    // National role: exact, equal to `cyberflag stats` and to the simulator's ground truth.
    let (status, body) = api.get(
        &api.national,
        "/v1/stats?by=force,financial_year,offence_group&cyber=true&format=csv",
    );
    assert_eq!(status, 200, "{body}");
    let served = csv_counts(&body);
    let stats = sandbox.stats(&[
        "--by",
        "force,financial_year,offence_group",
        "--cyber",
        "true",
    ]);
    assert_counts(&served, &stats, "API against cyberflag stats");
    let truth_text = std::fs::read_to_string(simulation.join("ground-truth.csv")).unwrap();
    let mut truth: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for line in truth_text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[5] == "true" {
            *truth
                .entry(vec![
                    cells[0].to_owned(),
                    financial_year(cells[1]),
                    cells[3].to_owned(),
                ])
                .or_default() += cells[7].parse::<u64>().unwrap();
        }
    }
    assert_counts(&served, &truth, "API against the ground truth");

    // Access: no token, a wrong token, a role without access, a bad parameter.
    assert_eq!(api.get("", "/v1/stats").0, 401);
    assert_eq!(api.get("cft_not-a-token", "/v1/stats").0, 401);
    for path in [
        "/v1/stats?by=force,week",
        "/v1/stats?by=age_band",
        "/v1/stats?force=west-mercia&from=2017-03-05&to=2017-03-05",
        "/v1/stats?as_at=2017-06-30&from=2017-04-02",
        "/v1/revisions?force=west-mercia&from=2017-04-01&to=2017-04-15",
    ] {
        let (status, body) = api.get(&api.public, path);
        assert!(
            status == 403 && body.contains("\"rule\":\"month-grid\""),
            "{path}: {status} {body}"
        );
    }
    assert_eq!(api.get(&api.public, "/v1/alerts").0, 403);
    // Revisions of whole months reach the public as month-end figures, without reasons.
    let history = api.json(&api.public, "/v1/revisions?force=west-mercia&cyber=true");
    let steps = history["steps"].as_array().unwrap();
    assert!(!steps.is_empty(), "{history}");
    for step in steps {
        let date: chrono::NaiveDate = step["date"].as_str().unwrap().parse().unwrap();
        assert_eq!(date.succ_opt().unwrap().day0(), 0, "a month end: {step}");
        assert!(step["count"]["perturbed"] == true && step.get("new").is_none());
    }
    // It is the figure the statistics give as at that month end.
    let last = steps.last().unwrap();
    let stats = api.json(
        &api.public,
        &format!(
            "/v1/stats?force=west-mercia&cyber=true&as_at={}",
            last["date"].as_str().unwrap()
        ),
    );
    assert_eq!(stats["total"], last["count"]);
    let (status, body) = api.get(&api.national, "/v1/stats?by=colour");
    assert!(status == 400 && body.contains("parameter by"), "{body}");
    let (status, body) = api.get(&api.national, "/v1/stats?from=2017-02-30");
    assert!(status == 400 && body.contains("parameter from"), "{body}");
    let (status, body) = api.get(&api.national, "/v1/stats?force=west-mercia'%20OR%201=1");
    assert!(status == 400 && body.contains("parameter force"), "{body}");
    let (status, body) = api.get(&api.national, "/v1/stats?select=*");
    assert!(
        status == 400 && body.contains("unknown parameter"),
        "{body}"
    );

    // A force sees its own figures exactly and the others controlled.
    let own = api.json(&api.west_mercia, "/v1/stats?by=force,month&cyber=true");
    let exact = api.json(&api.national, "/v1/stats?by=force,month&cyber=true");
    let exact_rows: BTreeMap<(String, String), u64> = exact["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                (
                    r["force"].as_str().unwrap().to_owned(),
                    r["month"].as_str().unwrap().to_owned(),
                ),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    for row in own["rows"].as_array().unwrap() {
        let key = (
            row["force"].as_str().unwrap().to_owned(),
            row["month"].as_str().unwrap().to_owned(),
        );
        let e = exact_rows[&key];
        if key.0 == "west-mercia" {
            assert_eq!(
                (row["count"].as_u64(), &row["perturbed"]),
                (Some(e), &Value::Bool(false))
            );
        } else {
            check_controlled(
                &Value::Object(row.as_object().unwrap().clone()),
                e,
                "other force",
            );
        }
    }

    // Thousands of random public queries: every figure obeys the rule against the exact
    // answer, and no row can be recovered from its response's total and other rows, nor from
    // two nested queries.
    let dimensions = [
        "force",
        "region",
        "month",
        "quarter",
        "financial_year",
        "offence_group",
        "cyber",
    ];
    let forces = ["west-mercia", "staffordshire", "warwickshire"];
    let groups = [
        "sexual-grooming",
        "indecent-images-of-children",
        "sexual-communication-with-a-child",
    ];
    let mut random = Random(0x005e_ed0f_c0de);
    let (mut figures, mut suppressed) = (0, 0);
    let mut public_queries = 0;
    for round in 0..1_500 {
        let mut params = Vec::new();
        let by: Vec<&str> = dimensions
            .iter()
            .copied()
            .filter(|_| random.below(4) == 0)
            .collect();
        if !by.is_empty() {
            params.push(format!("by={}", by.join(",")));
        }
        let from_month = 4 + random.below(20);
        let length = 1 + random.below(24 - (from_month - 4));
        let month = |m: u64| format!("{}-{:02}", 2016 + (m - 1) / 12, (m - 1) % 12 + 1);
        let from = format!("{}-01", month(from_month));
        let to_month = from_month + length - 1;
        params.push(format!("from={from}"));
        if random.below(3) == 0 {
            params.push(format!("force={}", forces[random.below(3) as usize]));
        }
        if random.below(3) == 0 {
            params.push(format!(
                "offence_group={}",
                groups[random.below(3) as usize]
            ));
        }
        if random.below(2) == 0 {
            params.push("cyber=true".into());
        }
        // The query to a month's end, and the same query one month shorter (nested).
        let end = |m: u64| {
            let (y, mm) = (2016 + (m - 1) / 12, (m - 1) % 12 + 1);
            let next = if mm == 12 {
                format!("{}-01-01", y + 1)
            } else {
                format!("{y}-{:02}-01", mm + 1)
            };
            let next: chrono::NaiveDate = next.parse().unwrap();
            (next - chrono::Days::new(1)).to_string()
        };
        let path = |to: &str| format!("/v1/stats?{}&to={to}", params.join("&"));
        let long = path(&end(to_month));
        let public = api.json(&api.public, &long);
        public_queries += 1;
        let national = api.json(&api.national, &long);
        let exact: BTreeMap<String, u64> = national["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (key(r, &by), r["count"].as_u64().unwrap()))
            .collect();
        let rows = public["rows"].as_array().unwrap();
        assert_eq!(rows.len(), exact.len(), "{long}");
        let total_exact = national["total"]["count"].as_u64().unwrap();
        check_controlled(&public["total"], total_exact, &long);
        // Totals add up: the total is the sum of the rows when none is suppressed.
        assert_eq!(public["additive"], true);
        if rows.iter().all(|r| r["suppressed"] == false) && !rows.is_empty() {
            let sum: u64 = rows.iter().map(|r| r["count"].as_u64().unwrap()).sum();
            assert_eq!(public["total"]["count"], sum, "{long}");
        }
        let (t_low, t_high) = interval(&public["total"]);
        let others: Vec<(u64, u64)> = rows.iter().map(interval).collect();
        for (i, row) in rows.iter().enumerate() {
            let e = exact[&key(row, &by)];
            check_controlled(row, e, &format!("{long} row {row}"));
            figures += 1;
            suppressed += u32::from((1..=7).contains(&e));
            // The row from the total minus every other row.
            let (o_low, o_high) = others
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .fold((0, 0), |(l, h), (_, (a, b))| (l + a, h + b));
            let low = t_low.saturating_sub(o_high);
            let high = t_high.saturating_sub(o_low);
            assert!(
                low <= e && e <= high,
                "{long}: row {row} outside {low}..={high}"
            );
            if (1..=7).contains(&e) {
                assert!(high > low, "{long}: row {row} determined by differencing");
            }
        }
        // Differencing the query and its one-month-shorter twin.
        if to_month > from_month && round % 2 == 0 {
            let short = path(&end(to_month - 1));
            let short_public = api.json(&api.public, &short);
            public_queries += 1;
            let short_exact = api.json(&api.national, &short)["total"]["count"]
                .as_u64()
                .unwrap();
            let last_month = total_exact - short_exact;
            let (s_low, s_high) = interval(&short_public["total"]);
            let low = t_low.saturating_sub(s_high);
            let high = t_high.saturating_sub(s_low);
            assert!(low <= last_month && last_month <= high, "{long}");
            if (1..=7).contains(&last_month) {
                assert!(high > low, "{long} minus {short} determines {last_month}");
            }
        }
    }
    assert!(public_queries >= 2_000, "{public_queries} public queries");
    assert!(
        figures > 2_000 && suppressed > 200,
        "only {figures} figures checked, {suppressed} of them small"
    );

    // The service's own documents.
    let (status, body) = api.get("", "/openapi.json");
    let document: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 200);
    for path in [
        "/v1/stats",
        "/v1/revisions",
        "/v1/alerts",
        "/healthz",
        "/metrics",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
    assert_eq!(api.get("", "/healthz"), (200, "ok\n".to_owned()));
    let (status, metrics) = api.get("", "/metrics");
    assert!(
        status == 200 && metrics.contains("cyberflag_api_requests_total"),
        "{metrics}"
    );
    for token in [&api.national, &api.west_mercia, &api.public] {
        assert!(!metrics.contains(token.as_str()), "no token in /metrics");
    }

    dashboard(&api);
    sandbox.drop_database();
}

fn key(row: &Value, by: &[&str]) -> String {
    by.iter()
        .map(|d| row[*d].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("|")
}

/// Headless Chromium renders the dashboard for the national and the public role.
fn dashboard(api: &Api) {
    let render = |token: &str| {
        let url = format!(
            "http://{}/?from=2017-04-01&to=2018-03-31#token={token}",
            api.address
        );
        let profile = tempfile::tempdir().unwrap();
        let output = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--virtual-time-budget=15000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(&url)
            .output()
            .expect("chromium is installed by `cargo xtask test`");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let national = render(&api.national);
    for force in ["west-mercia", "staffordshire", "warwickshire"] {
        assert!(
            national.contains(&format!("<tr data-force=\"{force}\">")),
            "the per-force table shows {force}:\n{national}"
        );
    }
    assert!(national.contains("(national)"), "{national}");
    let points: u32 = national
        .split("data-points=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        points >= 50,
        "a year of weekly points in the chart: {points}"
    );
    assert!(national.contains("No open alerts.") || national.contains("<li data-force="));

    let public = render(&api.public);
    assert!(public.contains("(public)"), "{public}");
    assert!(
        public.contains("alerts are for national and force roles"),
        "{public}"
    );
    // Every figure in the public table is a dot, 0 or above 7.
    let table = public
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .split("</tbody>")
        .next()
        .unwrap();
    for cell in table
        .split("<td>")
        .skip(1)
        .filter_map(|c| c.split("</td>").next())
    {
        if let Ok(n) = cell.parse::<u64>() {
            assert!(n == 0 || n > 7, "public figure {n} in {table}");
        }
    }
}

/// West Mercia's 2015/16 count was first published as 85 and later as 114 (domain research
/// §6.2): stored versions received on different days answer as-at queries with each figure,
/// and the revisions view explains the change.
#[test]
fn as_at_queries_and_revisions_explain_a_revised_cell() {
    let database = crate::support::unique("it_revisions");
    let warehouse = crate::support::warehouse(&database);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(warehouse.migrate()).unwrap();
    let record = |crime: usize, version: u64, status: &str, code: &str, received: &str| {
        let line = format!(
            "{{\"force\":\"west-mercia\",\"crime_ref\":\"{crime:032x}\",\"version\":{version},\
             \"status\":\"{status}\",\"offence_code\":\"{code}\",\"category\":null,\"cyber\":true,\
             \"recorded_date\":\"2015-10-01\",\"recorded_precision\":\"day\",\"offence_from\":null,\
             \"offence_to\":null,\"victim_age\":14,\"outcome\":null,\"lsoa\":null,\
             \"source_format\":\"national-ndjson\",\"adapter\":\"test\",\
             \"received_at\":\"{received}T12:00:00Z\"}}"
        );
        model::CrimeRecord::from_json(&line).unwrap()
    };
    let source = warehouse::SourceOffset {
        topic: "test".into(),
        partition: 0,
        offset: 0,
    };
    let store = |records: &[model::CrimeRecord]| {
        let rows: Vec<warehouse::CrimeVersionRow> = records
            .iter()
            .map(|r| warehouse::CrimeVersionRow::new(r, &source, chrono::Utc::now()))
            .collect();
        runtime.block_on(warehouse.insert_versions(&rows)).unwrap();
    };
    // May 2016: 85 crimes, then a count snapshot.
    let first: Vec<model::CrimeRecord> = (0..85)
        .map(|crime| record(crime, 1, "recorded", "88A", "2016-05-10"))
        .collect();
    store(&first);
    let report = runtime.block_on(warehouse.build_snapshot(0)).unwrap();
    assert_eq!(report.forces, 1);
    // A second later, February 2017's revision: 31 more, 1 of the first cancelled, 1
    // reclassified out of the cell (to another offence group), 1 re-sent unchanged: 114.
    // Statistics about now read the snapshot plus these changes after it.
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let mut records = Vec::new();
    for crime in 85..116 {
        records.push(record(crime, 1, "recorded", "22B", "2017-02-03"));
    }
    records.push(record(0, 2, "cancelled", "88A", "2017-02-03"));
    records.push(record(1, 2, "recorded", "19D", "2017-02-03"));
    records.push(record(2, 1, "recorded", "88A", "2017-02-03"));
    store(&records);

    let sandbox_vars = [("CYBERFLAG_CLICKHOUSE_DATABASE", database.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.toml");
    let tokens = tokens.to_str().unwrap();
    let token = succeed(
        crate::support::cyberflag(&[("CYBERFLAG_API_TOKENS_FILE", tokens), sandbox_vars[0]])
            .args(["token", "create", "--role", "national", "--name", "analyst"]),
    )
    .trim()
    .to_owned();
    let running = crate::support::spawn_api(
        crate::support::cyberflag(&[("CYBERFLAG_API_TOKENS_FILE", tokens), sandbox_vars[0]]),
        Stdio::null(),
    );
    let api = Api {
        address: running.address.clone(),
        _running: running,
        national: token.clone(),
        west_mercia: String::new(),
        public: String::new(),
    };
    let cell = "from=2015-04-01&to=2016-03-31&force=west-mercia&cyber=true\
                &offence_group=sexual-grooming,sexual-assault-and-activity-involving-a-child";
    let count = |as_at: &str| {
        let path = if as_at.is_empty() {
            format!("/v1/stats?{cell}")
        } else {
            format!("/v1/stats?{cell}&as_at={as_at}")
        };
        api.json(&token, &path)["total"]["count"].as_u64().unwrap()
    };
    assert_eq!(
        count("2016-04-30"),
        0,
        "nothing known before the first delivery"
    );
    assert_eq!(count("2016-06-30"), 85, "first published");
    assert_eq!(count("2017-06-30"), 114, "as revised");
    assert_eq!(
        count(""),
        114,
        "today: the snapshot's 85 and the changes after it"
    );
    assert_eq!(count("2100-01-01"), 114, "every version read");
    // The CLI answers the same.
    let cli = succeed(crate::support::cyberflag(&sandbox_vars).args([
        "stats",
        "--force",
        "west-mercia",
        "--from",
        "2015-04-01",
        "--to",
        "2016-03-31",
        "--as-at",
        "2016-06-30",
        "--format",
        "csv",
    ]));
    assert_eq!(cli.trim(), "count\n85");

    let revisions = api.json(&token, &format!("/v1/revisions?{cell}"));
    let steps = revisions["steps"].as_array().unwrap();
    let summary: Vec<(String, u64, u64, u64, u64)> = steps
        .iter()
        .map(|s| {
            (
                s["date"].as_str().unwrap().to_owned(),
                s["count"]["count"].as_u64().unwrap(),
                s["new"]["count"].as_u64().unwrap(),
                s["cancelled"]["count"].as_u64().unwrap(),
                s["reclassified_out"]["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("2016-05-10".to_owned(), 85, 85, 0, 0),
            ("2017-02-03".to_owned(), 114, 31, 1, 1),
        ]
    );
    runtime.block_on(warehouse.drop_database()).unwrap();
}
