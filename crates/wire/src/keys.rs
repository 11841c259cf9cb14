//! Keys: pseudonymising crime references and signing payloads, both HMAC-SHA-256.
//!
//! Each force holds two secrets: a **pseudonymisation key**, which never leaves the force (it
//! turns the force's crime reference into the national reference), and a **signing key**,
//! shared with the national side under a key id, which proves a message came from that force.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Header naming the payload schema ([`crate::SCHEMA`]).
pub const HEADER_SCHEMA: &str = "cyberflag-schema";
/// Header naming the signing key.
pub const HEADER_KEY_ID: &str = "cyberflag-key-id";
/// Header holding the hex HMAC-SHA-256 of the payload under that key.
pub const HEADER_SIGNATURE: &str = "cyberflag-signature";

/// Shortest accepted key: 128 bits.
const MIN_KEY_BYTES: usize = 16;

/// Key material. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why key material was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not hexadecimal (the value itself is never repeated in the message).
    #[error("key is not hexadecimal")]
    NotHex,
    /// Too short to be a key.
    #[error("key is {0} bytes; at least {MIN_KEY_BYTES} bytes (32 hex digits) are required")]
    TooShort(usize),
}

impl Secret {
    /// Parses hex (surrounding whitespace, as in a secret file, is ignored).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(text.trim()).map_err(|_| KeyError::NotHex)?;
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The key as hex (for writing development key files only).
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// A new key from caller-supplied random bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes.to_vec())
    }

    fn mac(&self) -> HmacSha256 {
        #[expect(clippy::unwrap_used, reason = "HMAC accepts a key of any length")]
        let mac = HmacSha256::new_from_slice(&self.0).unwrap();
        mac
    }
}

/// Turns a force's crime reference into the national pseudonym.
///
/// The pseudonym is `hex(HMAC-SHA-256(key, force || 0x1f || reference))`: stable for a given
/// key, so every version of a crime gets the same pseudonym, and irreversible without the key,
/// which never leaves the force.
#[derive(Debug, Clone)]
pub struct Pseudonymiser {
    key: Secret,
    force: String,
}

impl Pseudonymiser {
    /// A pseudonymiser for `force` with its key.
    pub fn new(force: impl Into<String>, key: Secret) -> Self {
        Self {
            key,
            force: force.into(),
        }
    }

    /// The pseudonym of `reference` (surrounding whitespace ignored; case kept, since force
    /// references are case-sensitive in some systems).
    pub fn pseudonym(&self, reference: &str) -> String {
        let mut mac = self.key.mac();
        mac.update(self.force.as_bytes());
        mac.update(&[0x1f]);
        mac.update(reference.trim().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Signs payloads for one force.
#[derive(Debug, Clone)]
pub struct Signer {
    key_id: String,
    key: Secret,
}

impl Signer {
    /// A signer using `key` under `key_id`.
    pub fn new(key_id: impl Into<String>, key: Secret) -> Self {
        Self {
            key_id: key_id.into(),
            key,
        }
    }

    /// The key id sent in [`HEADER_KEY_ID`].
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The hex signature sent in [`HEADER_SIGNATURE`].
    pub fn sign(&self, payload: &[u8]) -> String {
        let mut mac = self.key.mac();
        mac.update(payload);
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Why a message's provenance was refused. `code()` is the dead-letter reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureReject {
    /// No key id or no signature header, or a key id we do not know, or a signature that does
    /// not match the payload.
    #[error("bad signature: {0}")]
    BadSignature(&'static str),
    /// The signature is valid, but for another force's key.
    #[error("force mismatch: payload claims {claimed} but key {key_id} belongs to {owner}")]
    ForceMismatch {
        /// Force named in the payload.
        claimed: String,
        /// The key that signed it.
        key_id: String,
        /// The force that key belongs to.
        owner: String,
    },
}

impl SignatureReject {
    /// Stable dead-letter reason.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadSignature(_) => "bad-signature",
            Self::ForceMismatch { .. } => "force-mismatch",
        }
    }
}

/// The national side's registry of force signing keys.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: HashMap<String, (String, Secret)>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `key` under `key_id` for `force`. Several keys per force may be live at once
    /// (key rotation).
    pub fn insert(&mut self, key_id: impl Into<String>, force: impl Into<String>, key: Secret) {
        self.keys.insert(key_id.into(), (force.into(), key));
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks that `signature` is the HMAC of `payload` under the key `key_id`, and that the
    /// key belongs to `claimed_force`. Comparison is constant-time.
    pub fn verify(
        &self,
        key_id: Option<&[u8]>,
        signature: Option<&[u8]>,
        payload: &[u8],
        claimed_force: &str,
    ) -> Result<(), SignatureReject> {
        let key_id = key_id
            .and_then(|id| std::str::from_utf8(id).ok())
            .ok_or(SignatureReject::BadSignature("missing key id"))?;
        let signature = signature
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| hex::decode(s).ok())
            .ok_or(SignatureReject::BadSignature(
                "missing or malformed signature",
            ))?;
        let (owner, key) = self
            .keys
            .get(key_id)
            .ok_or(SignatureReject::BadSignature("unknown key id"))?;
        let mut mac = key.mac();
        mac.update(payload);
        mac.verify_slice(&signature)
            .map_err(|_| SignatureReject::BadSignature("signature does not match payload"))?;
        if owner != claimed_force {
            return Err(SignatureReject::ForceMismatch {
                claimed: claimed_force.to_owned(),
                key_id: key_id.to_owned(),
                owner: owner.clone(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Secret {
        Secret::from_bytes([byte; 32])
    }

    #[test]
    fn pseudonyms_are_stable_keyed_and_force_scoped() {
        let p = Pseudonymiser::new("west-mercia", key(1));
        assert_eq!(p.pseudonym("22/1234/19"), p.pseudonym(" 22/1234/19 "));
        assert_eq!(p.pseudonym("22/1234/19").len(), 64);
        assert_ne!(p.pseudonym("22/1234/19"), p.pseudonym("22/1235/19"));
        assert_ne!(
            p.pseudonym("22/1234/19"),
            Pseudonymiser::new("west-mercia", key(2)).pseudonym("22/1234/19")
        );
        assert_ne!(
            p.pseudonym("22/1234/19"),
            Pseudonymiser::new("kent", key(1)).pseudonym("22/1234/19")
        );
        assert!(!p.pseudonym("22/1234/19").contains("1234"));
    }

    #[test]
    fn signatures_verify_and_bind_the_force() {
        let signer = Signer::new("wm-1", key(7));
        let mut keyring = Keyring::new();
        keyring.insert("wm-1", "west-mercia", key(7));
        keyring.insert("kent-1", "kent", key(8));
        let payload = br#"{"force":"west-mercia"}"#;
        let signature = signer.sign(payload);
        let ok = keyring.verify(
            Some(b"wm-1"),
            Some(signature.as_bytes()),
            payload,
            "west-mercia",
        );
        assert_eq!(ok, Ok(()));

        let tampered = br#"{"force":"west-mercib"}"#;
        let reject = keyring
            .verify(
                Some(b"wm-1"),
                Some(signature.as_bytes()),
                tampered,
                "west-mercia",
            )
            .unwrap_err();
        assert_eq!(reject.code(), "bad-signature");

        // West Mercia's key signing a payload that claims to be Kent's.
        let reject = keyring
            .verify(Some(b"wm-1"), Some(signature.as_bytes()), payload, "kent")
            .unwrap_err();
        assert_eq!(reject.code(), "force-mismatch");

        for (id, sig) in [
            (None, Some(signature.as_bytes())),
            (Some(&b"wm-1"[..]), None),
            (Some(&b"nope"[..]), Some(signature.as_bytes())),
            (Some(&b"wm-1"[..]), Some(&b"zz"[..])),
        ] {
            let reject = keyring.verify(id, sig, payload, "west-mercia").unwrap_err();
            assert_eq!(reject.code(), "bad-signature");
        }
    }

    #[test]
    fn secrets_are_validated_and_never_printed() {
        assert_eq!(Secret::from_hex("xyz"), Err(KeyError::NotHex));
        assert_eq!(Secret::from_hex("abcd"), Err(KeyError::TooShort(2)));
        let secret = Secret::from_hex(&format!("{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(secret.to_hex(), "ab".repeat(32));
        assert!(!format!("{secret:?}").contains("ab"));
    }
}
