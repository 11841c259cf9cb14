//! Deployment files: `docker-compose.yml`, the README's configuration table, `.ci/run`.
//!
//! No Docker engine runs here, so the compose file is checked by parsing it: every variable it
//! sets for a cyberflag role must be one the binary knows.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::support::root;

fn known_variables() -> BTreeSet<String> {
    let mut known: BTreeSet<String> = cyberflag::config::keys()
        .into_iter()
        .map(|key| key.env)
        .collect();
    known.extend(
        cyberflag::config::META_ENV_VARS
            .iter()
            .map(|v| v.to_string()),
    );
    known
}

fn compose() -> serde_yaml::Value {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    let mut value: serde_yaml::Value =
        serde_yaml::from_str(&text).expect("docker-compose.yml is valid YAML");
    // Resolve `<<: *anchor` merge keys the way Compose does.
    value.apply_merge().expect("merge keys resolve");
    value
}

/// `environment:` as a map or a list of `KEY=value`.
fn environment(service: &serde_yaml::Value) -> Vec<String> {
    match service.get("environment") {
        Some(serde_yaml::Value::Mapping(map)) => map
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect(),
        Some(serde_yaml::Value::Sequence(list)) => list
            .iter()
            .filter_map(|item| item.as_str())
            .map(|item| item.split('=').next().unwrap_or(item).to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn compose_sets_only_variables_the_binary_knows() {
    let compose = compose();
    let services = compose
        .get("services")
        .and_then(|s| s.as_mapping())
        .expect("services");
    let known = known_variables();
    let mut checked = 0;
    for (name, service) in services {
        for variable in environment(service) {
            if variable.starts_with("CYBERFLAG_") {
                assert!(
                    known.contains(&variable),
                    "service {name:?} sets unknown {variable}"
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 4,
        "the cyberflag roles are configured through CYBERFLAG_* variables"
    );
}

#[test]
fn compose_pins_images_binds_loopback_and_has_healthchecks() {
    let compose = compose();
    let services = compose
        .get("services")
        .and_then(|s| s.as_mapping())
        .unwrap();
    for (name, service) in services {
        if let Some(image) = service.get("image").and_then(|i| i.as_str()) {
            let tag = image.rsplit_once(':').map(|(_, tag)| tag).unwrap_or("");
            assert!(
                !tag.is_empty() && tag != "latest",
                "{name:?}: image {image} is not pinned"
            );
        } else {
            assert!(
                service.get("build").is_some(),
                "{name:?} has neither image nor build"
            );
        }
        for port in service
            .get("ports")
            .and_then(|p| p.as_sequence())
            .into_iter()
            .flatten()
        {
            let port = port.as_str().unwrap_or_default();
            assert!(
                port.starts_with("127.0.0.1:"),
                "{name:?} publishes {port} beyond loopback"
            );
        }
        if service
            .get("command")
            .and_then(|c| c.as_sequence())
            .is_none_or(|c| {
                // One-shot jobs (migrate, topics create) exit; they need no healthcheck.
                !c.iter()
                    .any(|a| a.as_str() == Some("migrate") || a.as_str() == Some("create"))
            })
        {
            assert!(
                service.get("healthcheck").is_some(),
                "{name:?} has no healthcheck"
            );
        }
    }
}

/// The README's configuration table: one row per key the binary knows, none for a key it does
/// not, and each row's default column is the binary's default (`empty` for an empty value).
#[test]
fn the_readme_documents_every_configuration_key_with_its_default() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let rows: std::collections::BTreeMap<String, (String, String)> = readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(" | ").map(str::trim).collect();
            let path = cells.first()?.strip_prefix("| `")?.strip_suffix('`')?;
            let env = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let default = cells.get(2)?;
            env.starts_with("CYBERFLAG_")
                .then(|| (path.to_owned(), (env.to_owned(), default.to_string())))
        })
        .collect();
    let keys = cyberflag::config::keys();
    for key in &keys {
        let (env, default) = rows
            .get(&key.path)
            .unwrap_or_else(|| panic!("README.md has no row for `{}`", key.path));
        assert_eq!(env, &key.env, "README.md's variable for `{}`", key.path);
        let expected = match &key.default_value {
            toml::Value::String(text) if text.is_empty() => "empty".to_owned(),
            toml::Value::Array(items) if items.is_empty() => "empty".to_owned(),
            toml::Value::String(text) => format!("`{text}`"),
            other => format!("`{other}`"),
        };
        assert_eq!(
            default, &expected,
            "README.md's default for `{}` (the binary's is {})",
            key.path, key.default
        );
    }
    let known: std::collections::BTreeSet<&str> = keys.iter().map(|k| k.path.as_str()).collect();
    let stale: Vec<&String> = rows
        .keys()
        .filter(|path| !known.contains(path.as_str()))
        .collect();
    assert!(
        stale.is_empty(),
        "README.md documents unknown keys: {stale:?}"
    );
}

#[test]
fn ci_runs_exactly_the_readme_test_command() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    let command = "cargo xtask test";
    assert!(readme.contains(command), "README.md names the test command");
    let last = ci
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default();
    assert!(
        last.trim().ends_with(command),
        ".ci/run ends by running `{command}`: {last}"
    );
}

#[test]
fn the_example_keyring_is_what_the_binary_accepts() {
    let text = std::fs::read_to_string(root().join("deploy/keyring.example.toml")).unwrap();
    let value: toml::Value = toml::from_str(&text).unwrap();
    let forces = value["forces"].as_table().unwrap();
    assert!(!forces.is_empty());
    for (force, keys) in forces {
        model::ForceId::from_id(force).unwrap();
        wire::Secret::from_hex(keys["signing_key"].as_str().unwrap()).unwrap();
        assert!(
            keys.get("pseudonymisation_key").is_none(),
            "never in a national keyring"
        );
    }
}

fn yaml(path: &str) -> serde_yaml::Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

/// Every metric name the code records (`metrics::counter!("…")` and friends).
fn emitted_metrics() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut stack = vec![root().join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for kind in ["counter!(\"", "gauge!(\"", "histogram!(\""] {
                    for piece in text.split(kind).skip(1) {
                        if let Some(name) = piece.split('"').next() {
                            names.insert(name.to_owned());
                        }
                    }
                }
            }
        }
    }
    names
}

/// The `cyberflag_*` metric names an expression or query text uses.
fn used_metrics(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for (i, _) in text.match_indices("cyberflag_") {
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        used.insert(name);
    }
    used
}

#[test]
fn prometheus_scrapes_compose_services_and_uses_only_emitted_metrics() {
    let compose = compose();
    let services: BTreeSet<String> = compose["services"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    let prometheus = yaml("deploy/prometheus/prometheus.yml");
    let jobs = prometheus["scrape_configs"].as_sequence().unwrap();
    let mut scraped = BTreeSet::new();
    for job in jobs {
        for target in job["static_configs"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|c| c["targets"].as_sequence().unwrap())
        {
            scraped.insert(
                target
                    .as_str()
                    .unwrap()
                    .split(':')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
        for config in job["dns_sd_configs"].as_sequence().into_iter().flatten() {
            for name in config["names"].as_sequence().unwrap() {
                scraped.insert(name.as_str().unwrap().to_owned());
            }
        }
    }
    for host in &scraped {
        assert!(
            services.contains(host),
            "Prometheus scrapes {host}, not a compose service"
        );
    }
    for role in [
        "ingest",
        "api",
        "alerts",
        "adapter-west-mercia",
        "adapter-avon-and-somerset",
        "adapter-metropolitan",
    ] {
        assert!(scraped.contains(role), "{role} is not scraped");
    }
    let emitted = emitted_metrics();
    assert!(
        emitted.contains("cyberflag_ingest_stored_total"),
        "{emitted:?}"
    );
    let rules = std::fs::read_to_string(root().join("deploy/prometheus/rules.yml")).unwrap();
    let _: serde_yaml::Value = serde_yaml::from_str(&rules).unwrap();
    let dashboard =
        std::fs::read_to_string(root().join("deploy/grafana/dashboards/cyberflag.json")).unwrap();
    let dashboard_json: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    for text in [&rules, &dashboard] {
        for metric in used_metrics(text) {
            let base = metric
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(
                emitted.contains(base),
                "{metric} is used but no code records it"
            );
        }
    }
    // Every panel's data source is provisioned.
    let datasources = yaml("deploy/grafana/provisioning/datasources/datasources.yml");
    let uids: BTreeSet<&str> = datasources["datasources"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|d| d["uid"].as_str())
        .collect();
    for panel in dashboard_json["panels"].as_array().unwrap() {
        let uid = panel["datasource"]["uid"].as_str().unwrap();
        assert!(
            uids.contains(uid),
            "panel {} uses unknown data source {uid}",
            panel["title"]
        );
    }
    // Alertmanager routes to receivers it defines.
    let alertmanager = yaml("deploy/alertmanager/alertmanager.yml");
    let receivers: BTreeSet<&str> = alertmanager["receivers"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(receivers.contains(alertmanager["route"]["receiver"].as_str().unwrap()));
}

#[test]
fn compose_files_secrets_and_adapter_profiles_exist_and_agree() {
    let compose = compose();
    // Every secret's default file exists.
    let secrets = compose["secrets"].as_mapping().unwrap();
    for (name, secret) in secrets {
        let file = secret["file"].as_str().unwrap();
        let default = file
            .split(":-")
            .nth(1)
            .map(|rest| rest.trim_end_matches('}'))
            .unwrap_or(file);
        assert!(
            root().join(default).is_file(),
            "secret {name:?}: {default} does not exist"
        );
    }
    // Every bind mount from the repository exists, and each adapter's profile names only keys
    // the service receives as secrets.
    for (name, service) in compose["services"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let source = volume.as_str().unwrap().split(':').next().unwrap();
            if let Some(path) = source.strip_prefix("./") {
                assert!(
                    root().join(path).exists(),
                    "{name}: {source} does not exist"
                );
            }
        }
        let Some(force) = name.strip_prefix("adapter-") else {
            continue;
        };
        let profile =
            std::fs::read_to_string(root().join(format!("deploy/forces/{force}.toml"))).unwrap();
        let given: BTreeSet<String> = service["secrets"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|s| format!("/run/secrets/{}", s.as_str().unwrap()))
            .collect();
        for line in profile.lines().filter(|l| l.contains("_file = ")) {
            let path = line.split('"').nth(1).unwrap();
            assert!(
                given.contains(path),
                "{name}: profile reads {path}, not a secret it gets"
            );
        }
        assert!(
            !profile.contains("_env = "),
            "{name}: secrets come from files, not variables"
        );
    }
}

/// Every document of every Kubernetes manifest in `deploy/k8s/`.
fn manifests() -> Vec<(String, serde_yaml::Value)> {
    let mut documents = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(root().join("deploy/k8s"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_yaml::Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            documents.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                value,
            ));
        }
    }
    documents
}

/// The pod template's containers of a workload (Deployment, StatefulSet, Job, CronJob).
fn containers(document: &serde_yaml::Value) -> Vec<serde_yaml::Value> {
    let spec = &document["spec"];
    let template = if document["kind"] == "CronJob" {
        &spec["jobTemplate"]["spec"]["template"]
    } else {
        &spec["template"]
    };
    template["spec"]["containers"]
        .as_sequence()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn kubernetes_manifests_are_valid_and_complete() {
    let documents = manifests();
    let known = known_variables();
    let mut kinds = BTreeSet::new();
    let mut long_running = 0;
    for (file, document) in &documents {
        let kind = document["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: no kind"));
        let name = document["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        kinds.insert(format!("{kind}/{name}"));
        if kind != "Namespace" {
            assert_eq!(
                document["metadata"]["namespace"], "cyberflag",
                "{file}: {kind}/{name}"
            );
        }
        for container in containers(document) {
            let image = container["image"].as_str().unwrap();
            let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
            assert!(
                !tag.is_empty() && tag != "latest",
                "{file}: {image} is not pinned"
            );
            assert!(
                container["resources"]["requests"]["cpu"].is_string()
                    || container["resources"]["requests"]["cpu"].is_number(),
                "{file}: {name} requests no CPU"
            );
            assert!(
                container["resources"]["requests"]["memory"].is_string(),
                "{file}: {name} requests no memory"
            );
            for variable in container["env"].as_sequence().into_iter().flatten() {
                let variable = variable["name"].as_str().unwrap();
                if variable.starts_with("CYBERFLAG_") {
                    assert!(
                        known.contains(variable),
                        "{file}: {name} sets unknown {variable}"
                    );
                }
            }
            if matches!(kind, "Deployment" | "StatefulSet") {
                long_running += 1;
                for probe in ["readinessProbe", "livenessProbe"] {
                    assert_eq!(
                        container[probe]["httpGet"]["path"], "/healthz",
                        "{file}: {name} has no {probe} on /healthz"
                    );
                }
            }
        }
    }
    assert!(
        long_running >= 4,
        "ingest, api, alerts and an adapter run long"
    );
    for required in [
        "StatefulSet/cyberflag-ingest",
        "PodDisruptionBudget/cyberflag-ingest",
        "Deployment/cyberflag-api",
        "Deployment/cyberflag-alerts",
        "Job/cyberflag-migrate",
    ] {
        assert!(kinds.contains(required), "missing {required}: {kinds:?}");
    }
    // The shared configuration is one the binary loads.
    let config = documents
        .iter()
        .find(|(_, d)| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "cyberflag-config")
        .map(|(_, d)| d["data"]["cyberflag.toml"].as_str().unwrap().to_owned())
        .unwrap();
    let file = std::env::temp_dir().join(format!("cyberflag-k8s-{}.toml", std::process::id()));
    std::fs::write(&file, config).unwrap();
    let loaded = cyberflag::config::Config::load_from(Some(&file), Vec::new());
    std::fs::remove_file(&file).ok();
    let loaded = loaded.expect("the ConfigMap's cyberflag.toml loads");
    assert_eq!(loaded.kafka.replication_factor, 3);
    assert_eq!(loaded.clickhouse.cluster, "cyberflag");

    // Topics for three brokers: replicated three ways, with the partitions the binary expects.
    let text = std::fs::read_to_string(root().join("deploy/kafka/topics.yaml")).unwrap();
    let defaults = cyberflag::config::Config::default();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let topic = serde_yaml::Value::deserialize(document).unwrap();
        let name = topic["metadata"]["name"].as_str().unwrap();
        assert_eq!(topic["spec"]["replicas"], 3, "{name}");
        assert_eq!(
            topic["spec"]["config"]["min.insync.replicas"], "2",
            "{name}"
        );
        let partitions = topic["spec"]["partitions"].as_i64().unwrap();
        let wanted = if name == defaults.kafka.raw_topic {
            defaults.kafka.raw_partitions
        } else {
            assert_eq!(name, defaults.kafka.dlq_topic);
            defaults.kafka.dlq_partitions
        };
        assert_eq!(partitions, i64::from(wanted), "{name}");
    }

    // The ClickHouse cluster the migrations name is the one the servers define.
    let cluster =
        std::fs::read_to_string(root().join("deploy/clickhouse/cluster/config.d/cluster.xml"))
            .unwrap();
    assert!(cluster.contains("<remote_servers>") && cluster.contains("<cyberflag>"));
    assert!(
        cluster.contains("<shard>")
            && cluster.contains("<replica>")
            && cluster.contains("<zookeeper>")
    );
    let statements =
        warehouse::cluster_statements(&warehouse::MIGRATIONS[0], "cyberflag", "cyberflag");
    assert!(
        statements
            .iter()
            .any(|s| s.contains("Distributed(`cyberflag`"))
    );
}

/// The README's deployment section lists every service `docker-compose.yml` runs.
#[test]
fn the_readme_lists_every_compose_service() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("## Production-like deployment")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README.md has a Production-like deployment section");
    let compose: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join("docker-compose.yml")).unwrap())
            .unwrap();
    let services = compose["services"].as_mapping().expect("services");
    assert!(services.len() > 5);
    for name in services.keys() {
        let name = name.as_str().unwrap();
        assert!(
            section.contains(&format!("| `{name}` |")),
            "README.md's deployment section does not list the service {name}"
        );
    }
}
