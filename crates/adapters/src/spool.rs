//! The watched export directory (the spool): which files are ready to publish, and opening
//! exactly the file that was scanned.
//!
//! Whoever can write to the spool can swap a file between the scan and the open: for a
//! symbolic link to a file the adapter may read but must never publish (a key, another force's
//! export), for a named pipe that would block the adapter forever, or for another file. So a
//! scan records each ready file's device and inode ([`Scanned`]), and [`open`] opens the path
//! without following a symbolic link (`O_NOFOLLOW`) or waiting on a pipe (`O_NONBLOCK`), then
//! refuses anything that is not that same regular file. What was swapped is skipped; the next
//! scan sees the directory as it is then.

use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A ready export file as the scan saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    /// Its path (the spool directory joined with its name).
    pub path: PathBuf,
    /// The device holding it.
    pub device: u64,
    /// Its inode on that device.
    pub inode: u64,
}

/// What one scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Settled regular files with a wanted extension, in name order.
    pub ready: Vec<Scanned>,
    /// Entries with a wanted extension that are neither regular files nor directories
    /// (symbolic links, pipes, devices, sockets): never published.
    pub not_regular: Vec<PathBuf>,
}

/// Why a scanned file was not opened.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The file is gone (moved away or deleted after the scan).
    #[error("{}: gone since the scan", path.display())]
    Vanished {
        /// The path.
        path: PathBuf,
    },
    /// The path now names something else: a symbolic link, a pipe or device, or another file.
    #[error("{}: {what} since the scan; skipped", path.display())]
    Swapped {
        /// The path.
        path: PathBuf,
        /// What it is now.
        what: &'static str,
    },
    /// Any other failure.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

/// Whether a file named `name` is taken: any name when `extensions` is empty, otherwise one
/// ending in `.<extension>` for one of them.
pub fn wanted(name: &Path, extensions: &[String]) -> bool {
    extensions.is_empty()
        || name
            .extension()
            .is_some_and(|e| extensions.iter().any(|x| e == x.as_str()))
}

/// Whether a file last modified at `modified` has been left alone for `settle` at `now` (a
/// file still being written is not read; a modification time in the future never settles).
pub fn settled(modified: SystemTime, now: SystemTime, settle: Duration) -> bool {
    now.duration_since(modified)
        .is_ok_and(|quiet| quiet >= settle)
}

/// Lists `dir`: settled regular files with a wanted extension, in name order, and the entries
/// that are not regular files. Entries are examined without following links.
pub fn scan(
    dir: &Path,
    extensions: &[String],
    settle: Duration,
    now: SystemTime,
) -> io::Result<Scan> {
    let mut found = Scan::default();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // `DirEntry::metadata` does not follow links (lstat).
        let metadata = match entry.metadata() {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        if !wanted(&path, extensions) {
            continue;
        }
        if metadata.is_file() {
            let modified = metadata.modified()?;
            if settled(modified, now, settle) {
                found.ready.push(Scanned {
                    path,
                    device: metadata.dev(),
                    inode: metadata.ino(),
                });
            }
        } else if !metadata.is_dir() {
            found.not_regular.push(path);
        }
    }
    found.ready.sort_by(|a, b| a.path.cmp(&b.path));
    found.not_regular.sort();
    Ok(found)
}

/// Opens the file `scanned` describes, or refuses: the path must still name a regular file
/// (not a symbolic link, which is never followed, nor a pipe or device, which is never waited
/// on) with the device and inode the scan recorded.
pub fn open(scanned: &Scanned) -> Result<std::fs::File, SpoolError> {
    let path = &scanned.path;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|error| match error.raw_os_error() {
            _ if error.kind() == io::ErrorKind::NotFound => {
                SpoolError::Vanished { path: path.clone() }
            }
            // O_NOFOLLOW on a symbolic link.
            Some(libc::ELOOP) => SpoolError::Swapped {
                path: path.clone(),
                what: "a symbolic link",
            },
            // A socket cannot be opened at all.
            Some(libc::ENXIO) => SpoolError::Swapped {
                path: path.clone(),
                what: "not a regular file",
            },
            _ => SpoolError::Io {
                path: path.clone(),
                source: error,
            },
        })?;
    let metadata = file.metadata().map_err(|source| SpoolError::Io {
        path: path.clone(),
        source,
    })?;
    if !metadata.is_file() {
        return Err(SpoolError::Swapped {
            path: path.clone(),
            what: "not a regular file",
        });
    }
    if (metadata.dev(), metadata.ino()) != (scanned.device, scanned.inode) {
        return Err(SpoolError::Swapped {
            path: path.clone(),
            what: "another file",
        });
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn ready(dir: &Path) -> Vec<Scanned> {
        scan(dir, &["csv".into()], Duration::ZERO, SystemTime::now())
            .unwrap()
            .ready
    }

    #[test]
    fn wanted_and_settled() {
        let csv = ["csv".to_owned()];
        assert!(wanted(Path::new("a/b.csv"), &csv));
        assert!(!wanted(Path::new("a/b.csv.part"), &csv));
        assert!(!wanted(Path::new("a/csv"), &csv));
        assert!(wanted(Path::new("anything"), &[]));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let settle = Duration::from_secs(2);
        assert!(settled(now - Duration::from_secs(2), now, settle));
        assert!(!settled(now - Duration::from_secs(1), now, settle));
        assert!(!settled(now + Duration::from_secs(60), now, settle));
    }

    #[test]
    fn a_scan_lists_settled_regular_files_and_names_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.csv"), "b").unwrap();
        std::fs::write(dir.path().join("a.csv"), "a").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "n").unwrap();
        std::fs::create_dir(dir.path().join("sub.csv")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link.csv")).unwrap();
        let found = scan(
            dir.path(),
            &["csv".into()],
            Duration::ZERO,
            SystemTime::now(),
        )
        .unwrap();
        let names: Vec<_> = found.ready.iter().map(|s| s.path.clone()).collect();
        assert_eq!(names, [dir.path().join("a.csv"), dir.path().join("b.csv")]);
        assert_eq!(found.not_regular, [dir.path().join("link.csv")]);
        // Not settled yet: nothing is ready.
        let later = scan(
            dir.path(),
            &["csv".into()],
            Duration::from_secs(3_600),
            SystemTime::now(),
        )
        .unwrap();
        assert!(later.ready.is_empty());
    }

    #[test]
    fn the_scanned_file_opens() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "genuine").unwrap();
        let scanned = ready(dir.path());
        let mut text = String::new();
        open(&scanned[0])
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "genuine");
    }

    /// The race, made deterministic: between the scan and the open the file is replaced (an
    /// atomic rename, as an attacker would do it) by a link to a secret, by another file, by a
    /// named pipe; or it is removed. None of them is read.
    #[test]
    fn a_file_swapped_after_the_scan_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        std::fs::create_dir(&spool).unwrap();
        let secret = dir.path().join("secret.key");
        std::fs::write(&secret, "do not publish").unwrap();
        let target = spool.join("export.csv");
        let swap = |make: &dyn Fn(&Path)| {
            std::fs::write(&target, "genuine").unwrap();
            let scanned = ready(&spool);
            assert_eq!(scanned.len(), 1);
            let staged = dir.path().join("staged");
            make(&staged);
            std::fs::rename(&staged, &target).unwrap();
            let result = open(&scanned[0]);
            let _ = std::fs::remove_file(&target);
            result
        };

        let link = swap(&|at| std::os::unix::fs::symlink(&secret, at).unwrap());
        assert!(
            matches!(
                link,
                Err(SpoolError::Swapped {
                    what: "a symbolic link",
                    ..
                })
            ),
            "{link:?}"
        );

        let other = swap(&|at| std::fs::write(at, "forged").unwrap());
        assert!(
            matches!(
                other,
                Err(SpoolError::Swapped {
                    what: "another file",
                    ..
                })
            ),
            "{other:?}"
        );

        // A named pipe: opening it for reading would wait for a writer forever.
        let pipe = swap(&|at| {
            let status = std::process::Command::new("mkfifo")
                .arg(at)
                .status()
                .unwrap();
            assert!(status.success());
        });
        assert!(
            matches!(
                pipe,
                Err(SpoolError::Swapped {
                    what: "not a regular file",
                    ..
                })
            ),
            "{pipe:?}"
        );

        std::fs::write(&target, "genuine").unwrap();
        let scanned = ready(&spool);
        std::fs::remove_file(&target).unwrap();
        assert!(matches!(
            open(&scanned[0]),
            Err(SpoolError::Vanished { .. })
        ));
    }
}
