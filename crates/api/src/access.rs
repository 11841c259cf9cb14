//! Who may see what: roles, bearer tokens and the token file.
//!
//! A token is 32 random bytes, shown once as `cft_<64 hex digits>` when created. Only its
//! SHA-256 digest is stored, in a TOML file that `cyberflag token create|list|revoke` edits and
//! the API re-reads when it changes. A token never appears in logs or errors; lookups compare
//! digests, so the time taken says nothing about the secret.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use model::ForceId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
    #[serde(default)]
    tokens: Vec<TokenEntry>,
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

fn read(path: &Path) -> Result<TokenFile, TokenError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| TokenError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
        Err(source) => Err(TokenError::Io {
            path: path.to_owned(),
            source,
        }),
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
    write(path, &file)
}

/// Accepted tokens as loaded: (digest, role, name), and the file's modification time.
type Loaded = (Option<SystemTime>, Vec<(String, Role, String)>);

/// The tokens the API accepts, re-read when the file changes.
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    state: std::sync::RwLock<Loaded>,
}

impl TokenStore {
    /// Loads `path` (a missing file means no tokens: every request is refused).
    pub fn open(path: &Path) -> Result<TokenStore, TokenError> {
        let store = TokenStore {
            path: path.to_owned(),
            state: std::sync::RwLock::new((None, Vec::new())),
        };
        store.reload()?;
        Ok(store)
    }

    fn reload(&self) -> Result<(), TokenError> {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        if let Ok(state) = self.state.read()
            && state.0 == modified
            && modified.is_some()
        {
            return Ok(());
        }
        let mut tokens = Vec::new();
        for entry in read(&self.path)?.tokens.into_iter().filter(|t| !t.revoked) {
            let role = Role::parse(&entry.role).map_err(|message| TokenError::Invalid {
                path: self.path.clone(),
                message,
            })?;
            tokens.push((entry.hash, role, entry.name));
        }
        if let Ok(mut state) = self.state.write() {
            *state = (modified, tokens);
        }
        Ok(())
    }

    /// The role and name of a presented token, if it is valid and not revoked.
    pub fn authenticate(&self, token: &str) -> Option<(Role, String)> {
        if let Err(error) = self.reload() {
            tracing::error!(%error, "token file unreadable; keeping the tokens loaded before");
        }
        let digest = hash_token(token);
        let state = self.state.read().ok()?;
        state
            .1
            .iter()
            .find(|(hash, ..)| *hash == digest)
            .map(|(_, role, name)| (*role, name.clone()))
    }
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
        let store = TokenStore::open(&path).unwrap();
        let (role, name) = store.authenticate(&token).unwrap();
        assert_eq!(
            (role.to_string(), name.as_str()),
            ("force:kent".into(), "kent-analyst")
        );
        assert!(store.authenticate("cft_00").is_none());
        // Revocation is seen without a restart (the file's modification time changes).
        std::thread::sleep(std::time::Duration::from_millis(20));
        revoke_token(&path, "kent-analyst").unwrap();
        assert!(store.authenticate(&token).is_none());
        assert_eq!(list_tokens(&path).unwrap().len(), 1);
        std::fs::remove_dir_all(dir).ok();
    }
}
