//! The binary's command line as a user meets it.

use crate::support::{cyberflag, succeed};

/// Every command path of the binary's definition, e.g. `["alerts", "scan"]`, leaves last.
fn command_paths(command: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    for sub in command.get_subcommands() {
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_owned());
        out.push(path.clone());
        command_paths(sub, &path, out);
    }
}

/// Every subcommand, at every level, as a user meets it: listed with a one-line description in
/// its parent's `--help`, and its own `--help` works and explains it. The list comes from the
/// binary's own definition, so a new subcommand is checked without anyone remembering to.
#[test]
fn help_lists_and_explains_every_subcommand() {
    use clap::CommandFactory;
    let definition = cyberflag::cli::Cli::command();
    let mut paths = Vec::new();
    command_paths(&definition, &[], &mut paths);
    assert!(paths.len() > 20, "found only {paths:?}");
    for path in paths
        .iter()
        .filter(|path| path.last().is_some_and(|name| name != "help"))
    {
        let (name, parent) = path.split_last().unwrap();
        let parent_help = succeed(cyberflag(&[]).args(parent).arg("--help"));
        let line = parent_help
            .lines()
            .find(|line| line.split_whitespace().next() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("`{name}` missing from `{parent:?} --help`:\n{parent_help}"));
        let description = line.trim_start()[name.len()..].trim();
        assert!(
            !description.is_empty(),
            "`{path:?}` has no description:\n{parent_help}"
        );
        let help = succeed(cyberflag(&[]).args(path).arg("--help"));
        let first = help.lines().next().unwrap_or_default();
        assert!(first.len() > 10, "`{path:?} --help` starts with {first:?}");
        assert!(
            help.contains("Usage: cyberflag"),
            "`{path:?} --help` shows no usage:\n{help}"
        );
    }
}

#[test]
fn an_unknown_environment_key_fails_fast_naming_it() {
    let output = cyberflag(&[("CYBERFLAG_KAFKA_BROKER", "x:1")])
        .args(["config", "show"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("CYBERFLAG_KAFKA_BROKER,"), "{stderr}");
    assert!(
        stderr.contains("did you mean CYBERFLAG_KAFKA_BROKERS"),
        "{stderr}"
    );
}

#[test]
fn config_show_reflects_the_environment_and_hides_secrets() {
    let shown = succeed(
        cyberflag(&[
            ("CYBERFLAG_KAFKA_RAW_TOPIC", "custom.raw"),
            ("CYBERFLAG_CLICKHOUSE_PASSWORD", "s3cret-value"),
        ])
        .args(["config", "show"]),
    );
    assert!(shown.contains("raw_topic = \"custom.raw\""), "{shown}");
    assert!(!shown.contains("s3cret-value"), "{shown}");
}

#[test]
fn config_keys_lists_every_key_with_its_variable() {
    let listed = succeed(cyberflag(&[]).args(["config", "keys"]));
    for key in cyberflag::config::keys() {
        assert!(
            listed.contains(&key.env),
            "{} missing from `config keys`",
            key.env
        );
    }
}

#[test]
fn a_server_that_is_down_gives_an_actionable_error() {
    let output = cyberflag(&[("CYBERFLAG_CLICKHOUSE_URL", "http://127.0.0.1:1")])
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("http://127.0.0.1:1"),
        "the error names the server: {stderr}"
    );
}
