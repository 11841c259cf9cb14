//! Faults of the hosts around the pipeline: a full disk, a broker restarted on durable storage.

use crate::support::{Sandbox, police_uk_expected, police_uk_files, succeed_stderr};
use std::path::{Path, PathBuf};

/// A small filesystem of its own (tmpfs), filled to the last byte; unmounted on drop.
struct FullDisk {
    mount: PathBuf,
    filler: PathBuf,
}

impl FullDisk {
    /// Mounts a 512 KiB tmpfs at `mount` (needs root, which `cargo xtask test` has), creates
    /// `dirs` in it, then fills it.
    fn new(mount: &Path, dirs: &[&str]) -> Self {
        std::fs::create_dir_all(mount).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
            .arg(mount)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "cannot mount a tmpfs (this test needs root)"
        );
        for dir in dirs {
            std::fs::create_dir_all(mount.join(dir)).unwrap();
        }
        let disk = Self {
            mount: mount.to_owned(),
            filler: mount.join("filler"),
        };
        disk.fill();
        disk
    }

    fn fill(&self) {
        use std::io::Write;
        let mut file = std::fs::File::create(&self.filler).unwrap();
        let block = vec![0u8; 4096];
        let error = loop {
            if let Err(error) = file.write_all(&block) {
                break error;
            }
        };
        assert_eq!(error.raw_os_error(), Some(28), "ENOSPC: {error}");
    }

    fn free(&self) {
        std::fs::remove_file(&self.filler).unwrap();
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.mount)
            .status();
    }
}

/// The disk of the adapter and ingest host is full. The adapter cannot save its checkpoint: it
/// stops with the reason rather than publish past what it can remember. Ingest, whose log
/// cannot be written, keeps storing. Once space is freed the adapter resumes, and the counts
/// are exact: nothing lost, nothing counted twice.
#[test]
fn a_full_disk_stops_the_adapter_cleanly_and_ingest_keeps_storing() {
    let sandbox = Sandbox::new("diskfull", 3);
    sandbox.migrate();
    let disk = FullDisk::new(&sandbox.dir.path().join("disk"), &["state", "logs"]);
    let state = disk.mount.join("state");
    let state = state.to_str().unwrap();
    let files = police_uk_files("city-of-london");
    let adapter = |extra: &[(&str, &str)]| {
        let mut command = sandbox.command(extra);
        command
            .args([
                "adapter",
                "--force",
                "city-of-london",
                "--dialect",
                "police-uk-street",
            ])
            .args(&files);
        command
    };
    let settings = [
        ("CYBERFLAG_ADAPTER_STATE_DIR", state),
        ("CYBERFLAG_ADAPTER_CHECKPOINT_EVERY", "200"),
    ];
    let refused = adapter(&settings).output().unwrap();
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{error}");
    assert!(error.contains("No space left on device"), "{error}");

    // Ingest with its standard output and error on the full disk (a full log volume).
    let log = std::fs::File::create(disk.mount.join("logs/ingest.log")).unwrap();
    let ingest = sandbox
        .command(&[("CYBERFLAG_LOG", "debug")])
        .args(["ingest", "--exit-when-idle", "--idle-seconds", "2"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .unwrap();
    assert!(
        ingest.success(),
        "ingest failed when its log could not be written: {ingest}"
    );
    let stored_before: u64 = sandbox.stats(&[]).values().sum();
    assert!(
        stored_before > 0,
        "what was published before the stop is stored"
    );

    disk.free();
    succeed_stderr(&mut adapter(&settings));
    let totals = sandbox.ingest_until_idle(&[]);
    assert!(
        totals.duplicates > 0 || totals.stored > 0,
        "the second run delivered records: {totals:?}"
    );
    crate::support::assert_counts(
        &sandbox.stats(&["--by", "force,month,category"]),
        &police_uk_expected(&files),
        "after the disk was full",
    );
    drop(disk);
    sandbox.drop_database();
}
