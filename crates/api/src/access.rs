//! Who may see what: roles, bearer tokens and the token file.
//!
//! A token is 32 random bytes, shown once as `cft_<64 hex digits>` when created. Only its
//! SHA-256 digest is stored, in a TOML file that `cyberflag token create|list|revoke` edits and
//! the API re-reads whenever its content changes (compared by digest, so a change within the
//! file system's timestamp granularity is never missed). A file that cannot be read or parsed
//! makes the API refuse every token until it parses again: a revocation must never be lost by
//! keeping an older set in force. A token never appears in logs or errors; lookups compare
//! digests, so the time taken says nothing about the secret.
//!
//! The same file holds the disclosure key ([`DisclosureKey`]), created with the first token:
//! every API process serving these tokens must use the same key, and it must never change.

use std::path::{Path, PathBuf};

use model::ForceId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::disclosure::DisclosureKey;

/// What a token may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Exact counts everywhere (Home Office, NPCC, CEOP analysts).
    National,
    /// Exact for its own force; every other figure disclosure-controlled.
    Force(ForceId),
    /// Disclosure-controlled only, and no force-level figure finer than a month.
    Public,
}

impl Role {
    /// Parses `national`, `public` or `force:<police.uk id>`.
    pub fn parse(text: &str) -> Result<Role, String> {
        match text.trim() {
            "national" => Ok(Role::National),
            "public" => Ok(Role::Public),
            other => match other.strip_prefix("force:") {
                Some(id) => ForceId::from_id(id)
                    .map(Role::Force)
                    .map_err(|e| format!("role {other:?}: {e}")),
                None => Err(format!(
                    "unknown role {other:?}: expected national, public or force:<police.uk id>"
                )),
            },
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::National => f.write_str("national"),
            Role::Public => f.write_str("public"),
            Role::Force(force) => write!(f, "force:{}", force.as_str()),
        }
    }
}

/// One stored token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// Who holds it (for people, not for checks).
    pub name: String,
    /// The role, as [`Role::parse`] reads it.
    pub role: String,
    /// `sha256:<hex>` of the token.
    pub hash: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Revoked tokens stay listed but open nothing.
    #[serde(default)]
    pub revoked: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    /// The cell-key method's secret, 64 hex digits (see [`crate::disclosure`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disclosure_key: Option<String>,
    #[serde(default)]
    tokens: Vec<TokenEntry>,
}

impl TokenFile {
    /// Adds a disclosure key if the file has none (a key, once there, is never replaced).
    fn ensure_key(&mut self) -> Result<(), TokenError> {
        if self.disclosure_key.is_none() {
            self.disclosure_key = Some(
                DisclosureKey::generate()
                    .map_err(TokenError::Random)?
                    .to_hex(),
            );
        }
        Ok(())
    }
}

/// Why the token file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a token file.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No such token name.
    #[error("no token named {0:?}")]
    UnknownName(String),
    /// The name is taken.
    #[error("a token named {0:?} exists already; choose another name or revoke it")]
    DuplicateName(String),
    /// The role is not a role.
    #[error("{0}")]
    Role(String),
    /// The operating system gave no randomness.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// `sha256:<hex>` of a token.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn parse(path: &Path, bytes: &[u8]) -> Result<TokenFile, TokenError> {
    let invalid = |message: String| TokenError::Invalid {
        path: path.to_owned(),
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| invalid(e.to_string()))?;
    // The parser's own rendering quotes the offending line, which may hold the disclosure key:
    // report the line number and the message only.
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
        invalid(match line {
            Some(line) => format!("line {line}: {}", e.message()),
            None => e.message().to_owned(),
        })
    })
}

/// The file's bytes, `None` when it does not exist.
fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, TokenError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TokenError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn read(path: &Path) -> Result<TokenFile, TokenError> {
    match read_bytes(path)? {
        Some(bytes) => parse(path, &bytes),
        None => Ok(TokenFile::default()),
    }
}

fn write(path: &Path, file: &TokenFile) -> Result<(), TokenError> {
    let io = |source| TokenError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let text = toml::to_string_pretty(file).map_err(|e| TokenError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    // Write a sibling and rename: the API never reads half a file.
    let temporary = path.with_extension("toml.tmp");
    std::fs::write(&temporary, text).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    std::fs::rename(&temporary, path).map_err(io)
}

/// Creates a token for `role` named `name`; returns the token (shown once) and its entry.
pub fn create_token(
    path: &Path,
    role: &str,
    name: &str,
) -> Result<(String, TokenEntry), TokenError> {
    let role = Role::parse(role).map_err(TokenError::Role)?;
    let mut file = read(path)?;
    if file.tokens.iter().any(|t| t.name == name) {
        return Err(TokenError::DuplicateName(name.to_owned()));
    }
    file.ensure_key()?;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| TokenError::Random(e.to_string()))?;
    let token = format!(
        "cft_{}",
        secret
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let entry = TokenEntry {
        name: name.to_owned(),
        role: role.to_string(),
        hash: hash_token(&token),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        revoked: false,
    };
    file.tokens.push(entry.clone());
    write(path, &file)?;
    Ok((token, entry))
}

/// Every stored token (digests only).
pub fn list_tokens(path: &Path) -> Result<Vec<TokenEntry>, TokenError> {
    Ok(read(path)?.tokens)
}

/// Revokes the token named `name`.
pub fn revoke_token(path: &Path, name: &str) -> Result<(), TokenError> {
    let mut file = read(path)?;
    let entry = file
        .tokens
        .iter_mut()
        .find(|t| t.name == name)
        .ok_or_else(|| TokenError::UnknownName(name.to_owned()))?;
    entry.revoked = true;
    file.ensure_key()?;
    write(path, &file)
}

/// A token that was accepted: its role, its name and digest, and the disclosure key of the file
/// it was found in.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// What it may see.
    pub role: Role,
    /// Its name (for logs; never the secret).
    pub name: String,
    /// `sha256:<hex>` of the token (the key of its query budget).
    pub digest: String,
    /// The disclosure key (present whenever the role is not `national`).
    pub key: Option<DisclosureKey>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Not in the file, or revoked.
    #[error("the token is unknown or revoked")]
    Unknown,
    /// The file cannot be read or parsed: every token is refused until it can.
    #[error(
        "the API's token file is unusable, so every token is refused until an operator fixes it"
    )]
    FileUnusable,
}

#[derive(Debug)]
struct Accepted {
    tokens: Vec<(String, Role, String)>,
    key: Option<DisclosureKey>,
}

/// The file as last read: the digest of its bytes (`None`: missing) and what it gave.
#[derive(Debug)]
struct Loaded {
    digest: Option<[u8; 32]>,
    outcome: Result<Accepted, String>,
}

/// The tokens the API accepts, re-read whenever the file's content changes.
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    state: std::sync::RwLock<Option<Loaded>>,
}

impl TokenStore {
    /// Loads `path` (a missing file means no tokens: every request is refused); a file that
    /// cannot be used is an error here, so the API does not start with it.
    pub fn open(path: &Path) -> Result<TokenStore, TokenError> {
        let store = TokenStore {
            path: path.to_owned(),
            state: std::sync::RwLock::new(None),
        };
        let bytes = read_bytes(path)?;
        let accepted = store.accept(bytes.as_deref())?;
        if let Ok(mut state) = store.state.write() {
            *state = Some(Loaded {
                digest: bytes.as_deref().map(digest),
                outcome: Ok(accepted),
            });
        }
        Ok(store)
    }

    /// What a file's bytes allow (`None`: no file, no tokens).
    fn accept(&self, bytes: Option<&[u8]>) -> Result<Accepted, TokenError> {
        let Some(bytes) = bytes else {
            return Ok(Accepted {
                tokens: Vec::new(),
                key: None,
            });
        };
        let file = parse(&self.path, bytes)?;
        let invalid = |message: String| TokenError::Invalid {
            path: self.path.clone(),
            message,
        };
        let key = file
            .disclosure_key
            .as_deref()
            .map(DisclosureKey::from_hex)
            .transpose()
            .map_err(|e| invalid(format!("disclosure_key: {e}")))?;
        let mut tokens = Vec::new();
        for entry in file.tokens.into_iter().filter(|t| !t.revoked) {
            let role = Role::parse(&entry.role).map_err(invalid)?;
            if role != Role::National && key.is_none() {
                return Err(invalid(format!(
                    "token {:?} ({role}) sees disclosure-controlled figures, but the file has no \
                     disclosure_key; `cyberflag token create` or `cyberflag token revoke` adds one",
                    entry.name
                )));
            }
            tokens.push((entry.hash, role, entry.name));
        }
        Ok(Accepted { tokens, key })
    }

    /// Re-reads the file if its content changed since the last read.
    fn reload(&self) {
        let bytes = match read_bytes(&self.path) {
            Ok(bytes) => bytes,
            Err(error) => {
                self.fail(None, error.to_string());
                return;
            }
        };
        let new_digest = bytes.as_deref().map(digest);
        if let Ok(state) = self.state.read()
            && let Some(loaded) = state.as_ref()
            && loaded.digest == new_digest
        {
            return;
        }
        match self.accept(bytes.as_deref()) {
            Ok(accepted) => {
                tracing::info!(
                    tokens = accepted.tokens.len(),
                    path = %self.path.display(),
                    "token file loaded"
                );
                if let Ok(mut state) = self.state.write() {
                    *state = Some(Loaded {
                        digest: new_digest,
                        outcome: Ok(accepted),
                    });
                }
            }
            Err(error) => self.fail(new_digest, error.to_string()),
        }
    }

    /// Records an unusable file: every token is refused until it changes and parses.
    fn fail(&self, digest: Option<[u8; 32]>, error: String) {
        let Ok(mut state) = self.state.write() else {
            return;
        };
        let unchanged = state
            .as_ref()
            .is_some_and(|l| l.digest == digest && l.outcome.is_err());
        if !unchanged {
            tracing::error!(
                %error,
                "token file unusable; refusing every token until it can be read and parsed"
            );
        }
        *state = Some(Loaded {
            digest,
            outcome: Err(error),
        });
    }

    /// The viewer holding a presented token, if it is valid and not revoked.
    pub fn authenticate(&self, token: &str) -> Result<Viewer, Denied> {
        self.reload();
        let digest = hash_token(token);
        let state = self.state.read().map_err(|_| Denied::FileUnusable)?;
        let accepted = match state.as_ref().map(|l| &l.outcome) {
            Some(Ok(accepted)) => accepted,
            _ => return Err(Denied::FileUnusable),
        };
        accepted
            .tokens
            .iter()
            .find(|(hash, ..)| *hash == digest)
            .map(|(hash, role, name)| Viewer {
                role: *role,
                name: name.clone(),
                digest: hash.clone(),
                key: accepted.key.clone(),
            })
            .ok_or(Denied::Unknown)
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print() {
        for text in ["national", "public", "force:west-mercia"] {
            assert_eq!(Role::parse(text).unwrap().to_string(), text);
        }
        assert!(Role::parse("force:atlantis").is_err());
        assert!(
            Role::parse("admin")
                .unwrap_err()
                .contains("expected national")
        );
    }

    #[test]
    fn tokens_are_created_listed_checked_and_revoked() {
        let dir = std::env::temp_dir().join(format!("cyberflag-tokens-{}", std::process::id()));
        let path = dir.join("tokens.toml");
        let (token, entry) = create_token(&path, "force:kent", "kent-analyst").unwrap();
        assert!(token.starts_with("cft_") && token.len() == 68);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&token), "only the digest is stored");
        assert!(text.contains(&entry.hash));
        assert!(matches!(
            create_token(&path, "public", "kent-analyst"),
            Err(TokenError::DuplicateName(_))
        ));
        assert!(
            text.contains("disclosure_key = "),
            "the first token creates the key"
        );
        let store = TokenStore::open(&path).unwrap();
        let viewer = store.authenticate(&token).unwrap();
        assert_eq!(
            (viewer.role.to_string(), viewer.name.as_str()),
            ("force:kent".into(), "kent-analyst")
        );
        assert_eq!(viewer.digest, entry.hash);
        let key = viewer.key.expect("a key for a controlled role");
        assert_eq!(store.authenticate("cft_00").unwrap_err(), Denied::Unknown);
        // Revocation is seen at once, without a restart; the key never changes.
        revoke_token(&path, "kent-analyst").unwrap();
        assert_eq!(store.authenticate(&token).unwrap_err(), Denied::Unknown);
        assert_eq!(list_tokens(&path).unwrap().len(), 1);
        let (other, _) = create_token(&path, "public", "press").unwrap();
        assert_eq!(store.authenticate(&other).unwrap().key, Some(key));
        std::fs::remove_dir_all(dir).ok();
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cyberflag-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("tokens.toml")
    }

    #[test]
    fn an_unparsable_file_refuses_every_token_until_it_parses_again() {
        let path = scratch("broken");
        let (token, _) = create_token(&path, "national", "analyst").unwrap();
        let store = TokenStore::open(&path).unwrap();
        assert!(store.authenticate(&token).is_ok());
        let good = std::fs::read(&path).unwrap();
        // A half-edited file (say, a revocation typed by hand) must not leave the old set in
        // force.
        std::fs::write(&path, b"[[tokens]]\nname = \"analyst\"\nrevoked = tru").unwrap();
        assert_eq!(
            store.authenticate(&token).unwrap_err(),
            Denied::FileUnusable
        );
        assert_eq!(
            store.authenticate(&token).unwrap_err(),
            Denied::FileUnusable
        );
        std::fs::write(&path, b"\xff\xfe not text").unwrap();
        assert_eq!(
            store.authenticate(&token).unwrap_err(),
            Denied::FileUnusable
        );
        std::fs::write(&path, &good).unwrap();
        assert!(store.authenticate(&token).is_ok());
        // Unusable at start-up: the API does not start.
        std::fs::write(&path, b"tokens = 3").unwrap();
        assert!(TokenStore::open(&path).is_err());
        // An error never quotes the file: it may hold the disclosure key.
        let text = String::from_utf8(good).unwrap();
        let key_line = text
            .lines()
            .find(|l| l.starts_with("disclosure_key"))
            .unwrap();
        std::fs::write(&path, format!("{key_line} oops\n")).unwrap();
        let error = TokenStore::open(&path).unwrap_err().to_string();
        let key = key_line.split('"').nth(1).unwrap();
        assert!(error.contains("line 1") && !error.contains(key), "{error}");
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn a_change_within_the_same_modification_time_is_seen() {
        let path = scratch("mtime");
        let (token, _) = create_token(&path, "public", "press").unwrap();
        let store = TokenStore::open(&path).unwrap();
        assert!(store.authenticate(&token).is_ok());
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        revoke_token(&path, "press").unwrap();
        // The rewrite carries the old modification time, as on a coarse-grained file system.
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            modified
        );
        assert_eq!(store.authenticate(&token).unwrap_err(), Denied::Unknown);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn controlled_tokens_need_the_disclosure_key() {
        let path = scratch("nokey");
        std::fs::write(
            &path,
            "[[tokens]]\nname = \"press\"\nrole = \"public\"\nhash = \"sha256:00\"\n\
             created = \"2018-01-01T00:00:00Z\"\n",
        )
        .unwrap();
        let error = TokenStore::open(&path).unwrap_err().to_string();
        assert!(error.contains("disclosure_key"), "{error}");
        // National tokens alone need none.
        std::fs::write(
            &path,
            "[[tokens]]\nname = \"hq\"\nrole = \"national\"\nhash = \"sha256:00\"\n\
             created = \"2018-01-01T00:00:00Z\"\n",
        )
        .unwrap();
        assert!(TokenStore::open(&path).is_ok());
        // Revoking adds a key and keeps the tokens.
        revoke_token(&path, "hq").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("disclosure_key") && text.contains("hq"),
            "{text}"
        );
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }
}
