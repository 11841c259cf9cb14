//! Readiness: whether a role can do its work now, from the state of what it depends on.
//!
//! `/healthz` (liveness) says the process serves HTTP; `/readyz` says its dependencies answer:
//! the broker with the role's topics, ClickHouse with a schema at least as new as this build
//! needs. A background task checks them every [`INTERVAL`] (each check bounded by
//! [`CHECK_TIMEOUT`]) and the endpoint answers from the last result, so probes cost the
//! dependencies nothing and a slow dependency cannot hold a probe. Until the first check
//! finishes the role is not ready.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use cyberflag::config::Config;

/// Time between two checks.
pub const INTERVAL: Duration = Duration::from_secs(5);
/// Longest one dependency may take to answer before it counts as down.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(4);

/// What a role depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A force adapter: the broker and the raw topic.
    Adapter,
    /// Ingest: the broker with the raw and dead-letter topics, and ClickHouse's schema.
    Ingest,
    /// The alerting service: ClickHouse's schema.
    Alerts,
    /// The API: ClickHouse's schema.
    Api,
}

/// One dependency's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `broker` or `clickhouse`.
    pub name: &'static str,
    /// Whether it is usable.
    pub ok: bool,
    /// What was found, and what to do when it is not usable.
    pub detail: String,
}

/// The latest readiness report, shared with the HTTP endpoints.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<RwLock<Option<Vec<Check>>>>);

impl Readiness {
    /// Starts checking `role`'s dependencies in the background (needs the tokio runtime).
    pub fn spawn(role: Role, config: &Config) -> Self {
        let readiness = Self::default();
        let shared = readiness.clone();
        let broker = matches!(role, Role::Adapter | Role::Ingest).then(|| {
            let mut topics = vec![config.kafka.raw_topic.clone()];
            if role == Role::Ingest {
                topics.push(config.kafka.dlq_topic.clone());
            }
            (config.kafka_client(), topics)
        });
        let store = matches!(role, Role::Ingest | Role::Alerts | Role::Api)
            .then(|| warehouse::Warehouse::new(&config.warehouse()));
        tokio::spawn(async move {
            let mut every = tokio::time::interval(INTERVAL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let mut checks = Vec::new();
                if let Some((settings, topics)) = &broker {
                    checks.push(check_broker(settings, topics).await);
                }
                if let Some(warehouse) = &store {
                    checks.push(check_clickhouse(warehouse).await);
                }
                for check in checks.iter().filter(|c| !c.ok) {
                    tracing::warn!(dependency = check.name, detail = %check.detail, "not ready");
                }
                if let Ok(mut slot) = shared.0.write() {
                    *slot = Some(checks);
                }
            }
        });
        readiness
    }

    /// Whether the role is ready, and one line per dependency.
    pub fn report(&self) -> (bool, String) {
        let Ok(slot) = self.0.read() else {
            return (false, "not ready: readiness state unavailable\n".to_owned());
        };
        match slot.as_ref() {
            None => (
                false,
                "not ready: dependencies not checked yet\n".to_owned(),
            ),
            Some(checks) => render(checks),
        }
    }
}

/// `ready`/`not ready` and one `ok`/`FAIL` line per dependency.
pub fn render(checks: &[Check]) -> (bool, String) {
    let ready = checks.iter().all(|c| c.ok);
    let mut text = String::from(if ready { "ready\n" } else { "not ready\n" });
    for check in checks {
        text.push_str(&format!(
            "{} {}: {}\n",
            if check.ok { "ok  " } else { "FAIL" },
            check.name,
            check.detail
        ));
    }
    (ready, text)
}

async fn check_broker(settings: &bus::ClientSettings, topics: &[String]) -> Check {
    let (settings, wanted) = (settings.clone(), topics.to_vec());
    let described = tokio::time::timeout(
        CHECK_TIMEOUT,
        tokio::task::spawn_blocking(move || bus::describe_topics(&settings, &wanted)),
    )
    .await;
    let (ok, detail) = match described {
        Err(_) => (
            false,
            format!(
                "no metadata within {} s: is the broker reachable?",
                CHECK_TIMEOUT.as_secs()
            ),
        ),
        Ok(Err(error)) => (false, format!("check failed: {error}")),
        Ok(Ok(Err(error))) => (false, format!("unreachable: {error}")),
        Ok(Ok(Ok(found))) => topics_state(topics, &found),
    };
    Check {
        name: "broker",
        ok,
        detail,
    }
}

/// Ready when every topic exists.
fn topics_state(
    wanted: &[String],
    found: &std::collections::BTreeMap<String, i32>,
) -> (bool, String) {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|t| !found.contains_key(*t))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        let listed: Vec<String> = found
            .iter()
            .map(|(topic, partitions)| format!("{topic} ({partitions} partitions)"))
            .collect();
        (true, listed.join(", "))
    } else {
        (
            false,
            format!(
                "topic(s) {} missing: run `cyberflag topics create`",
                missing.join(", ")
            ),
        )
    }
}

async fn check_clickhouse(warehouse: &warehouse::Warehouse) -> Check {
    let needed = warehouse::MIGRATIONS
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let (ok, detail) = match tokio::time::timeout(CHECK_TIMEOUT, warehouse.schema_version()).await {
        Err(_) => (
            false,
            format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
        ),
        Ok(Err(error)) => (
            false,
            format!(
                "cannot read the schema version of {:?}: {error} (has `cyberflag migrate` run?)",
                warehouse.database()
            ),
        ),
        Ok(Ok(version)) => schema_state(version, needed),
    };
    Check {
        name: "clickhouse",
        ok,
        detail,
    }
}

/// Ready when the schema is at least the version this build needs: migrations only add, so
/// a newer schema (applied for the next release while this one still runs) is usable.
fn schema_state(version: u32, needed: u32) -> (bool, String) {
    if version >= needed {
        (true, format!("schema version {version}"))
    } else {
        (
            false,
            format!("schema version {version}, this build needs {needed}: run `cyberflag migrate`"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_schema_is_not_ready_a_newer_one_is() {
        assert!(!schema_state(2, 3).0);
        assert!(schema_state(2, 3).1.contains("run `cyberflag migrate`"));
        assert!(schema_state(3, 3).0);
        assert!(schema_state(4, 3).0);
    }

    #[test]
    fn a_missing_topic_is_named() {
        let found = std::collections::BTreeMap::from([("raw".to_owned(), 12)]);
        let wanted = ["raw".to_owned(), "dlq".to_owned()];
        let (ok, detail) = topics_state(&wanted, &found);
        assert!(!ok);
        assert!(
            detail.contains("dlq") && detail.contains("topics create"),
            "{detail}"
        );
        assert!(topics_state(&wanted[..1], &found).0);
    }

    #[test]
    fn the_report_fails_when_any_dependency_fails() {
        let checks = [
            Check {
                name: "broker",
                ok: true,
                detail: "fine".into(),
            },
            Check {
                name: "clickhouse",
                ok: false,
                detail: "down".into(),
            },
        ];
        let (ready, text) = render(&checks);
        assert!(!ready);
        assert_eq!(
            text,
            "not ready\nok   broker: fine\nFAIL clickhouse: down\n"
        );
        assert!(render(&checks[..1]).0);
        assert!(!Readiness::default().report().0, "unchecked is not ready");
    }
}
