//! House rules checked as tests, so they hold on every run.

use std::path::Path;

use crate::support::root;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "tests"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 10);
    let missing: Vec<String> = files
        .iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` header: {missing:#?}"
    );
}

/// The workspace's resolved dependency graph (`cargo metadata`), normal dependencies only: for
/// each package, its direct dependencies' names.
fn dependency_graph() -> std::collections::BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let rustc = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc -vV names the host");
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: std::collections::BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            (
                package["id"].as_str().unwrap(),
                package["name"].as_str().unwrap(),
            )
        })
        .collect();
    metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            let name = names[node["id"].as_str().unwrap()].to_owned();
            let deps = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|kind| kind["kind"].is_null())
                })
                .map(|dep| names[dep["pkg"].as_str().unwrap()].to_owned())
                .collect();
            (name, deps)
        })
        .collect()
}

/// Every package `name` reaches through normal dependencies, itself excluded.
fn reachable(
    graph: &std::collections::BTreeMap<String, Vec<String>>,
    name: &str,
) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![name.to_owned()];
    while let Some(next) = stack.pop() {
        for dep in graph.get(&next).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                stack.push(dep.clone());
            }
        }
    }
    seen
}

/// The layering of ARCHITECTURE.md, checked on the resolved graph rather than on manifest lines:
/// each workspace crate may depend (normally, not as a dev-dependency) only on the crates listed
/// for it, so the data flows one way and a new crate must take its place here.
#[test]
fn workspace_crates_depend_only_along_the_data_flow() {
    let allowed: &[(&str, &[&str])] = &[
        ("model", &[]),
        ("wire", &[]),
        ("detect", &[]),
        ("bus", &[]),
        ("simulate", &["model"]),
        ("warehouse", &["model"]),
        ("adapters", &["bus", "model", "wire"]),
        ("ingest", &["bus", "model", "warehouse", "wire"]),
        ("api", &["model", "warehouse"]),
        (
            "cyberflag",
            &[
                "adapters",
                "api",
                "bus",
                "detect",
                "ingest",
                "model",
                "simulate",
                "warehouse",
                "wire",
            ],
        ),
        ("testkit", &[]),
        ("xtask", &["model", "testkit"]),
        ("integration-tests", &[]),
    ];
    let graph = dependency_graph();
    let members: Vec<String> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .chain(["xtask".to_owned(), "integration-tests".to_owned()])
        .collect();
    for member in &members {
        let Some((_, allowed)) = allowed.iter().find(|(name, _)| name == member) else {
            panic!(
                "crates/{member} has no place in the layering: add it to this table and to ARCHITECTURE.md"
            );
        };
        for dep in &graph[member] {
            if members.contains(dep) {
                assert!(
                    allowed.contains(&dep.as_str()),
                    "{member} depends on {dep}, which the layering does not allow"
                );
            }
        }
    }
}

/// `model`, `wire` and `detect` do no I/O: nothing they pull in, however indirectly, is an
/// async runtime, a network client or a server.
#[test]
fn the_pure_crates_reach_no_io_crate() {
    let graph = dependency_graph();
    for krate in ["model", "detect", "wire"] {
        let reached = reachable(&graph, krate);
        for forbidden in [
            "tokio",
            "mio",
            "rdkafka",
            "rdkafka-sys",
            "clickhouse",
            "axum",
            "hyper",
            "reqwest",
        ] {
            assert!(
                !reached.contains(forbidden),
                "crates/{krate} reaches {forbidden}; keep I/O at the edges"
            );
        }
    }
}

#[test]
fn only_bus_links_rdkafka_and_only_warehouse_links_clickhouse() {
    let graph = dependency_graph();
    for (krate, deps) in &graph {
        if deps.iter().any(|dep| dep == "rdkafka") {
            assert_eq!(krate, "bus", "{krate} links rdkafka; go through `bus`");
        }
        if deps.iter().any(|dep| dep == "clickhouse") {
            assert_eq!(
                krate, "warehouse",
                "{krate} links clickhouse; go through `warehouse`"
            );
        }
    }
}

/// Every crate is where a newcomer looks for it: the README's layout and ARCHITECTURE's code map.
#[test]
fn every_crate_is_in_the_readme_layout_and_the_code_map() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let layout = readme
        .split("## Layout")
        .nth(1)
        .and_then(|rest| rest.split("```").nth(1))
        .expect("README.md has a Layout section with a code block");
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            layout
                .lines()
                .any(|line| line.starts_with(&format!("crates/{name} "))),
            "README.md's layout lacks crates/{name}"
        );
        assert!(
            architecture.contains(&format!("### `crates/{name}`")),
            "ARCHITECTURE.md's code map lacks crates/{name}"
        );
    }
}

/// A user who clones the project has no folder beside it: nothing tracked may read one.
#[test]
fn nothing_in_the_repository_reads_outside_it() {
    let output = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root())
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git ls-files failed");
    // Built from parts so that this file does not match itself.
    let needles = [["..", "/shared"].concat(), ["shared", "/data"].concat()];
    let mut readers = Vec::new();
    for path in output.stdout.split(|byte| *byte == 0) {
        let path = String::from_utf8_lossy(path);
        if path.is_empty() || path.starts_with("tests/data/") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root().join(path.as_ref())) else {
            continue; // binary or removed in the work tree
        };
        for needle in &needles {
            if let Some(line) = text.lines().position(|line| line.contains(needle.as_str())) {
                readers.push(format!("{path}:{}", line + 1));
            }
        }
    }
    assert!(
        readers.is_empty(),
        "these refer to a folder outside the repository; copy the data into tests/data: {readers:#?}"
    );
}

/// Nothing tracked is also ignored: a tracked file that `.gitignore` names (local state such as
/// a tokens file) shows as changed after every demo, and may carry secrets into a commit.
#[test]
fn no_tracked_file_is_ignored() {
    let output = std::process::Command::new("git")
        .args(["ls-files", "--cached", "--ignored", "--exclude-standard"])
        .current_dir(root())
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git ls-files failed");
    let tracked_and_ignored = String::from_utf8_lossy(&output.stdout);
    assert!(
        tracked_and_ignored.trim().is_empty(),
        "tracked although .gitignore ignores them (git rm --cached them): {tracked_and_ignored}"
    );
}
