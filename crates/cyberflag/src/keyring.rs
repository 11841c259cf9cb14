//! The keyring file: per force, the signing key (id and secret) and, in development only, the
//! pseudonymisation key.
//!
//! ```toml
//! [forces.west-mercia]
//! key_id = "west-mercia-dev"
//! signing_key = "<64 hex digits>"
//! pseudonymisation_key = "<64 hex digits>"   # development only: never leaves a real force
//!
//! # Keys being rotated out: still accepted by ingest, never used to sign.
//! [[forces.west-mercia.retired]]
//! key_id = "west-mercia-2025"
//! signing_key = "<64 hex digits>"
//! ```
//!
//! `ingest` builds its [`wire::Keyring`] from every force's signing key; an adapter whose
//! profile names no key sources takes its own force's keys from here.
//!
//! Whoever reads the file can sign records as any force in it, so it is refused at start-up
//! when other users can read it, or when it holds the example keys published in `deploy/`
//! (both only warned about with `security.development = true`; see [`cyberflag::secrets`]).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use cyberflag::config::SecurityConfig;
use cyberflag::secrets;
use serde::Deserialize;

/// The parsed file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringFile {
    /// Keys by police.uk force id.
    #[serde(default)]
    pub forces: BTreeMap<String, ForceKeys>,
    /// Problems tolerated because the configuration is a development one (example keys, a
    /// readable file): each role logs them, `cyberflag doctor` shows them.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// One force's keys (hex), as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForceKeys {
    /// Signing key id.
    pub key_id: String,
    /// Signing key.
    pub signing_key: String,
    /// Pseudonymisation key (development keyrings only).
    pub pseudonymisation_key: Option<String>,
    /// Earlier signing keys, accepted while messages signed with them may still arrive.
    #[serde(default)]
    pub retired: Vec<RetiredKey>,
}

/// A signing key being rotated out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetiredKey {
    /// Its key id.
    pub key_id: String,
    /// The key (hex).
    pub signing_key: String,
}

impl std::fmt::Debug for ForceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForceKeys")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Fails naming every problem, if there are any.
fn refuse(problems: Vec<String>) -> anyhow::Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    bail!(
        "{}\n(only a development setup may run like this: security.development = true)",
        problems.join("\n")
    )
}

/// Operator mistakes a development setup may make: refused (all named at once), or in
/// development logged as warnings.
pub fn tolerate(problems: Vec<String>, security: &SecurityConfig) -> anyhow::Result<()> {
    if !security.development {
        return refuse(problems);
    }
    for problem in problems {
        tracing::warn!("{problem} (tolerated: security.development = true)");
    }
    Ok(())
}

impl KeyringFile {
    /// Reads the keyring named by `security.keyring` (an empty path gives an empty keyring),
    /// refusing one other users can read or one holding a published example key, except in
    /// development, where each such problem is logged as a warning and kept in
    /// [`KeyringFile::warnings`].
    pub fn load(security: &SecurityConfig) -> anyhow::Result<Self> {
        let file = Self::inspect(security)?;
        for warning in &file.warnings {
            tracing::warn!(keyring = %security.keyring, "{warning}");
        }
        Ok(file)
    }

    /// [`KeyringFile::load`] without logging the warnings (`cyberflag doctor` shows them).
    pub fn inspect(security: &SecurityConfig) -> anyhow::Result<Self> {
        let path = security.keyring.as_str();
        if path.is_empty() {
            return Ok(Self::default());
        }
        let mut problems = Vec::new();
        match secrets::file_mode_problem(Path::new(path)) {
            Ok(Some(problem)) => problems.push(format!(
                "keyring {path} is not private, {problem}: whoever can read it can sign \
                 records as any of its forces"
            )),
            Ok(None) => {}
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("reading keyring {path} (security.keyring)"));
            }
        }
        let text = std::fs::read_to_string(Path::new(path))
            .with_context(|| format!("reading keyring {path} (security.keyring)"))?;
        let mut file: KeyringFile =
            toml::from_str(&text).with_context(|| format!("parsing keyring {path}"))?;
        for (force, keys) in &file.forces {
            let retired = keys.retired.iter().map(|r| r.signing_key.as_str());
            let examples = std::iter::once(keys.signing_key.as_str())
                .chain(retired)
                .chain(keys.pseudonymisation_key.as_deref())
                .filter_map(secrets::example_secret);
            for what in examples {
                problems.push(format!(
                    "keyring {path}: {force} has {what}, published with cyberflag and so known \
                     to everyone; generate a real key (`openssl rand -hex 32`)"
                ));
            }
        }
        if !security.development {
            refuse(problems)?;
        } else {
            file.warnings = problems;
        }
        for (force, keys) in &file.forces {
            model::ForceId::from_id(force)
                .with_context(|| format!("keyring {path}: unknown force {force:?}"))?;
            wire::Secret::from_hex(&keys.signing_key)
                .with_context(|| format!("keyring {path}: signing key of {force}"))?;
            for retired in &keys.retired {
                wire::Secret::from_hex(&retired.signing_key).with_context(|| {
                    format!("keyring {path}: retired key {} of {force}", retired.key_id)
                })?;
                if retired.key_id == keys.key_id {
                    bail!(
                        "keyring {path}: {force} lists key {} as current and retired",
                        keys.key_id
                    );
                }
            }
            if let Some(key) = &keys.pseudonymisation_key {
                wire::Secret::from_hex(key)
                    .with_context(|| format!("keyring {path}: pseudonymisation key of {force}"))?;
            }
        }
        Ok(file)
    }

    /// The national side's verification keyring.
    pub fn verification(&self) -> anyhow::Result<wire::Keyring> {
        let mut keyring = wire::Keyring::new();
        for (force, keys) in &self.forces {
            let secret = wire::Secret::from_hex(&keys.signing_key)?;
            keyring.insert(keys.key_id.clone(), force.clone(), secret);
            for retired in &keys.retired {
                let secret = wire::Secret::from_hex(&retired.signing_key)?;
                keyring.insert(retired.key_id.clone(), force.clone(), secret);
            }
        }
        if keyring.is_empty() {
            bail!("the keyring has no force keys; set security.keyring");
        }
        Ok(keyring)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn keyring(dir: &Path, text: &str, mode: u32) -> SecurityConfig {
        let path = dir.join("keyring.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        SecurityConfig {
            keyring: path.display().to_string(),
            development: false,
        }
    }

    const REAL: &str = "[forces.kent]\nkey_id = \"kent-1\"\n\
        signing_key = \"5f1d0c6e2a9b4478aa3c71e0d2b95f4c8e16a7d3b0c9e5f2a4d6b8c0e1f3a5c7\"\n";

    #[test]
    fn a_private_keyring_with_real_keys_loads() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyringFile::load(&keyring(dir.path(), REAL, 0o600)).unwrap();
        assert_eq!(file.forces.len(), 1);
        assert!(file.warnings.is_empty());
    }

    /// The development keyring used to be written 0644: refused, naming the fix; accepted with
    /// a warning in development.
    #[test]
    fn a_keyring_others_can_read_is_refused_outside_development() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660, 0o666] {
            let mut security = keyring(dir.path(), REAL, mode);
            let error = format!("{:#}", KeyringFile::load(&security).unwrap_err());
            assert!(error.contains("not private"), "{mode:o}: {error}");
            assert!(error.contains("0600"), "{mode:o}: {error}");
            assert!(error.contains("security.development"), "{error}");
            security.development = true;
            let file = KeyringFile::load(&security).unwrap();
            assert_eq!(file.warnings.len(), 1, "{mode:o}");
        }
    }

    /// The example keyring of deploy/ holds keys everyone knows: refused outside development.
    #[test]
    fn example_keys_are_refused_outside_development() {
        let dir = tempfile::tempdir().unwrap();
        let example = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/keyring.example.toml"),
        )
        .unwrap();
        let mut security = keyring(dir.path(), &example, 0o600);
        let error = format!("{:#}", KeyringFile::load(&security).unwrap_err());
        for force in ["west-mercia", "avon-and-somerset", "metropolitan"] {
            assert!(
                error.contains(&format!("{force} has the example signing key of {force}")),
                "{error}"
            );
        }
        security.development = true;
        let file = KeyringFile::load(&security).unwrap();
        assert_eq!(file.forces.len(), 3);
        assert_eq!(file.warnings.len(), 3);
        // A retired example key is refused as well.
        let retired = format!(
            "{REAL}[[forces.kent.retired]]\nkey_id = \"kent-0\"\nsigning_key = \"{}\"\n",
            secrets::EXAMPLE_SECRETS[0].1
        );
        assert!(KeyringFile::load(&keyring(dir.path(), &retired, 0o600)).is_err());
    }
}
