//! Deployment files: `docker-compose.yml`, the Kubernetes manifests, the Dockerfile, the
//! Prometheus rules, the README's configuration table, `.ci/run`; and the readiness probes.
//!
//! No Docker engine or Kubernetes runs here, so the files are checked by parsing them, by the
//! tools that own their formats (kubernetes-validate with the Kubernetes schemas, promtool),
//! and by the binary itself: every role's configuration, as its container would see it, is
//! loaded by `cyberflag config show`, and every file it names must be mounted.

use std::collections::{BTreeMap, BTreeSet};

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
                // Ready when its dependencies answer; alive while it serves.
                for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")]
                {
                    assert_eq!(
                        container[probe]["httpGet"]["path"], path,
                        "{file}: {name} has no {probe} on {path}"
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
        "Service/cyberflag-ingest",
        "PodDisruptionBudget/cyberflag-ingest",
        "Deployment/cyberflag-api",
        "PodDisruptionBudget/cyberflag-api",
        "Deployment/cyberflag-alerts",
        "Job/cyberflag-migrate-0-0-0",
        "CronJob/cyberflag-snapshot",
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

/// The project's Python tools (`cargo xtask tools`; `cargo xtask test` installs them).
fn venv_tool(name: &str) -> std::path::PathBuf {
    let path = root().join(".stack/python/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask tools` (cargo xtask test does)",
        path.display()
    );
    path
}

#[test]
fn kubernetes_manifests_pass_the_kubernetes_schemas_offline() {
    let mut files: Vec<_> = std::fs::read_dir(root().join("deploy/k8s"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let output = std::process::Command::new(venv_tool("kubernetes-validate"))
        .args(["--strict", "--kubernetes-version", "1.33.0"])
        .args(&files)
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
    let passed = report.matches(" passed for resource ").count();
    assert_eq!(
        passed,
        manifests().len(),
        "every document validated: {report}"
    );
}

/// A workload's pod spec (Deployment, StatefulSet, Job, CronJob).
fn pod_spec(document: &serde_yaml::Value) -> Option<&serde_yaml::Value> {
    let spec = &document["spec"];
    match document["kind"].as_str()? {
        "CronJob" => Some(&spec["jobTemplate"]["spec"]["template"]["spec"]),
        "Deployment" | "StatefulSet" | "Job" => Some(&spec["template"]["spec"]),
        _ => None,
    }
}

fn pod_labels(document: &serde_yaml::Value) -> serde_yaml::Mapping {
    document["spec"]["template"]["metadata"]["labels"]
        .as_mapping()
        .cloned()
        .unwrap_or_default()
}

fn selects(selector: &serde_yaml::Value, labels: &serde_yaml::Mapping) -> bool {
    selector
        .as_mapping()
        .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// Runs `cyberflag config show` with `env` only (no inherited `CYBERFLAG_*`, no
/// `./cyberflag.toml`) and returns the effective configuration.
fn effective_config(env: &[(String, String)], what: &str) -> toml::Table {
    let borrowed: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let output = crate::support::cyberflag(&borrowed)
        .args(["config", "show"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{what}: the binary refuses its configuration: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    toml::from_str(&String::from_utf8_lossy(&output.stdout)).unwrap()
}

fn setting<'a>(config: &'a toml::Table, key: &str) -> &'a str {
    let (section, name) = key.split_once('.').unwrap();
    config[section][name].as_str().unwrap_or_default()
}

/// Every pod runs unprivileged; every file its configuration names is mounted (read by the
/// binary itself, with the container's environment and ConfigMap); the volumes, Services,
/// disruption budgets and release-named Jobs it needs exist.
#[test]
fn kubernetes_pods_mount_what_their_configuration_names_and_run_unprivileged() {
    let documents = manifests();
    let all_text: String = std::fs::read_dir(root().join("deploy/k8s"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let named = |kind: &str| -> BTreeSet<String> {
        documents
            .iter()
            .filter(|(_, d)| d["kind"] == kind)
            .map(|(_, d)| d["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (config_maps, claims) = (named("ConfigMap"), named("PersistentVolumeClaim"));
    let config_map = |name: &str| -> serde_yaml::Value {
        documents
            .iter()
            .find(|(_, d)| d["kind"] == "ConfigMap" && d["metadata"]["name"] == name)
            .map(|(_, d)| d["data"].clone())
            .unwrap_or_else(|| panic!("no ConfigMap {name}"))
    };
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (file, document) in &documents {
        let Some(pod) = pod_spec(document) else {
            continue;
        };
        let kind = document["kind"].as_str().unwrap();
        let workload = format!(
            "{file}: {kind}/{}",
            document["metadata"]["name"].as_str().unwrap()
        );
        // Unprivileged, with no service-account token (no role talks to the Kubernetes API).
        assert_eq!(pod["automountServiceAccountToken"], false, "{workload}");
        let context = &pod["securityContext"];
        assert_eq!(context["runAsNonRoot"], true, "{workload}: runAsNonRoot");
        assert!(
            context["runAsUser"].as_u64().is_some_and(|u| u > 0),
            "{workload}: a numeric runAsUser"
        );
        assert!(
            context["fsGroup"].as_u64().is_some(),
            "{workload}: an fsGroup"
        );
        // Every volume is defined here, or is a Secret the operator creates (listed).
        let mut volumes = BTreeMap::new();
        for volume in pod["volumes"].as_sequence().into_iter().flatten() {
            let name = volume["name"].as_str().unwrap().to_owned();
            if let Some(map) = volume["configMap"]["name"].as_str() {
                assert!(config_maps.contains(map), "{workload}: no ConfigMap {map}");
            } else if let Some(claim) = volume["persistentVolumeClaim"]["claimName"].as_str() {
                assert!(
                    claims.contains(claim),
                    "{workload}: no PersistentVolumeClaim {claim}"
                );
            } else if let Some(secret) = volume["secret"]["secretName"].as_str() {
                assert!(
                    all_text.contains(&format!("#   {secret} ")),
                    "{workload}: Secret {secret} is not in namespace.yaml's list"
                );
            } else {
                panic!("{workload}: volume {name} of an unexpected kind");
            }
            volumes.insert(name, volume.clone());
        }
        for container in pod["containers"].as_sequence().unwrap() {
            let name = format!("{workload}/{}", container["name"].as_str().unwrap());
            let security = &container["securityContext"];
            assert_eq!(security["readOnlyRootFilesystem"], true, "{name}");
            assert_eq!(security["allowPrivilegeEscalation"], false, "{name}");
            assert!(
                security["capabilities"]["drop"]
                    .as_sequence()
                    .is_some_and(|d| d.iter().any(|c| c == "ALL")),
                "{name}: drops every capability"
            );
            let mounts: Vec<(String, String, bool)> = container["volumeMounts"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|m| {
                    let volume = m["name"].as_str().unwrap().to_owned();
                    assert!(
                        volumes.contains_key(&volume),
                        "{name}: mounts unknown {volume}"
                    );
                    (
                        m["mountPath"].as_str().unwrap().to_owned(),
                        volume,
                        m["readOnly"].as_bool().unwrap_or(false),
                    )
                })
                .collect();
            // The mount holding `path`, if any.
            let mount_of = |path: &str| {
                mounts
                    .iter()
                    .filter(|(at, ..)| path == at || path.starts_with(&format!("{at}/")))
                    .max_by_key(|(at, ..)| at.len())
                    .cloned()
            };
            let file_in_config_map = |path: &str| -> Option<String> {
                let (at, volume, _) = mount_of(path)?;
                let map = volumes[&volume]["configMap"]["name"].as_str()?;
                let key = path.strip_prefix(&format!("{at}/"))?;
                config_map(map)[key].as_str().map(str::to_owned)
            };
            // The binary loads the container's configuration: its variables, with secrets as
            // placeholders and the ConfigMap's file where CYBERFLAG_CONFIG points.
            let mut env = Vec::new();
            for variable in container["env"].as_sequence().into_iter().flatten() {
                let key = variable["name"].as_str().unwrap().to_owned();
                let value = if let Some(value) = variable["value"].as_str() {
                    value.to_owned()
                } else if variable["valueFrom"]["secretKeyRef"].is_mapping() {
                    "secret-from-kubernetes".to_owned()
                } else {
                    "cyberflag-ingest-0".to_owned()
                };
                if key == "CYBERFLAG_CONFIG" {
                    let text = file_in_config_map(&value)
                        .unwrap_or_else(|| panic!("{name}: {value} is not in a mounted ConfigMap"));
                    let local = dir.path().join(format!("config-{checked}.toml"));
                    std::fs::write(&local, text).unwrap();
                    env.push((key, local.display().to_string()));
                } else {
                    env.push((key, value));
                }
            }
            let config = effective_config(&env, &name);
            checked += 1;
            let args: Vec<&str> = container["args"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            let role = args[0];
            let kafka = matches!(role, "adapter" | "ingest");
            let mut needed: Vec<(String, bool)> = Vec::new();
            if kafka {
                for key in [
                    "kafka.ssl_ca_location",
                    "kafka.ssl_certificate_location",
                    "kafka.ssl_key_location",
                ] {
                    needed.push((setting(&config, key).to_owned(), false));
                }
            }
            match role {
                "ingest" => {
                    let keyring = setting(&config, "security.keyring");
                    assert!(
                        !keyring.is_empty(),
                        "{name}: ingest verifies with a keyring"
                    );
                    needed.push((keyring.to_owned(), false));
                }
                "adapter" => {
                    assert_eq!(
                        setting(&config, "security.keyring"),
                        "",
                        "{name}: the national keyring never reaches a force's adapter"
                    );
                    needed.push((setting(&config, "adapter.state_dir").to_owned(), true));
                    let profile_path =
                        args[args.iter().position(|a| *a == "--profile").unwrap() + 1];
                    let profile = file_in_config_map(profile_path)
                        .unwrap_or_else(|| panic!("{name}: {profile_path} is not mounted"));
                    let shipped = std::fs::read_to_string(
                        root()
                            .join("deploy/forces")
                            .join(profile_path.rsplit('/').next().unwrap()),
                    )
                    .unwrap();
                    assert_eq!(
                        profile, shipped,
                        "{name}: the profile is deploy/forces' own"
                    );
                    let profile: toml::Table = toml::from_str(&profile).unwrap();
                    let source = profile["source"].as_table().unwrap();
                    needed.push((source["watch"].as_str().unwrap().to_owned(), false));
                    needed.push((source["checkpoint"].as_str().unwrap().to_owned(), true));
                    for key in profile["keys"].as_table().unwrap().values() {
                        if let Some(path) = key.as_str().filter(|p| p.starts_with('/')) {
                            needed.push((path.to_owned(), false));
                        }
                    }
                }
                "api" => {
                    for key in ["api.tokens_file", "api.tls_cert_file", "api.tls_key_file"] {
                        needed.push((setting(&config, key).to_owned(), false));
                    }
                }
                _ => {}
            }
            for (path, writes) in needed.into_iter().filter(|(p, _)| !p.is_empty()) {
                let (at, _, read_only) = mount_of(&path)
                    .unwrap_or_else(|| panic!("{name}: {path} is on no mounted volume"));
                if writes {
                    assert!(!read_only, "{name}: writes {path}, but {at} is read-only");
                }
            }
        }
        match kind {
            "StatefulSet" => {
                let service = document["spec"]["serviceName"].as_str().unwrap();
                let governing = documents
                    .iter()
                    .find(|(_, d)| d["kind"] == "Service" && d["metadata"]["name"] == service)
                    .map(|(_, d)| d)
                    .unwrap_or_else(|| panic!("{workload}: no Service {service}"));
                assert_eq!(
                    governing["spec"]["clusterIP"], "None",
                    "{service} is headless"
                );
                assert!(selects(
                    &governing["spec"]["selector"],
                    &pod_labels(document)
                ));
            }
            "Job" => {
                // A Job's pod template is immutable: each release applies a Job of its own.
                let image = pod["containers"][0]["image"].as_str().unwrap();
                let tag = image.rsplit_once(':').unwrap().1.replace('.', "-");
                let job = document["metadata"]["name"].as_str().unwrap();
                assert!(
                    job.ends_with(&format!("-{tag}")),
                    "{workload}: named after {image}"
                );
                assert!(
                    document["spec"]["ttlSecondsAfterFinished"]
                        .as_u64()
                        .is_some()
                );
            }
            _ => {}
        }
        if document["spec"]["replicas"].as_u64().unwrap_or(1) >= 2 {
            let labels = pod_labels(document);
            assert!(
                documents
                    .iter()
                    .any(|(_, d)| d["kind"] == "PodDisruptionBudget"
                        && selects(&d["spec"]["selector"]["matchLabels"], &labels)),
                "{workload}: several replicas and no PodDisruptionBudget"
            );
        }
    }
    assert!(checked >= 6, "{checked} containers checked");
}

/// The roles of docker-compose.yml that run the cyberflag image, with their environment.
fn compose_roles() -> Vec<(String, serde_yaml::Value)> {
    compose()["services"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, s)| s.get("build").is_some())
        .map(|(name, service)| (name.as_str().unwrap().to_owned(), service.clone()))
        .collect()
}

/// A compose secret's file (its default), by secret name.
fn secret_file(name: &str) -> std::path::PathBuf {
    let compose = compose();
    let file = compose["secrets"][name]["file"]
        .as_str()
        .unwrap_or_else(|| panic!("no secret {name}"));
    let default = file
        .split(":-")
        .nth(1)
        .map(|rest| rest.trim_end_matches('}'))
        .unwrap_or(file);
    root().join(default)
}

/// The block of `user` in a ClickHouse users XML.
fn user_block<'a>(xml: &'a str, user: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{user}>"))?;
    let end = xml[start..].find(&format!("</{user}>"))?;
    Some(&xml[start..start + end])
}

fn xml_value<'a>(block: &'a str, tag: &str) -> Option<&'a str> {
    let start = block.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = block[start..].find(&format!("</{tag}>"))?;
    Some(&block[start..start + end])
}

/// Issue 15, item 7: every role that talks to ClickHouse connects as its own user, whose
/// password comes from a secret, with the least profile it needs; none uses `default`. Every
/// role's configuration, as its container sees it (secrets at their files), loads in the
/// binary.
#[test]
fn compose_roles_connect_to_clickhouse_as_their_own_users_with_secret_passwords() {
    let compose = compose();
    let users_secret = compose["services"]["clickhouse"]["secrets"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| {
            s["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("/etc/clickhouse-server/users.d/"))
        })
        .map(|s| s["source"].as_str().unwrap().to_owned())
        .expect("ClickHouse gets the users as a secret in users.d");
    let users = std::fs::read_to_string(secret_file(&users_secret)).unwrap();
    let roles_xml =
        std::fs::read_to_string(root().join("deploy/clickhouse/compose/roles.xml")).unwrap();
    assert!(
        xml_value(
            user_block(&roles_xml, "cyberflag_reader").unwrap(),
            "readonly"
        ) == Some("2"),
        "the reader profile may set query settings but never write"
    );
    let mut seen = BTreeSet::new();
    for (name, service) in compose_roles() {
        let command = |key: &str| -> String {
            service[key]
                .as_sequence()
                .map(|c| {
                    c.iter()
                        .filter_map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default()
        };
        let (command, entrypoint) = (command("command"), command("entrypoint"));
        let role = if entrypoint.contains("cyberflag snapshot") {
            "snapshot"
        } else {
            command.split_whitespace().next().unwrap()
        };
        let granted: BTreeSet<String> = service["secrets"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        let mut env: Vec<(String, String)> = service["environment"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    serde_yaml::Value::String(s) => s.clone(),
                    other => serde_yaml::to_string(other).unwrap().trim().to_owned(),
                };
                (k.as_str().unwrap().to_owned(), value)
            })
            .collect();
        assert!(
            !env.iter()
                .any(|(k, _)| k == "CYBERFLAG_CLICKHOUSE_PASSWORD"),
            "{name}: a password in a plain variable"
        );
        // Secrets are files under /run/secrets: point at the example files instead.
        for (_, value) in &mut env {
            if let Some(secret) = value.strip_prefix("/run/secrets/") {
                assert!(
                    granted.contains(secret),
                    "{name}: reads {value}, not a secret it gets"
                );
                *value = secret_file(secret).display().to_string();
            }
        }
        let config = effective_config(&env, &name);
        let profile = match role {
            "migrate" | "snapshot" => "default",
            "ingest" | "alerts" => "cyberflag_writer",
            "api" => "cyberflag_reader",
            _ => {
                assert!(
                    !granted.iter().any(|s| s.starts_with("clickhouse-")),
                    "{name} never talks to ClickHouse and gets no ClickHouse password"
                );
                continue;
            }
        };
        let user = setting(&config, "clickhouse.user").to_owned();
        assert_ne!(
            user, "default",
            "{name} connects as ClickHouse's default user"
        );
        assert!(
            seen.insert(user.clone()),
            "{name} shares ClickHouse user {user}"
        );
        let password_file = env
            .iter()
            .find(|(k, _)| k == "CYBERFLAG_CLICKHOUSE_PASSWORD_FILE")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name}: no clickhouse.password_file"));
        let password = std::fs::read_to_string(&password_file).unwrap();
        let password = password.trim_end_matches(['\n', '\r']);
        assert!(password.len() >= 16, "{name}: a real password");
        let block = user_block(&users, &user)
            .unwrap_or_else(|| panic!("{name}: ClickHouse has no user {user}"));
        let digest: String = <sha2::Sha256 as sha2::Digest>::digest(password.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            xml_value(block, "password_sha256_hex"),
            Some(digest.as_str()),
            "{name}: {user}'s password hash matches its secret"
        );
        assert_eq!(
            xml_value(block, "profile"),
            Some(profile),
            "{name}: {user}'s profile"
        );
    }
    assert_eq!(
        seen.len(),
        5,
        "migrate, ingest, api, snapshot and alerts each have a user: {seen:?}"
    );
    // `default` answers only inside the ClickHouse container.
    let default = user_block(&roles_xml, "default").unwrap();
    assert!(default.contains("replace=\"replace\"") && !default.contains("::/0"));
    assert!(!users.contains("<default>"));
}

/// Issue 18, item 4: a named volume a role writes is created in the image owned by the user the
/// role runs as (Docker copies the image directory's owner into a new volume; otherwise it is
/// root's, and the role cannot write its state).
#[test]
fn compose_volumes_are_writable_by_the_image_user() {
    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let last_stage = dockerfile.rsplit("\nFROM ").next().unwrap();
    let user = last_stage
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the image names its user")
        .trim();
    let uid = user.split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u > 0),
        "numeric non-root USER: {user}"
    );
    let owned: BTreeSet<String> = last_stage
        .replace("\\\n", " ")
        .split("&&")
        .filter(|c| c.contains("install -d") && c.contains(&format!("-o {uid}")))
        .flat_map(|c| {
            c.split_whitespace()
                .filter(|w| w.starts_with('/'))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut volumes = 0;
    for (name, service) in compose_roles() {
        if let Some(runs_as) = service["user"].as_str() {
            assert_eq!(runs_as, user, "{name} runs as the image's user");
        }
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let spec = volume.as_str().unwrap();
            let parts: Vec<&str> = spec.split(':').collect();
            if parts[0].starts_with('.') || parts[0].starts_with('/') || parts.get(2) == Some(&"ro")
            {
                continue;
            }
            volumes += 1;
            assert!(
                owned.contains(parts[1]),
                "{name}: volume {} at {} is not created in the image owned by {uid} ({owned:?})",
                parts[0],
                parts[1]
            );
        }
    }
    assert!(volumes >= 7, "{volumes} writable named volumes");
}

/// The build context leaves out build output and local state (`COPY . .` would otherwise send
/// target/ and .stack/, keys included), but keeps what the build reads.
#[test]
fn the_docker_build_context_leaves_out_build_output_and_local_state() {
    let ignore = std::fs::read_to_string(root().join(".dockerignore"))
        .expect("a .dockerignore next to the build context");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for needed in ["target/", ".stack/", "cyberflag.toml", ".git/"] {
        assert!(
            patterns.contains(&needed),
            "{needed} is not ignored: {patterns:?}"
        );
    }
    for kept in [
        "crates",
        "deploy",
        "Cargo.lock",
        "Cargo.toml",
        "xtask",
        "tests",
    ] {
        assert!(
            !patterns.iter().any(|p| p.trim_end_matches('/') == kept),
            "{kept} is needed by the build"
        );
    }
}

/// Every healthcheck has a start period, and the roles' healthchecks ask their readiness.
#[test]
fn compose_healthchecks_have_a_start_period_and_roles_probe_readiness() {
    let compose = compose();
    for (name, service) in compose["services"].as_mapping().unwrap() {
        let Some(check) = service.get("healthcheck") else {
            continue;
        };
        assert!(
            check["start_period"].as_str().is_some(),
            "{name:?}: no start_period"
        );
        let test = serde_yaml::to_string(&check["test"]).unwrap();
        if service.get("build").is_some() && service["command"].as_sequence().is_some() {
            assert!(
                test.contains("/readyz") && test.contains(" 200 "),
                "{name:?}: {test}"
            );
        }
    }
}

/// The pipeline rules behave as their unit tests say, with promtool (Debian's, unpacked by
/// `cargo xtask tools`): ingest lag counted once per partition however many processes report
/// it, and the other alerts firing on what they describe.
#[test]
fn prometheus_rules_pass_their_promtool_tests() {
    let promtool = root().join(".stack/tools/promtool");
    assert!(
        promtool.is_file(),
        "{} is missing: run `cargo xtask tools` (cargo xtask test does)",
        promtool.display()
    );
    let dir = root().join("deploy/prometheus");
    for args in [
        vec!["check", "rules", "rules.yml"],
        vec!["test", "rules", "rules.test.yml"],
    ] {
        let output = std::process::Command::new(&promtool)
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// `/readyz` reflects the role's dependencies: the API is not ready before its database has
/// the schema and becomes ready after `cyberflag migrate`; ingest stops being ready when its
/// broker goes. `/healthz` stays up throughout.
#[test]
fn readiness_follows_the_schema_and_the_broker() {
    use std::time::Duration;

    use crate::support::{free_port, http, wait_until};

    let sandbox = crate::support::Sandbox::new("ready", 3);
    let api = sandbox.spawn_api(&[], std::process::Stdio::null());
    let get = |address: &str, path: &str| http(address, "GET", path, &[], b"");
    let mut last = String::new();
    wait_until(
        Duration::from_secs(20),
        Duration::from_millis(200),
        "a first report",
        || {
            last = get(&api.address, "/readyz").1;
            !last.contains("not checked yet")
        },
    );
    let (status, body) = get(&api.address, "/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("FAIL clickhouse") && body.contains("cyberflag migrate"),
        "{body}"
    );
    assert_eq!(get(&api.address, "/healthz").0, 200);
    sandbox.migrate();
    wait_until(
        Duration::from_secs(20),
        Duration::from_millis(250),
        "the API ready after migrate",
        || get(&api.address, "/readyz").0 == 200,
    );
    let (_, body) = get(&api.address, "/readyz");
    assert!(
        body.starts_with("ready\n") && body.contains("ok   clickhouse: schema version"),
        "{body}"
    );
    drop(api);

    // Ingest on a broker of its own, which then goes away.
    let port = free_port();
    let broker = crate::net::PrivateBroker::start(port, &format!("127.0.0.1:{port}"));
    let brokers = format!("127.0.0.1:{port}");
    crate::support::succeed(
        sandbox
            .command(&[("CYBERFLAG_KAFKA_BROKERS", brokers.as_str())])
            .args(["topics", "create"]),
    );
    let metrics = format!("127.0.0.1:{}", free_port());
    let ingest = sandbox.run_ingest(&[
        ("CYBERFLAG_KAFKA_BROKERS", brokers.as_str()),
        ("CYBERFLAG_METRICS_LISTEN", metrics.as_str()),
    ]);
    wait_until(
        Duration::from_secs(30),
        Duration::from_millis(250),
        "ingest ready",
        || std::net::TcpStream::connect(&metrics).is_ok() && get(&metrics, "/readyz").0 == 200,
    );
    let (_, body) = get(&metrics, "/readyz");
    assert!(
        body.contains("ok   broker: ") && body.contains("ok   clickhouse: "),
        "{body}"
    );
    broker.kill();
    wait_until(
        Duration::from_secs(30),
        Duration::from_millis(250),
        "ingest not ready without its broker",
        || get(&metrics, "/readyz").0 == 503,
    );
    let (_, body) = get(&metrics, "/readyz");
    assert!(body.contains("FAIL broker"), "{body}");
    assert_eq!(get(&metrics, "/healthz").0, 200, "alive all the same");
    drop(ingest);
    sandbox.drop_database();
}

/// Secret volumes are mounted private to root and the pod's group (mode 0440 or stricter), as
/// the roles require of keyrings, keys and the tokens file outside development: the default
/// (0644) would make ingest and the adapters refuse to start.
#[test]
fn kubernetes_secret_volumes_are_private_to_the_pod() {
    let mut checked = 0;
    for (file, document) in manifests() {
        let Some(spec) = pod_spec(&document) else {
            continue;
        };
        for volume in spec["volumes"].as_sequence().into_iter().flatten() {
            let secret = &volume["secret"];
            if secret.is_null() {
                continue;
            }
            checked += 1;
            let mode = secret["defaultMode"].as_u64().unwrap_or_else(|| {
                panic!(
                    "{file}: secret volume {:?} has no defaultMode (0644 by default)",
                    volume["name"]
                )
            });
            assert_eq!(
                mode & 0o137,
                0,
                "{file}: secret volume {:?} has mode {mode:o}; at most 0440",
                volume["name"]
            );
            assert!(
                !spec["securityContext"]["fsGroup"].is_null(),
                "{file}: a 0440 secret needs the pod's fsGroup to be readable"
            );
        }
    }
    assert!(checked >= 3, "found only {checked} secret volumes");
}
