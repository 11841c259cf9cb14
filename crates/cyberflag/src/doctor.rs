//! `cyberflag doctor`: checks a deployment from where it runs and says what to do about each
//! problem. Every check runs even when an earlier one fails; the exit status is non-zero if any
//! check failed (warnings alone do not fail).

use chrono::Utc;
use cyberflag::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Ok,
    Warn,
    Fail,
}

struct Check {
    status: Status,
    name: &'static str,
    detail: String,
    action: String,
}

fn check(
    status: Status,
    name: &'static str,
    detail: impl Into<String>,
    action: impl Into<String>,
) -> Check {
    Check {
        status,
        name,
        detail: detail.into(),
        action: action.into(),
    }
}

async fn clickhouse(config: &Config, checks: &mut Vec<Check>) {
    let warehouse = warehouse::Warehouse::new(&config.warehouse());
    let known = warehouse::MIGRATIONS
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let version = match warehouse.schema_version().await {
        Ok(version) => version,
        Err(error) if error.to_string().contains("Code: 81") => {
            checks.push(check(
                Status::Ok,
                "clickhouse",
                config.clickhouse.display_url().to_owned(),
                "",
            ));
            checks.push(check(
                Status::Fail,
                "schema",
                format!("database {} does not exist", config.clickhouse.database),
                "run `cyberflag migrate`",
            ));
            return;
        }
        Err(error) => {
            checks.push(check(
                Status::Fail,
                "clickhouse",
                format!("{}: {error}", config.clickhouse.display_url()),
                "check clickhouse.url, the credentials and that the server runs",
            ));
            return;
        }
    };
    checks.push(check(
        Status::Ok,
        "clickhouse",
        config.clickhouse.display_url().to_owned(),
        "",
    ));
    checks.push(match version.cmp(&known) {
        std::cmp::Ordering::Equal => check(
            Status::Ok,
            "schema",
            format!(
                "database {} at version {version}",
                config.clickhouse.database
            ),
            "",
        ),
        std::cmp::Ordering::Less => check(
            Status::Fail,
            "schema",
            format!(
                "database {} at version {version}, this build needs {known}",
                config.clickhouse.database
            ),
            "run `cyberflag migrate`",
        ),
        std::cmp::Ordering::Greater => check(
            Status::Fail,
            "schema",
            format!("database at version {version}, newer than this build ({known})"),
            "upgrade cyberflag",
        ),
    });
    if version < known {
        return;
    }
    match warehouse.latest_snapshot().await {
        Ok(None) => checks.push(check(
            Status::Warn,
            "count snapshot",
            "none: statistics recompute every crime's state, slow at national scale",
            "start `cyberflag api` with api.snapshot_secs > 0, or run `cyberflag snapshot`",
        )),
        Ok(Some(snapshot)) => {
            let age = Utc::now().timestamp() - i64::from(snapshot.cutoff);
            let changes = warehouse.changes_since(snapshot).await.unwrap_or(0);
            let stale = config.api.snapshot_secs > 0
                && (age
                    > 2 * config.api.snapshot_secs as i64 + config.api.snapshot_margin_secs as i64
                    || changes > 4 * config.api.snapshot_changes);
            checks.push(check(
                if stale { Status::Warn } else { Status::Ok },
                "count snapshot",
                format!("cut {age} s ago, {changes} version(s) stored since"),
                if stale {
                    "is the API that builds snapshots running? see its log"
                } else {
                    ""
                },
            ));
        }
        Err(error) => checks.push(check(
            Status::Fail,
            "count snapshot",
            error.to_string(),
            "run `cyberflag migrate`",
        )),
    }
    match warehouse.last_evaluated_week().await {
        Ok(None) => checks.push(check(
            Status::Warn,
            "alerts",
            "no week evaluated yet",
            "start `cyberflag alerts run`",
        )),
        Ok(Some(week)) => {
            let today = Utc::now().date_naive();
            let behind = (today - week).num_days() > 21;
            let open = warehouse.open_alerts().await.map(|a| a.len()).unwrap_or(0);
            checks.push(check(
                if behind { Status::Warn } else { Status::Ok },
                "alerts",
                format!("last evaluated the week of {week}; {open} open alert(s)"),
                if behind {
                    "is `cyberflag alerts run` running?"
                } else {
                    ""
                },
            ));
        }
        Err(error) => checks.push(check(
            Status::Fail,
            "alerts",
            error.to_string(),
            "run `cyberflag migrate`",
        )),
    }
}

fn kafka(config: &Config, checks: &mut Vec<Check>) {
    let settings = config.kafka_client();
    let names = [
        config.kafka.raw_topic.clone(),
        config.kafka.dlq_topic.clone(),
    ];
    let found = match bus::describe_topics(&settings, &names) {
        Ok(found) => found,
        Err(error) => {
            checks.push(check(
                Status::Fail,
                "kafka",
                format!("{}: {error}", config.kafka.brokers),
                "check kafka.brokers, TLS settings and that the brokers run",
            ));
            return;
        }
    };
    checks.push(check(Status::Ok, "kafka", config.kafka.brokers.clone(), ""));
    for (name, wanted) in [
        (&config.kafka.raw_topic, config.kafka.raw_partitions),
        (&config.kafka.dlq_topic, config.kafka.dlq_partitions),
    ] {
        checks.push(match found.get(name) {
            None => check(
                Status::Fail,
                "topic",
                format!("{name} missing"),
                "run `cyberflag topics create`",
            ),
            Some(&n) if n < wanted => check(
                Status::Fail,
                "topic",
                format!("{name} has {n} partition(s), configured {wanted}"),
                "add partitions with the broker's tools, or lower the configuration",
            ),
            Some(&n) => check(Status::Ok, "topic", format!("{name}: {n} partition(s)"), ""),
        });
    }
    if found.contains_key(&config.kafka.dlq_topic)
        && let Ok(marks) = bus::watermarks(&settings, &config.kafka.dlq_topic)
    {
        let dead: i64 = marks.iter().map(|(_, low, high)| high - low).sum();
        checks.push(check(
            if dead > 0 { Status::Warn } else { Status::Ok },
            "dead letters",
            format!("{dead} message(s) in {}", config.kafka.dlq_topic),
            if dead > 0 {
                "see why with `cyberflag dlq list`; after a fix, `cyberflag dlq replay`"
            } else {
                ""
            },
        ));
    }
    if found.contains_key(&config.kafka.raw_topic) {
        match bus::group_progress(&settings, &config.ingest.group, &config.kafka.raw_topic) {
            Ok(progress) => {
                let never: Vec<i32> = progress
                    .iter()
                    .filter(|(_, committed, high)| committed.is_none() && *high > 0)
                    .map(|(p, ..)| *p)
                    .collect();
                let lag: i64 = progress
                    .iter()
                    .map(|(_, committed, high)| (high - committed.unwrap_or(0)).max(0))
                    .sum();
                let (status, action) = if !never.is_empty() {
                    (Status::Warn, "is `cyberflag ingest` running in this group?")
                } else if lag > 100_000 {
                    (
                        Status::Warn,
                        "ingest is behind: scale it out (up to one process per partition)",
                    )
                } else {
                    (Status::Ok, "")
                };
                checks.push(check(
                    status,
                    "ingest lag",
                    format!(
                        "group {}: {lag} message(s) behind{}",
                        config.ingest.group,
                        if never.is_empty() {
                            String::new()
                        } else {
                            format!(", partitions {never:?} never committed")
                        }
                    ),
                    action,
                ));
            }
            Err(error) => checks.push(check(Status::Warn, "ingest lag", error.to_string(), "")),
        }
    }
}

fn files(config: &Config, checks: &mut Vec<Check>) {
    if config.security.development {
        checks.push(check(
            Status::Warn,
            "development",
            "security.development is true: example secrets and readable key files are accepted",
            "never in production: set security.development = false",
        ));
    }
    if config.security.keyring.is_empty() {
        checks.push(check(
            Status::Warn,
            "keyring",
            "security.keyring is not set: ingest cannot verify any force's signature",
            "point security.keyring at the keyring file",
        ));
    } else {
        match crate::keyring::KeyringFile::inspect(&config.security) {
            Ok(keyring) => {
                checks.push(check(
                    Status::Ok,
                    "keyring",
                    format!(
                        "{}: {} force(s)",
                        config.security.keyring,
                        keyring.forces.len()
                    ),
                    "",
                ));
                // Tolerated only because this is a development setup.
                for warning in keyring.warnings {
                    checks.push(check(
                        Status::Warn,
                        "keyring",
                        warning,
                        "fine on a development stack only",
                    ));
                }
            }
            Err(error) => checks.push(check(
                Status::Fail,
                "keyring",
                format!("{error:#}"),
                "fix the keyring file",
            )),
        }
    }
    let path = std::path::Path::new(&config.api.tokens_file);
    match api::access::list_tokens(path) {
        Ok(tokens) => {
            let active = tokens.iter().filter(|t| !t.revoked).count();
            checks.push(check(
                if active == 0 {
                    Status::Warn
                } else {
                    Status::Ok
                },
                "api tokens",
                format!("{}: {active} active", config.api.tokens_file),
                if active == 0 {
                    "create one with `cyberflag token create --role ROLE`"
                } else {
                    ""
                },
            ));
        }
        Err(error) => checks.push(check(
            Status::Fail,
            "api tokens",
            error.to_string(),
            "fix or remove the token file",
        )),
    }
}

pub async fn doctor(config: &Config) -> anyhow::Result<()> {
    let mut checks = Vec::new();
    clickhouse(config, &mut checks).await;
    let kafka_config = config.clone();
    let kafka_checks = tokio::task::spawn_blocking(move || {
        let mut checks = Vec::new();
        kafka(&kafka_config, &mut checks);
        checks
    })
    .await?;
    checks.extend(kafka_checks);
    files(config, &mut checks);
    for c in &checks {
        let label = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        // Details quote servers' errors and files' contents: escaped, one line per check.
        let detail = model::text::printable(&c.detail);
        if c.action.is_empty() {
            crate::out!("{label} {:<15} {detail}", c.name);
        } else {
            crate::out!("{label} {:<15} {detail} → {}", c.name, c.action);
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warned = checks.iter().filter(|c| c.status == Status::Warn).count();
    anyhow::ensure!(failed == 0, "{failed} check(s) failed, {warned} warning(s)");
    stderr_line!("all checks passed ({warned} warning(s))");
    Ok(())
}
