//! Shared helpers: the binary under test, unique names, and the stack's addresses.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `cyberflag` binary built by `cargo xtask test` (or `cargo build -p cyberflag`).
pub fn binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let path = target.join("debug").join("cyberflag");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p cyberflag` (cargo xtask test does)",
        path.display()
    );
    path
}

/// A name no other test (or earlier run) uses: `prefix_<pid>_<n>`.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos:x}", std::process::id())
}

/// A `cyberflag` command with a clean configuration environment: no inherited `CYBERFLAG_*`
/// variable and a working directory without `cyberflag.toml`, so only `vars` and the defaults
/// (the local stack's addresses) apply.
pub fn cyberflag(vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary());
    for (key, _) in std::env::vars() {
        if key.starts_with("CYBERFLAG_") {
            command.env_remove(key);
        }
    }
    command.current_dir(std::env::temp_dir());
    command.envs(vars.iter().copied());
    command
}

/// Runs `command`, asserting success, and returns standard output.
pub fn succeed(command: &mut Command) -> String {
    let output = command.output().expect("the binary runs");
    assert_success(&output, command);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_success(output: &Output, command: &Command) {
    assert!(
        output.status.success(),
        "{command:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The local ClickHouse, bound to `database`.
pub fn warehouse(database: &str) -> warehouse::Warehouse {
    let defaults = cyberflag::config::Config::default();
    let mut settings = defaults.warehouse();
    settings.database = database.to_owned();
    warehouse::Warehouse::new(&settings)
}

/// The local broker.
pub fn kafka() -> bus::ClientSettings {
    cyberflag::config::Config::default().kafka_client()
}
