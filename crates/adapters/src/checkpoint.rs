//! Per-source checkpoints: how far each export file has been published and acknowledged.
//!
//! A source is identified by the SHA-256 of its content, so a renamed file is recognised and a
//! file re-exported under the same name with new content is read again. Progress is the number
//! of rows whose messages the broker acknowledged (or that needed no message), counted in file
//! order. The file is replaced atomically (write, fsync, rename), so a crash leaves either the
//! old or the new checkpoint, never a torn one.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Progress on one source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The file name when last seen (for people; identity is the content hash).
    pub name: String,
    /// Rows handled, in order, all acknowledged.
    pub rows_done: u64,
    /// Whether the whole file was handled.
    pub complete: bool,
}

/// A checkpoint file.
#[derive(Debug)]
pub struct Checkpoints {
    path: PathBuf,
    sources: BTreeMap<String, Progress>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct OnDisk {
    sources: BTreeMap<String, Progress>,
}

/// Why the checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// I/O failure.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// The checkpoint file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file exists but is not a checkpoint (refusing to overwrite it).
    #[error("checkpoint {path} is corrupt ({message}); move it aside to start over")]
    Corrupt {
        /// The checkpoint file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
}

impl Checkpoints {
    /// Loads `path`, or starts empty if it does not exist.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let io = |source| CheckpointError::Io {
            path: path.into(),
            source,
        };
        let sources = match fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice::<OnDisk>(&bytes)
                    .map_err(|error| CheckpointError::Corrupt {
                        path: path.into(),
                        message: error.to_string(),
                    })?
                    .sources
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(error) => return Err(io(error)),
        };
        Ok(Self {
            path: path.into(),
            sources,
        })
    }

    /// Progress recorded for a source identity.
    pub fn get(&self, identity: &str) -> Option<&Progress> {
        self.sources.get(identity)
    }

    /// Records progress (in memory; [`Checkpoints::save`] persists it).
    pub fn set(&mut self, identity: &str, progress: Progress) {
        self.sources.insert(identity.to_owned(), progress);
    }

    /// Forgets a source (a forced re-send starts from its first row).
    pub fn forget(&mut self, identity: &str) {
        self.sources.remove(identity);
    }

    /// Persists atomically.
    pub fn save(&self) -> Result<(), CheckpointError> {
        let io = |source| CheckpointError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let bytes = serde_json::to_vec_pretty(&OnDisk {
            sources: self.sources.clone(),
        })
        .map_err(|error| io(std::io::Error::other(error)))?;
        let temporary = self.path.with_extension("tmp");
        let mut file = fs::File::create(&temporary).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        fs::rename(&temporary, &self.path).map_err(io)?;
        Ok(())
    }
}

/// SHA-256 of a file's content, hex, and the number of newline bytes (a row estimate for the
/// progress bar), in one streaming pass.
pub fn identify(path: &Path) -> std::io::Result<(String, u64)> {
    identify_reader(&mut fs::File::open(path)?)
}

/// [`identify`] for an open file (or any reader), read to its end.
pub fn identify_reader(file: &mut impl std::io::Read) -> std::io::Result<(String, u64)> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut lines = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        let chunk = &buffer[..read];
        hasher.update(chunk);
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    Ok((hex::encode(hasher.finalize()), lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_survive_a_round_trip_and_refuse_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/x.checkpoint.json");
        let mut checkpoints = Checkpoints::load(&path).unwrap();
        assert!(checkpoints.get("abc").is_none());
        checkpoints.set(
            "abc",
            Progress {
                name: "f.csv".into(),
                rows_done: 7,
                complete: false,
            },
        );
        checkpoints.save().unwrap();
        let loaded = Checkpoints::load(&path).unwrap();
        assert_eq!(loaded.get("abc").unwrap().rows_done, 7);
        std::fs::write(&path, b"{not json").unwrap();
        assert!(matches!(
            Checkpoints::load(&path),
            Err(CheckpointError::Corrupt { .. })
        ));
    }

    #[test]
    fn identity_is_the_content_hash() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"x\ny\n").unwrap();
        std::fs::write(&b, b"x\ny\n").unwrap();
        assert_eq!(identify(&a).unwrap(), identify(&b).unwrap());
        assert_eq!(identify(&a).unwrap().1, 2);
        std::fs::write(&b, b"x\nz\n").unwrap();
        assert_ne!(identify(&a).unwrap().0, identify(&b).unwrap().0);
    }
}
