//! Test tools beside the servers, installed by `cargo xtask test` (or `cargo xtask tools`):
//!
//! - a project-local Python (`.stack/python`, a venv) with the packages pinned in
//!   `tests/python/requirements.txt`: chdb (a current ClickHouse in process) and
//!   kubernetes-validate (the Kubernetes API schemas, offline);
//! - promtool from Debian's `prometheus` package, unpacked into `.stack/tools/` rather than
//!   installed, so no Prometheus daemon is set up or started.
//!
//! Both are reinstalled only when missing or when the pinned requirements change.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::stack;

/// Where the tests find the venv's interpreter.
pub fn python(root: &Path) -> PathBuf {
    root.join(".stack")
        .join("python")
        .join("bin")
        .join("python")
}

/// Where the tests find promtool.
pub fn promtool(root: &Path) -> PathBuf {
    root.join(".stack").join("tools").join("promtool")
}

/// Installs whatever is missing.
pub fn ensure(root: &Path) -> anyhow::Result<()> {
    ensure_python(root)?;
    ensure_promtool(root)
}

fn ensure_python(root: &Path) -> anyhow::Result<()> {
    let venv = root.join(".stack").join("python");
    let requirements = root.join("tests").join("python").join("requirements.txt");
    let wanted = fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let stamp = venv.join("requirements.installed");
    if python(root).is_file() && fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
        return Ok(());
    }
    eprintln!(
        "installing the test tools' Python packages into {} (once)",
        venv.display()
    );
    let system = ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import venv, ensurepip"])
            .status()
            .is_ok_and(|s| s.success())
    });
    let system = match system {
        Some(system) => system,
        None => {
            stack::apt_install(&["python3", "python3-venv"], true)?;
            "/usr/bin/python3"
        }
    };
    let status = Command::new(system)
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .status()
        .context("running python3 -m venv")?;
    if !status.success() {
        bail!("python3 -m venv {} failed ({status})", venv.display());
    }
    let status = Command::new(python(root))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements)
        .status()
        .context("running pip install")?;
    if !status.success() {
        bail!(
            "pip install -r {} failed ({status})",
            requirements.display()
        );
    }
    fs::write(&stamp, wanted)?;
    Ok(())
}

fn ensure_promtool(root: &Path) -> anyhow::Result<()> {
    let target = promtool(root);
    if target.is_file() {
        return Ok(());
    }
    eprintln!("unpacking promtool from Debian's prometheus package (once)");
    let dir = root.join(".stack").join("tools").join("prometheus-deb");
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    let download = || {
        Command::new("apt-get")
            .args(["download", "prometheus"])
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !download() {
        // The package lists may be missing on a fresh machine.
        let status = Command::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("running apt-get update")?;
        if !status.success() || !download() {
            bail!("apt-get download prometheus failed");
        }
    }
    let deb = fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .context("apt-get download left no .deb")?;
    let unpacked = dir.join("root");
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&unpacked)
        .status()
        .context("running dpkg-deb")?;
    if !status.success() {
        bail!("dpkg-deb -x {} failed ({status})", deb.display());
    }
    fs::copy(unpacked.join("usr/bin/promtool"), &target)
        .context("the prometheus package has no usr/bin/promtool")?;
    fs::remove_dir_all(&dir)?;
    Ok(())
}
