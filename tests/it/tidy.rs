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

#[test]
fn the_pure_crates_do_not_link_io_crates() {
    // The model (and the detectors) must stay free of I/O: check their manifests directly.
    for krate in ["model", "detect", "wire"] {
        let manifest =
            std::fs::read_to_string(root().join("crates").join(krate).join("Cargo.toml")).unwrap();
        for forbidden in ["rdkafka", "clickhouse", "tokio", "axum", "reqwest"] {
            assert!(
                !manifest
                    .lines()
                    .any(|line| line.trim_start().starts_with(forbidden)),
                "crates/{krate} must not depend on {forbidden}"
            );
        }
    }
}

#[test]
fn only_bus_links_rdkafka_and_only_warehouse_links_clickhouse() {
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let krate = dir.file_name().unwrap().to_string_lossy().into_owned();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let depends = |name: &str| {
            manifest
                .lines()
                .any(|line| line.trim_start().starts_with(&format!("{name}.")))
                || manifest
                    .lines()
                    .any(|line| line.trim_start().starts_with(&format!("{name} ")))
        };
        if krate != "bus" {
            assert!(
                !depends("rdkafka"),
                "crates/{krate} links rdkafka; go through `bus`"
            );
        }
        if krate != "warehouse" {
            assert!(
                !depends("clickhouse"),
                "crates/{krate} links clickhouse; go through `warehouse`"
            );
        }
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
