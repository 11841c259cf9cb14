//! Deployment files: `docker-compose.yml`, the README's configuration table, `.ci/run`.
//!
//! No Docker engine runs here, so the compose file is checked by parsing it: every variable it
//! sets for a cyberflag role must be one the binary knows.

use std::collections::BTreeSet;

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

#[test]
fn the_readme_documents_every_configuration_key() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for key in cyberflag::config::keys() {
        let row = format!("| `{}` | `{}` |", key.path, key.env);
        assert!(
            readme.contains(&row),
            "README.md lacks the row starting {row}"
        );
    }
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
