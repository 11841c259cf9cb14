//! Operator mistakes with secrets, caught before they cost anything: the example keys and push
//! token shipped in `deploy/` used outside development, secret files other users can read,
//! credentials written into a URL.
//!
//! Pure functions: each role calls them at start-up and refuses to run (or, with
//! `security.development = true`, warns), and `cyberflag doctor` reports them.
//!
//! **Development** is known only from the explicit setting `security.development`
//! (`CYBERFLAG_SECURITY_DEVELOPMENT`), false by default: a developer's machine or a demonstration
//! stack running the shipped examples sets it; production never does, so a copied example secret
//! or a keyring left readable there stops the role instead of running with it.

use std::borrow::Cow;

/// The placeholder secrets shipped in `deploy/secrets.example/` and `deploy/keyring.example.toml`
/// (published in this repository, so known to everyone): what each is, and its value.
/// `tests/it/deploy.rs` checks that every secret shipped there is listed.
pub const EXAMPLE_SECRETS: &[(&str, &str)] = &[
    (
        "the example signing key of west-mercia",
        "00000000000000000000000000000000000000000000000000000000000000aa",
    ),
    (
        "the example signing key of avon-and-somerset",
        "00000000000000000000000000000000000000000000000000000000000000bb",
    ),
    (
        "the example signing key of metropolitan",
        "00000000000000000000000000000000000000000000000000000000000000cc",
    ),
    (
        "the example pseudonymisation key of avon-and-somerset",
        "6578616d706c652d70736575646f6e796d69736174696f6e2d6b65792d61766f",
    ),
    (
        "the example pseudonymisation key of metropolitan",
        "6578616d706c652d70736575646f6e796d69736174696f6e2d6b65792d6d6574",
    ),
    (
        "the example pseudonymisation key of west-mercia",
        "6578616d706c652d70736575646f6e796d69736174696f6e2d6b65792d776573",
    ),
    (
        "the example push token of metropolitan",
        "example-push-token-change-me",
    ),
];

/// Which shipped example `value` is, if it is one (surrounding space and hex case ignored).
pub fn example_secret(value: &str) -> Option<&'static str> {
    let value = value.trim();
    EXAMPLE_SECRETS
        .iter()
        .find(|(_, example)| example.eq_ignore_ascii_case(value))
        .map(|(what, _)| *what)
}

/// What is wrong with a secret file whose permission bits are `mode`, owned by user `owner`,
/// read by a process running as user `euid`; `None` when nothing is.
///
/// The rule PostgreSQL applies to its private key: no access at all for other users, no write
/// access for the group, and group read only when the file belongs to root while the process
/// does not run as root (a secret shared with the service's group, as Kubernetes mounts a Secret
/// with `defaultMode: 0440` and an `fsGroup`). So a key file is `0600` or `0400` for its owner,
/// or `0640`/`0440` owned by root.
pub fn mode_problem(mode: u32, owner: u32, euid: u32) -> Option<String> {
    let mode = mode & 0o777;
    let mut problems = Vec::new();
    if mode & 0o004 != 0 {
        problems.push("every user can read it");
    }
    if mode & 0o002 != 0 {
        problems.push("every user can write it");
    }
    if mode & 0o020 != 0 {
        problems.push("its group can write it");
    }
    if mode & 0o040 != 0 && !(owner == 0 && euid != 0) {
        problems.push("its group can read it");
    }
    if problems.is_empty() {
        return None;
    }
    Some(format!(
        "mode {mode:04o}: {} (make it 0600 for its owner, or 0640 owned by root for a service \
         group)",
        problems.join(", ")
    ))
}

/// What is wrong with the permissions of the secret file at `path`, if anything; an error when
/// its metadata cannot be read. Symbolic links are followed (Kubernetes mounts secrets as links
/// to the real file): the file that would be read is the one checked.
pub fn file_mode_problem(path: &std::path::Path) -> std::io::Result<Option<String>> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path)?;
    let euid = rustix::process::geteuid().as_raw();
    Ok(mode_problem(metadata.mode(), metadata.uid(), euid))
}

/// Query parameters whose value is a credential (ClickHouse reads `password` from the URL).
fn secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "key", "auth"]
        .iter()
        .any(|word| name.contains(word))
}

/// Whether `url` carries credentials: user information (`user:password@`) or a password-like
/// query parameter.
pub fn url_has_credentials(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(parsed) => {
            !parsed.username().is_empty()
                || parsed.password().is_some()
                || parsed
                    .query_pairs()
                    .any(|(name, _)| secret_parameter(&name))
        }
        // Not a URL the parser accepts: look for user information by hand.
        Err(_) => url
            .split_once("://")
            .map_or(url, |(_, rest)| rest)
            .split(['/', '?', '#'])
            .next()
            .is_some_and(|authority| authority.contains('@')),
    }
}

/// `url` fit to print: user information and password-like query parameters are replaced by
/// `<redacted>`. A URL that cannot be parsed and looks like it has credentials is replaced
/// whole.
pub fn redact_url(url: &str) -> Cow<'_, str> {
    if !url_has_credentials(url) {
        return Cow::Borrowed(url);
    }
    let Ok(mut parsed) = url::Url::parse(url) else {
        return Cow::Borrowed("<redacted URL>");
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Cannot fail for URLs that had user information.
        let _ = parsed.set_password(None);
        let _ = parsed.set_username("redacted");
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if secret_parameter(&name) {
                    "redacted".to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    Cow::Owned(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_examples_are_recognised() {
        assert_eq!(
            example_secret("example-push-token-change-me\n"),
            Some("the example push token of metropolitan")
        );
        assert!(
            example_secret("00000000000000000000000000000000000000000000000000000000000000AA")
                .is_some()
        );
        assert_eq!(example_secret(""), None);
        assert_eq!(example_secret(&"ab".repeat(32)), None);
    }

    #[test]
    fn secret_file_modes() {
        let mine = 1000;
        let cases: &[(u32, u32, u32, bool)] = &[
            // (mode, owner, process user, acceptable)
            (0o600, mine, mine, true),
            (0o400, mine, mine, true),
            (0o100600, mine, mine, true),
            (0o644, mine, mine, false),
            (0o640, mine, mine, false),
            (0o604, mine, mine, false),
            (0o620, mine, mine, false),
            (0o602, mine, mine, false),
            (0o666, mine, mine, false),
            // Root-owned and shared with the service's group (Kubernetes with fsGroup).
            (0o640, 0, mine, true),
            (0o440, 0, mine, true),
            (0o644, 0, mine, false),
            (0o660, 0, mine, false),
            // Root reading its own group-readable file: the group is not a service group.
            (0o640, 0, 0, false),
        ];
        for &(mode, owner, euid, ok) in cases {
            let problem = mode_problem(mode, owner, euid);
            assert_eq!(
                problem.is_none(),
                ok,
                "{mode:o} {owner} {euid}: {problem:?}"
            );
        }
        let message = mode_problem(0o644, mine, mine).unwrap();
        assert!(message.contains("0644") && message.contains("every user can read it"));
        assert!(message.contains("0600"), "says what to do: {message}");
    }

    #[test]
    fn credentials_in_urls_are_found_and_redacted() {
        let cases: &[(&str, bool, &str)] = &[
            ("http://127.0.0.1:8123", false, "http://127.0.0.1:8123"),
            (
                "https://clickhouse.example.org:8443/?database=x",
                false,
                "https://clickhouse.example.org:8443/?database=x",
            ),
            (
                "http://ingest:s3cret@clickhouse:8123",
                true,
                "http://redacted@clickhouse:8123/",
            ),
            (
                "http://ingest@clickhouse:8123/",
                true,
                "http://redacted@clickhouse:8123/",
            ),
            (
                "http://clickhouse:8123/?user=ingest&password=s3cret",
                true,
                "http://clickhouse:8123/?user=ingest&password=redacted",
            ),
            (
                "http://clickhouse:8123/?access_token=s3cret&x=1",
                true,
                "http://clickhouse:8123/?access_token=redacted&x=1",
            ),
            ("not a url with user:s3cret@host", true, "<redacted URL>"),
        ];
        for (url, secret, shown) in cases {
            assert_eq!(url_has_credentials(url), *secret, "{url}");
            assert_eq!(redact_url(url), *shown, "{url}");
            assert!(!redact_url(url).contains("s3cret"), "{url}");
        }
    }
}
