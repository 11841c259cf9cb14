//! Every SQL statement the code builds (`warehouse::catalog`) on every ClickHouse it must run
//! on: the local 18.16, a current release (chdb 4.4, ClickHouse 26.9, in process from the
//! project's Python in `.stack/python`, installed by `cargo xtask test`), and the local cluster.
//!
//! One script per server: the schema from the migrations, a fixture of crime versions (some
//! stored again after the snapshot's cut-off, as re-deliveries are), alerts and their outbox,
//! a count snapshot built by the code's own statements, then every read. The answers must be
//! the same on 18.16 and on the current release, and the same on the cluster as on one server.
//! The cluster layout's statements (ON CLUSTER, Replicated engines, shard-local subqueries) are
//! also parsed by the current release.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use model::ForceId;
use warehouse::catalog::{self, Kind, Statement, Values};
use warehouse::{Layout, Snapshot};

use crate::support::{root, unique};

/// When the first batch of versions was stored (before the snapshot's cut-off).
const STORED_FIRST: u32 = 1_700_000_000;
/// The snapshot's cut-off.
const CUTOFF: u32 = 1_700_000_100;
/// When the second batch was stored (after the cut-off).
const STORED_LATER: u32 = 1_700_000_200;
/// Received before `as_at`.
const RECEIVED_EARLY: u32 = 1_559_347_200; // 2019-06-01
/// Received after `as_at`.
const RECEIVED_LATE: u32 = 1_583_020_800; // 2020-03-01

fn values(database: &str) -> Values {
    Values {
        database: database.to_owned(),
        cluster: "cyberflag".into(),
        forces: vec![
            ForceId::from_id("west-mercia").unwrap(),
            ForceId::from_id("city-of-london").unwrap(),
        ],
        offence_group: "sexual-grooming".parse().unwrap(),
        from: NaiveDate::from_ymd_opt(2019, 1, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2019, 12, 31).unwrap(),
        as_at: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        snapshot: Snapshot {
            id: CUTOFF + 1,
            cutoff: CUTOFF,
        },
        stale_snapshot: CUTOFF - 50,
        alert_ids: vec![
            "nb-cusum:west-mercia/all:2019-06-24".into(),
            "farrington:city-of-london/sexual-grooming:2019-07-01".into(),
        ],
        receiver: "http://alertmanager:9093".into(),
        since: i64::from(RECEIVED_EARLY),
    }
}

/// One version row of the fixture, as a VALUES tuple in `crime_versions` column order.
#[expect(clippy::too_many_arguments, reason = "a fixture row")]
fn version_row(
    force: &str,
    crime: u32,
    version: u32,
    status: &str,
    group: &str,
    cyber: bool,
    day: NaiveDate,
    received: u32,
    stored: u32,
) -> String {
    let age = match crime % 4 {
        0 => "NULL".to_owned(),
        n => format!("{}", 9 + n),
    };
    let band = match crime % 4 {
        0 => "unknown",
        1 => "5-10",
        2 => "11",
        _ => "12",
    };
    format!(
        "('{force}', '{force}-{crime:03}', {version}, '{status}', '{}', '{}', '{group}', '{}', \
         {}, '{day}', '{}', {}, NULL, {age}, '{band}', '', 'E0100{crime:04}', 'force-csv', \
         'fixture', toDateTime({received}), 'raw', {}, {}, toDateTime({stored}))",
        if status == "transferred" {
            "avon-and-somerset"
        } else {
            ""
        },
        if group.is_empty() { "" } else { "088/14" },
        if crime.is_multiple_of(3) {
            "other-crime"
        } else {
            "public-order"
        },
        u8::from(cyber),
        if crime.is_multiple_of(2) {
            "day"
        } else {
            "month"
        },
        if crime.is_multiple_of(5) {
            format!("'{day}'")
        } else {
            "NULL".to_owned()
        },
        crime % 12,
        i64::from(crime) * 10 + i64::from(version),
    )
}

/// The fixture: (stored before the cut-off, stored after it). Crimes of two forces over a
/// year; later versions reclassify, cancel or transfer some; every third crime of the second
/// batch is a re-delivery of a version already stored.
fn fixture() -> (Vec<String>, Vec<String>) {
    let (mut first, mut later) = (Vec::new(), Vec::new());
    let start = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
    for force in ["west-mercia", "city-of-london"] {
        for crime in 0..60u32 {
            let day = start + chrono::Days::new(u64::from(crime * 6));
            let group = match crime % 5 {
                0 => "",
                1 | 2 => "sexual-grooming",
                _ => "other-child-sexual-offences",
            };
            let cyber = crime % 2 == 0;
            first.push(version_row(
                force,
                crime,
                1,
                "recorded",
                group,
                cyber,
                day,
                RECEIVED_EARLY,
                STORED_FIRST,
            ));
            match crime % 6 {
                // Reclassified after the cut-off, known only after as_at.
                1 => later.push(version_row(
                    force,
                    crime,
                    2,
                    "recorded",
                    "other-child-sexual-offences",
                    !cyber,
                    day,
                    RECEIVED_LATE,
                    STORED_LATER,
                )),
                // Cancelled after the cut-off.
                2 => later.push(version_row(
                    force,
                    crime,
                    2,
                    "cancelled",
                    group,
                    cyber,
                    day,
                    RECEIVED_EARLY,
                    STORED_LATER,
                )),
                // Transferred before the cut-off.
                3 => first.push(version_row(
                    force,
                    crime,
                    2,
                    "transferred",
                    group,
                    cyber,
                    day,
                    RECEIVED_EARLY,
                    STORED_FIRST,
                )),
                // Re-delivered: the same version stored again after the cut-off.
                4 => later.push(version_row(
                    force,
                    crime,
                    1,
                    "recorded",
                    group,
                    cyber,
                    day,
                    RECEIVED_EARLY,
                    STORED_LATER,
                )),
                _ => {}
            }
        }
        // Crimes first seen after the cut-off.
        for crime in 60..70u32 {
            let day = start + chrono::Days::new(u64::from(crime * 5));
            later.push(version_row(
                force,
                crime,
                1,
                "recorded",
                "sexual-grooming",
                true,
                day,
                RECEIVED_LATE,
                STORED_LATER,
            ));
        }
    }
    (first, later)
}

/// Alerts, deliveries and evaluated weeks (some numbers NULL, as data-quality alerts have).
fn alert_rows() -> Vec<String> {
    let t = RECEIVED_EARLY;
    vec![
        format!(
            "INSERT INTO alerts VALUES \
             ('nb-cusum:west-mercia/all:2019-06-24', 1, 'rise', 'nb-cusum', 'west-mercia', 'all', \
              'firing', '2019-06-24', '2019-06-24', 40, 20.5, 5, 7.25, 0.0007, 1, toDateTime({t}), toDateTime({t})), \
             ('nb-cusum:west-mercia/all:2019-06-24', 2, 'rise', 'nb-cusum', 'west-mercia', 'all', \
              'firing', '2019-06-24', '2019-07-01', 45, 21.5, 5, 8.5, 0.0003, 1, toDateTime({t}), toDateTime({})), \
             ('farrington:city-of-london/sexual-grooming:2019-07-01', 1, 'rise', 'farrington', 'city-of-london', \
              'sexual-grooming', 'firing', '2019-07-01', '2019-07-01', 9, 2.5, 6.5, 3.25, 0.001, 2, toDateTime({t}), toDateTime({t})), \
             ('farrington:city-of-london/sexual-grooming:2019-07-01', 2, 'rise', 'farrington', 'city-of-london', \
              'sexual-grooming', 'resolved', '2019-07-01', '2019-07-29', 9, 2.5, 6.5, 3.25, 0.001, 2, toDateTime({t}), toDateTime({})), \
             ('silent:avon-and-somerset:2019-07-08', 1, 'data-quality', 'silent', 'avon-and-somerset', '', \
              'firing', '2019-07-08', '2019-07-08', 0, NULL, NULL, NULL, NULL, 3, toDateTime({t}), toDateTime({t}))",
            t + 604_800,
            t + 3 * 604_800
        ),
        format!(
            "INSERT INTO alert_deliveries VALUES \
             ('http://alertmanager:9093', 'nb-cusum:west-mercia/all:2019-06-24', 1, toDateTime({t})), \
             ('http://alertmanager:9093', 'farrington:city-of-london/sexual-grooming:2019-07-01', 2, toDateTime({t})), \
             ('http://other:9093', 'nb-cusum:west-mercia/all:2019-06-24', 2, toDateTime({t}))"
        ),
        format!(
            "INSERT INTO alert_runs VALUES ('2019-06-24', toDateTime({t}), 120, 300, 4, 2, 1, 0, 0, 0.0125), \
             ('2019-07-01', toDateTime({}), 120, 300, 4, 1, 0, 1, 0, 0.0125)",
            t + 604_800
        ),
    ]
}

/// The whole script for `layout`: schema, first batch and alerts, the catalogue with the
/// later batch stored right after the snapshot is marked complete.
fn script(values: &Values, layout: &Layout) -> Vec<Statement> {
    let (first, later) = fixture();
    let insert = |rows: &[String], name: &str| Statement {
        name: name.to_owned(),
        sql: format!("INSERT INTO crime_versions VALUES {}", rows.join(", ")),
        kind: Kind::Write,
    };
    let mut script = catalog::schema(values, layout);
    script.push(insert(
        &first,
        "fixture: versions stored before the cut-off",
    ));
    for (n, sql) in alert_rows().into_iter().enumerate() {
        script.push(Statement {
            name: format!("fixture: alerts #{n}"),
            sql,
            kind: Kind::Write,
        });
    }
    for statement in catalog::statements(values, layout) {
        let complete = statement.name == "snapshot: complete";
        let last = statement.name == "drop database";
        if last {
            continue;
        }
        script.push(statement);
        if complete {
            script.push(insert(&later, "fixture: versions stored after the cut-off"));
        }
    }
    script
}

/// Runs `script` on a ClickHouse server over HTTP (the `clickhouse` crate), in order; returns
/// each read's TabSeparated answer by statement name. Any failure fails the test.
fn run_on_server(
    url: &str,
    database: &str,
    script: &[Statement],
    cluster: bool,
) -> BTreeMap<String, String> {
    let server = clickhouse::Client::default()
        .with_url(url)
        .with_validation(false);
    // On the local 2 × 2 cluster every write reaches both replicas of its shard before it
    // returns (`insert_quorum`), so a read right after it sees it whichever replica answers: the
    // script compares answers, not replication lag (production's reads are eventually
    // consistent across replicas; its snapshot builds refuse stale replicas).
    let server = if cluster {
        server
            .with_setting("insert_distributed_sync", "1")
            .with_setting("insert_quorum", "2")
    } else {
        server
    };
    let client = server.clone().with_database(database);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut answers = BTreeMap::new();
    for statement in script {
        let target = if statement.name == "migrate: database" {
            &server
        } else {
            &client
        };
        let sql = statement.checkable();
        let result = runtime.block_on(async {
            match statement.kind {
                Kind::Read | Kind::Probe => {
                    let bytes = target
                        .query(&sql)
                        .fetch_bytes("TabSeparated")?
                        .collect()
                        .await?;
                    Ok::<_, clickhouse::error::Error>(String::from_utf8_lossy(&bytes).into_owned())
                }
                _ => target.query(&sql).execute().await.map(|()| String::new()),
            }
        });
        match result {
            Ok(answer) => {
                if statement.kind == Kind::Read {
                    answers.insert(statement.name.clone(), answer);
                }
            }
            Err(error) => panic!("{url}: {} failed: {error}\n{sql}", statement.name),
        }
    }
    answers
}

/// The project's Python (with chdb), as `cargo xtask test` installs it.
fn python() -> PathBuf {
    let python = root().join(".stack/python/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `cargo xtask tools` (cargo xtask test does)",
        python.display()
    );
    python
}

/// Each statement's name and outcome: its answer, or the server's error.
type Outcomes = Vec<(String, Result<String, String>)>;

/// Runs `script` on the current ClickHouse (chdb), `parse` only parsing each statement;
/// returns the version and each statement's outcome by name.
fn run_on_chdb(database: &str, script: &[Statement], parse: bool) -> (String, Outcomes) {
    let dir = tempfile::tempdir().unwrap();
    let statements: Vec<serde_json::Value> = script
        .iter()
        .map(|s| {
            let kind = match (parse, s.kind) {
                (true, _) => "parse",
                (false, Kind::Read | Kind::Probe) => "read",
                (false, Kind::Schema) => "schema",
                (false, _) => "write",
            };
            serde_json::json!({ "name": s.name, "sql": s.checkable(), "kind": kind })
        })
        .collect();
    let job = dir.path().join("job.json");
    let result = dir.path().join("result.json");
    std::fs::write(
        &job,
        serde_json::json!({ "database": database, "statements": statements }).to_string(),
    )
    .unwrap();
    let output = std::process::Command::new(python())
        .arg(root().join("tests/python/chdb_runner.py"))
        .arg(&job)
        .arg(&result)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the chdb runner failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    let outcomes = result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let name = r["name"].as_str().unwrap().to_owned();
            let outcome = if r["ok"].as_bool().unwrap() {
                Ok(r["output"].as_str().unwrap_or_default().to_owned())
            } else {
                Err(r["error"].as_str().unwrap_or_default().to_owned())
            };
            (name, outcome)
        })
        .collect();
    (result["version"].as_str().unwrap().to_owned(), outcomes)
}

/// Lines sorted, so answers without an ORDER BY compare as sets.
fn canonical(answer: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = answer.lines().collect();
    lines.sort_unstable();
    lines
}

/// Asserts two runs answered every read alike, naming each difference.
fn assert_same_answers(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>, what: &str) {
    let mut differences = Vec::new();
    for (name, answer) in a {
        match b.get(name) {
            Some(other) if canonical(other) == canonical(answer) => {}
            Some(other) => differences.push(format!("{name}:\n  {answer:?}\n  {other:?}")),
            None => differences.push(format!("{name}: no answer")),
        }
    }
    assert!(
        differences.is_empty(),
        "{what}: {} of {} reads differ:\n{}",
        differences.len(),
        a.len(),
        differences.join("\n")
    );
}

/// The single-server script's answers on 18.16; the database is dropped afterwards.
fn on_18_16(values: &Values) -> BTreeMap<String, String> {
    let script = script(values, &Layout::Single);
    let answers = run_on_server("http://127.0.0.1:8123", &values.database, &script, false);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(crate::support::warehouse(&values.database).drop_database())
        .unwrap();
    answers
}

#[test]
fn every_catalogued_statement_runs_alike_on_18_16_and_a_current_clickhouse() {
    let values = values(&unique("it_sql"));
    let expected = on_18_16(&values);
    // The fixture makes the reads worth comparing: counts, a snapshot, revisions, alerts.
    assert!(expected["snapshot: groups"].trim() != "0", "{expected:?}");
    assert!(
        expected["stats national total: snapshot and changes"]
            == expected["stats national total: every version"],
        "the snapshot path and the versions agree on 18.16: {expected:#?}"
    );
    assert!(!expected["alerts: open"].is_empty());

    let script = script(&values, &Layout::Single);
    let (version, outcomes) = run_on_chdb(&values.database, &script, false);
    assert!(version.starts_with("26."), "chdb runs ClickHouse {version}");
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|(name, outcome)| outcome.as_ref().err().map(|e| format!("{name}: {e}")))
        .collect();
    assert!(
        failed.is_empty(),
        "statements ClickHouse {version} refuses:\n{}",
        failed.join("\n")
    );
    let reads: BTreeMap<String, String> = script
        .iter()
        .zip(&outcomes)
        .filter(|(s, _)| s.kind == Kind::Read)
        .map(|(s, (_, outcome))| (s.name.clone(), outcome.clone().unwrap()))
        .collect();
    assert_same_answers(&expected, &reads, &format!("18.16 and {version}"));

    // The cluster layout's statements are valid for the current release's parser too.
    let cluster = Layout::Cluster {
        database: values.database.clone(),
    };
    let statements: Vec<Statement> = catalog::schema(&values, &cluster)
        .into_iter()
        .chain(catalog::statements(&values, &cluster))
        .collect();
    let (_, parsed) = run_on_chdb(&values.database, &statements, true);
    let refused: Vec<String> = parsed
        .iter()
        .filter_map(|(name, outcome)| outcome.as_ref().err().map(|e| format!("{name}: {e}")))
        .collect();
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}

#[test]
fn every_catalogued_statement_answers_on_the_cluster_as_on_one_server() {
    crate::cluster::assert_cluster_up();
    let values = values(&unique("it_sqlc"));
    let expected = on_18_16(&values);
    let cluster = Layout::Cluster {
        database: values.database.clone(),
    };
    let script = script(&values, &cluster);
    let config =
        cyberflag::config::Config::load_from(Some(&crate::cluster::cluster_config()), Vec::new())
            .unwrap();
    let answers = run_on_server(
        config.clickhouse.url.as_str(),
        &values.database,
        &script,
        true,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(crate::cluster::cluster_warehouse(&values.database).drop_database())
        .unwrap();
    assert_same_answers(
        &expected,
        &answers,
        "one 18.16 server and the 18.16 cluster",
    );
}
