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

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The parsed file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringFile {
    /// Keys by police.uk force id.
    #[serde(default)]
    pub forces: BTreeMap<String, ForceKeys>,
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

impl KeyringFile {
    /// Reads the keyring named by `security.keyring`; an empty path gives an empty keyring.
    pub fn load(path: &str) -> anyhow::Result<Self> {
        if path.is_empty() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(Path::new(path))
            .with_context(|| format!("reading keyring {path} (security.keyring)"))?;
        let file: KeyringFile =
            toml::from_str(&text).with_context(|| format!("parsing keyring {path}"))?;
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
