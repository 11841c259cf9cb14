//! Adapter profiles: one TOML file per force naming the force, its source and its dialect.
//!
//! A profile is parsed into [`Profile`] (unknown keys rejected) and checked by
//! [`Profile::check`] before anything is read, so a mistake fails at start-up with the key
//! named. The shipped examples live in `deploy/forces/`.

use std::path::{Path, PathBuf};

use model::ForceId;
use serde::Deserialize;
use wire::Dialect;

/// One force's adapter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Adapter instance name, carried in every message (e.g. `west-mercia-rms`).
    pub name: String,
    /// The force's police.uk id.
    pub force: String,
    /// The input format.
    #[serde(deserialize_with = "dialect")]
    pub dialect: Dialect,
    /// Where records come from.
    #[serde(default)]
    pub source: SourceConfig,
    /// Where the keys come from (absent: the development keyring named in the configuration).
    #[serde(default)]
    pub keys: KeysConfig,
    /// Field mapping, required for `force-csv` and `force-json`.
    #[serde(default)]
    pub mapping: Option<Mapping>,
}

fn dialect<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Dialect, D::Error> {
    let name = String::deserialize(deserializer)?;
    name.parse().map_err(serde::de::Error::custom)
}

/// `[source]`: files, a watched directory, and/or an HTTP push listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// Files to publish, in order.
    pub files: Vec<PathBuf>,
    /// A directory to watch for new export files.
    pub watch: Option<PathBuf>,
    /// File extensions taken from the watched directory (without the dot); empty: all.
    pub extensions: Vec<String>,
    /// Seconds between scans of the watched directory.
    pub poll_interval_secs: u64,
    /// Seconds a file must be unmodified before it is read (it may still be being written).
    pub settle_secs: u64,
    /// Address for the HTTP push endpoint (`POST /v1/records`, NDJSON).
    pub listen: Option<String>,
    /// Environment variable holding the bearer token pushes must present.
    pub push_token_env: Option<String>,
    /// File holding that token.
    pub push_token_file: Option<PathBuf>,
    /// PEM certificate chain for HTTPS on the push endpoint (with `tls_key_file`).
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key for HTTPS on the push endpoint.
    pub tls_key_file: Option<PathBuf>,
    /// Largest accepted push body, in bytes.
    pub max_body_bytes: usize,
    /// The checkpoint file (default: `<state dir>/<name>.checkpoint.json`).
    pub checkpoint: Option<PathBuf>,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            files: Vec::new(),
            watch: None,
            extensions: Vec::new(),
            poll_interval_secs: 10,
            settle_secs: 2,
            listen: None,
            push_token_env: None,
            push_token_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            max_body_bytes: 16 * 1024 * 1024,
            checkpoint: None,
        }
    }
}

/// `[keys]`: each secret from an environment variable or a file, never from the command line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// Id of the signing key, sent in every message's header.
    pub key_id: Option<String>,
    /// Environment variable holding the signing key (hex).
    pub signing_key_env: Option<String>,
    /// File holding the signing key (hex).
    pub signing_key_file: Option<PathBuf>,
    /// Environment variable holding the pseudonymisation key (hex).
    pub pseudonymisation_key_env: Option<String>,
    /// File holding the pseudonymisation key (hex).
    pub pseudonymisation_key_file: Option<PathBuf>,
}

/// How versions are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionKind {
    /// An integer revision number.
    Revision,
    /// A last-modified timestamp (parsed with `timestamp_formats`).
    Timestamp,
}

/// `[mapping]`: which source field feeds each national field, and how values are spelt.
///
/// Field names are CSV column headers (`force-csv`) or dotted paths into each JSON object
/// (`force-json`, e.g. `offence.code`). Fields the mapping does not name are never read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The force's crime reference (pseudonymised before it leaves).
    pub crime_ref: String,
    /// The field ordering versions of a crime.
    pub version: String,
    /// How to read it.
    pub version_kind: VersionKind,
    /// Recorded date (a date or a timestamp).
    pub recorded_date: String,
    /// Offence start date.
    pub offence_from: Option<String>,
    /// Offence end date.
    pub offence_to: Option<String>,
    /// Home Office offence code.
    pub offence_code: Option<String>,
    /// police.uk category.
    pub category: Option<String>,
    /// Online crime flag.
    pub cyber: Option<String>,
    /// Victim age in years.
    pub victim_age: Option<String>,
    /// Victim date of birth: turned into the age at the offence date, then dropped.
    pub victim_date_of_birth: Option<String>,
    /// Record status.
    pub status: Option<String>,
    /// Receiving force of a transfer.
    pub transferred_to: Option<String>,
    /// Outcome.
    pub outcome: Option<String>,
    /// LSOA code.
    pub lsoa: Option<String>,
    /// `chrono` formats for dates, tried in order (ISO dates are always accepted).
    #[serde(default)]
    pub date_formats: Vec<String>,
    /// `chrono` formats for timestamps, tried in order (RFC 3339 is always accepted).
    #[serde(default)]
    pub timestamp_formats: Vec<String>,
    /// Spellings of a set online flag (compared ignoring case and surrounding spaces).
    #[serde(default = "default_true")]
    pub cyber_true: Vec<String>,
    /// Spellings of an unset online flag.
    #[serde(default = "default_false")]
    pub cyber_false: Vec<String>,
    /// Status words meaning recorded.
    #[serde(default = "default_recorded")]
    pub status_recorded: Vec<String>,
    /// Status words meaning cancelled.
    #[serde(default = "default_cancelled")]
    pub status_cancelled: Vec<String>,
    /// Status words meaning transferred.
    #[serde(default = "default_transferred")]
    pub status_transferred: Vec<String>,
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|word| (*word).to_owned()).collect()
}
fn default_true() -> Vec<String> {
    words(&["Y", "Yes", "1", "TRUE", "Online"])
}
fn default_false() -> Vec<String> {
    words(&["N", "No", "0", "FALSE", ""])
}
fn default_recorded() -> Vec<String> {
    words(&["recorded"])
}
fn default_cancelled() -> Vec<String> {
    words(&["cancelled"])
}
fn default_transferred() -> Vec<String> {
    words(&["transferred"])
}

/// Why a profile was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read profile {path}: {source}")]
    Read {
        /// The profile.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, or a value of the wrong type.
    #[error("invalid profile {path}: {message}")]
    Parse {
        /// The profile.
        path: PathBuf,
        /// The parser's message, naming the key.
        message: String,
    },
    /// Well-formed but unusable.
    #[error("invalid profile {name}: {message}")]
    Invalid {
        /// The profile's name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

impl Profile {
    /// Reads and checks a profile file.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.into(),
            source,
        })?;
        let profile: Profile = toml::from_str(&text).map_err(|error| ProfileError::Parse {
            path: path.into(),
            message: error.to_string(),
        })?;
        profile.check()?;
        Ok(profile)
    }

    /// A one-off profile from command-line flags: publish `files` and exit.
    pub fn from_flags(
        force: &str,
        dialect: Dialect,
        files: Vec<PathBuf>,
    ) -> Result<Self, ProfileError> {
        let profile = Profile {
            name: format!("{force}-{dialect}"),
            force: force.to_owned(),
            dialect,
            source: SourceConfig {
                files,
                ..SourceConfig::default()
            },
            keys: KeysConfig::default(),
            mapping: None,
        };
        profile.check()?;
        Ok(profile)
    }

    /// The force, validated.
    pub fn force_id(&self) -> Result<ForceId, ProfileError> {
        ForceId::from_id(&self.force).map_err(|error| self.invalid(format!("force: {error}")))
    }

    /// Consistency checks that serde cannot express.
    pub fn check(&self) -> Result<(), ProfileError> {
        if self.name.trim().is_empty() || self.name.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(self.invalid("name must be non-empty, without spaces or '/'".into()));
        }
        self.force_id()?;
        match (self.dialect, &self.mapping) {
            (Dialect::ForceCsv | Dialect::ForceJson, None) => {
                return Err(self.invalid(format!("dialect {} needs a [mapping]", self.dialect)));
            }
            (Dialect::PoliceUkStreet | Dialect::NationalNdjson, Some(_)) => {
                return Err(self.invalid(format!(
                    "dialect {} has a fixed layout; remove [mapping]",
                    self.dialect
                )));
            }
            _ => {}
        }
        if let Some(mapping) = &self.mapping {
            if mapping.victim_age.is_some() && mapping.victim_date_of_birth.is_some() {
                return Err(self.invalid("map victim_age or victim_date_of_birth, not both".into()));
            }
            for format in mapping
                .date_formats
                .iter()
                .chain(&mapping.timestamp_formats)
            {
                let probe = chrono::NaiveDate::from_ymd_opt(2019, 1, 31)
                    .and_then(|d| d.and_hms_opt(1, 2, 3))
                    .map(|t| t.format(format).to_string());
                if probe.is_none_or(|text| text.is_empty()) {
                    return Err(self.invalid(format!("date format {format:?} is empty or invalid")));
                }
            }
        }
        let source = &self.source;
        if source.files.is_empty() && source.watch.is_none() && source.listen.is_none() {
            return Err(self.invalid("[source] needs files, watch or listen".into()));
        }
        if source.listen.is_some() && self.dialect != Dialect::NationalNdjson {
            return Err(self.invalid("HTTP push accepts only the national-ndjson dialect".into()));
        }
        if source.tls_cert_file.is_some() != source.tls_key_file.is_some() {
            return Err(self.invalid("HTTPS needs both tls_cert_file and tls_key_file".into()));
        }
        if source.tls_cert_file.is_some() && source.listen.is_none() {
            return Err(self.invalid("tls_cert_file is for the push endpoint: set listen".into()));
        }
        if source.max_body_bytes == 0 {
            return Err(self.invalid("max_body_bytes must be positive".into()));
        }
        let keys = &self.keys;
        if keys.signing_key_env.is_some() && keys.signing_key_file.is_some() {
            return Err(self.invalid("give signing_key_env or signing_key_file, not both".into()));
        }
        if keys.pseudonymisation_key_env.is_some() && keys.pseudonymisation_key_file.is_some() {
            return Err(self.invalid(
                "give pseudonymisation_key_env or pseudonymisation_key_file, not both".into(),
            ));
        }
        Ok(())
    }

    fn invalid(&self, message: String) -> ProfileError {
        ProfileError::Invalid {
            name: self.name.clone(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/forces")
            .join(name)
    }

    #[test]
    fn the_shipped_profiles_load() {
        let cases = [
            ("west-mercia.toml", "west-mercia", Dialect::ForceCsv),
            (
                "avon-and-somerset.toml",
                "avon-and-somerset",
                Dialect::ForceJson,
            ),
            ("metropolitan.toml", "metropolitan", Dialect::NationalNdjson),
        ];
        for (file, force, dialect) in cases {
            let profile = Profile::load(&shipped(file)).unwrap();
            assert_eq!(profile.force, force);
            assert_eq!(profile.dialect, dialect);
        }
    }

    #[test]
    fn mistakes_are_refused_naming_the_problem() {
        let base = "name = \"x\"\nforce = \"kent\"\ndialect = \"national-ndjson\"\n[source]\nfiles = [\"a\"]\n";
        let cases: &[(&str, &str)] = &[
            (
                "name = \"x\"\nforce = \"kent\"\ndialect = \"csv\"\n",
                "unknown dialect",
            ),
            (&format!("{base}colour = 1\n"), "colour"),
            (
                "name = \"x\"\nforce = \"gotham\"\ndialect = \"national-ndjson\"\n[source]\nfiles = [\"a\"]\n",
                "gotham",
            ),
            (
                "name = \"x\"\nforce = \"kent\"\ndialect = \"force-csv\"\n[source]\nfiles = [\"a\"]\n",
                "needs a [mapping]",
            ),
            (
                "name = \"x\"\nforce = \"kent\"\ndialect = \"national-ndjson\"\n",
                "needs files, watch or listen",
            ),
            (
                "name = \"x\"\nforce = \"kent\"\ndialect = \"police-uk-street\"\n[source]\nlisten = \"127.0.0.1:1\"\n",
                "only the national-ndjson",
            ),
            (
                &format!("{base}listen = \"127.0.0.1:1\"\ntls_cert_file = \"c.pem\"\n"),
                "needs both tls_cert_file and tls_key_file",
            ),
            (
                &format!("{base}tls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"\n"),
                "set listen",
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (text, expected) in cases {
            let path = dir.path().join("p.toml");
            std::fs::write(&path, text).unwrap();
            let message = Profile::load(&path).unwrap_err().to_string();
            assert!(message.contains(expected), "{text:?}: {message}");
        }
    }
}
