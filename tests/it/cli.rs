//! The binary's command line as a user meets it.

use crate::support::{cyberflag, succeed};

#[test]
fn help_lists_each_subcommand_with_a_one_line_description() {
    let help = succeed(cyberflag(&[]).arg("--help"));
    for subcommand in ["migrate", "topics", "config"] {
        let line = help
            .lines()
            .find(|line| line.trim_start().starts_with(subcommand))
            .unwrap_or_else(|| panic!("`{subcommand}` missing from --help:\n{help}"));
        let description = line.trim_start()[subcommand.len()..].trim();
        assert!(
            !description.is_empty(),
            "`{subcommand}` has no description:\n{help}"
        );
    }
    for args in [
        &["migrate", "--help"][..],
        &["topics", "create", "--help"],
        &["config", "keys", "--help"],
    ] {
        let help = succeed(cyberflag(&[]).args(args));
        let first = help.lines().next().unwrap_or_default();
        assert!(first.len() > 10, "{args:?} --help starts with {first:?}");
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
