//! Operations: replaying the dead-letter topic after a fix.

use crate::support::{Sandbox, assert_counts, police_uk_expected, police_uk_files, succeed};

/// City of London's adapter signs with a key the ingest keyring does not know yet (a new key
/// issued to the force): every record is dead-lettered. Once the keyring carries the key,
/// `cyberflag dlq replay` sends them back and the counts become exact.
#[test]
fn dlq_replay_reingests_fixed_records_and_the_counts_become_exact() {
    let sandbox = Sandbox::new("replay", 3);
    sandbox.migrate();
    let files = police_uk_files("city-of-london");
    let keyring_path = sandbox.dir.path().join("keyring.toml");
    let original = std::fs::read_to_string(&keyring_path).unwrap();
    // The force's new key, known to its adapter only.
    let new_key = format!(
        "[forces.city-of-london]\nkey_id = \"city-of-london-2027\"\nsigning_key = \"{}\"\npseudonymisation_key = \"{}\"\n",
        "ab".repeat(32),
        "cd".repeat(32)
    );
    let adapter_keyring = sandbox.dir.path().join("adapter-keyring.toml");
    std::fs::write(&adapter_keyring, &new_key).unwrap();
    let mut command = sandbox.command(&[(
        "CYBERFLAG_SECURITY_KEYRING",
        adapter_keyring.to_str().unwrap(),
    )]);
    command
        .args([
            "adapter",
            "--force",
            "city-of-london",
            "--dialect",
            "police-uk-street",
        ])
        .args(&files);
    crate::support::succeed_stderr(&mut command);
    let first = sandbox.ingest_until_idle(&[]);
    assert_eq!(first.stored, 0, "{first:?}");
    assert_eq!(first.dead_lettered, first.received);

    let listed = succeed(
        sandbox
            .command(&[])
            .args(["dlq", "list", "--force", "city-of-london"]),
    );
    let rows: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(rows.len() as u64, first.dead_lettered);
    let reason = rows[0].split('\t').nth(1).unwrap().to_owned();
    assert!(
        rows.iter()
            .all(|r| r.split('\t').nth(1) == Some(reason.as_str())),
        "{listed}"
    );
    let none = succeed(
        sandbox
            .command(&[])
            .args(["dlq", "list", "--reason", "no-such-reason"]),
    );
    assert_eq!(none.lines().count(), 1, "only the header: {none}");

    // The fix: the ingest keyring learns the force's new key.
    let updated: String = original
        .split("[forces.")
        .filter(|section| !section.is_empty() && !section.starts_with("city-of-london]"))
        .map(|section| format!("[forces.{section}"))
        .collect::<String>()
        + &new_key;
    std::fs::write(&keyring_path, updated).unwrap();
    succeed(sandbox.command(&[]).args([
        "dlq",
        "replay",
        "--reason",
        &reason,
        "--force",
        "city-of-london",
    ]));
    let second = sandbox.ingest_until_idle(&[]);
    assert_eq!(second.dead_lettered, 0, "{second:?}");
    let expected = police_uk_expected(&files);
    let actual = sandbox.stats(&["--by", "force,month,category"]);
    assert_counts(&actual, &expected, "after replay");

    // Replaying again changes nothing: every version is stored once.
    succeed(
        sandbox
            .command(&[])
            .args(["dlq", "replay", "--reason", &reason]),
    );
    sandbox.ingest_until_idle(&[]);
    assert_counts(
        &sandbox.stats(&["--by", "force,month,category"]),
        &expected,
        "after a second replay",
    );
    sandbox.drop_database();
}
