//! The local stack: ClickHouse 18.16 (Debian's package) and Tansu 0.6.0 (a Kafka-compatible
//! broker from crates.io), on loopback, with their state under `.stack/`.
//!
//! Idempotent by construction: a server that already answers on its port is reused, never
//! restarted, and `down` stops only processes whose pid files this project wrote. Installed
//! binaries are cached outside the work tree (`$XDG_CACHE_HOME/cyberflag` or
//! `~/.cache/cyberflag`) so that a fresh clone on the same machine reuses them.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::{cyberflag_binary, run};

const CLICKHOUSE_HTTP: &str = "127.0.0.1:8123";
const CLICKHOUSE_TCP_PORT: u16 = 9000;
const BROKER: &str = "127.0.0.1:9092";
const TANSU_VERSION: &str = "0.6.0";

/// Brings the stack up and prepares it for use.
pub fn up(root: &Path, durable: bool) -> anyhow::Result<()> {
    let state = root.join(".stack");
    fs::create_dir_all(&state)?;
    ensure_build_tools()?;
    start_clickhouse(&state)?;
    start_broker(&state, durable)?;
    let keyring = write_dev_keyring(&state)?;
    write_dev_config(root, &keyring)?;
    let cyberflag = cyberflag_binary(root)?;
    let cyberflag = cyberflag.to_string_lossy();
    run(root, &cyberflag, &["migrate"])?;
    run(root, &cyberflag, &["topics", "create"])?;
    eprintln!("stack is up: ClickHouse http://{CLICKHOUSE_HTTP}, Kafka {BROKER}");
    Ok(())
}

/// Stops what `up` started.
pub fn down(root: &Path) -> anyhow::Result<()> {
    let state = root.join(".stack");
    for (name, binary) in [
        ("api", "cyberflag"),
        ("broker", "tansu"),
        ("clickhouse", "clickhouse"),
    ] {
        let pid_file = state.join(format!("{name}.pid"));
        match stop(&pid_file, binary)? {
            Some(pid) => eprintln!("stopped {name} (pid {pid})"),
            None => eprintln!("{name}: not started by this project, left alone"),
        }
    }
    Ok(())
}

/// Prints what is installed and what answers.
pub fn status(root: &Path) -> anyhow::Result<()> {
    let state = root.join(".stack");
    let show = |what: &str, ok: bool| println!("{what:<40} {}", if ok { "yes" } else { "no" });
    show("clickhouse-server installed", clickhouse_server().is_some());
    show(
        &format!("tansu {TANSU_VERSION} cached"),
        tansu_binary().is_file(),
    );
    show(
        &format!("ClickHouse answers on {CLICKHOUSE_HTTP}"),
        clickhouse_ping(),
    );
    show(&format!("broker listens on {BROKER}"), port_open(BROKER));
    show(
        "ClickHouse started by this project",
        running_pid(&state.join("clickhouse.pid")).is_some(),
    );
    show(
        "broker started by this project",
        running_pid(&state.join("broker.pid")).is_some(),
    );
    Ok(())
}

pub(crate) fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"))
        .join("cyberflag")
}

fn tansu_binary() -> PathBuf {
    cache_dir()
        .join(format!("tansu-{TANSU_VERSION}"))
        .join("bin")
        .join("tansu")
}

/// `apt-get update`, then installs `packages` from Debian (optionally without the recommended
/// extras, which for Chromium are hundreds of megabytes the headless test does not need).
pub(crate) fn apt_install(packages: &[&str], without_recommends: bool) -> anyhow::Result<()> {
    let apt = |args: &[&str]| -> anyhow::Result<()> {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("cannot run apt-get (this needs a Debian machine and root)")?;
        if !status.success() {
            bail!("apt-get {} failed ({status})", args.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q"];
    if without_recommends {
        args.push("--no-install-recommends");
    }
    args.extend_from_slice(packages);
    apt(&args)
}

/// Installs what building the workspace and tansu needs beyond cargo when it is missing: a C
/// toolchain and make (librdkafka, libsql) and Perl with its core modules (the vendored
/// OpenSSL's `Configure`; a minimal system has only `perl-base`).
pub(crate) fn ensure_build_tools() -> anyhow::Result<()> {
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    let present = works("cc", &["--version"])
        && works("make", &["--version"])
        && works(
            "perl",
            &["-MIPC::Cmd", "-MFindBin", "-MFile::Compare", "-e", "1"],
        );
    if present {
        return Ok(());
    }
    eprintln!("installing the C toolchain, make and Perl from Debian (once)");
    apt_install(&["build-essential", "perl"], true)
}

/// Installs Debian's Chromium for the dashboard test when it is missing.
pub fn ensure_chromium() -> anyhow::Result<()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| dir.join("chromium").is_file()) {
        return Ok(());
    }
    eprintln!("installing chromium from Debian for the dashboard test (once)");
    apt_install(&["chromium"], true)
}

pub(crate) fn clickhouse_server() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from))
        .map(|dir| dir.join("clickhouse-server"))
        .find(|candidate| candidate.is_file())
}

/// Debian's `clickhouse-server` (18.16 on bookworm), installed if missing.
pub(crate) fn ensure_clickhouse_server() -> anyhow::Result<PathBuf> {
    if let Some(server) = clickhouse_server() {
        return Ok(server);
    }
    eprintln!("installing clickhouse-server from Debian (once)");
    apt_install(&["clickhouse-server", "clickhouse-client"], false)?;
    clickhouse_server().context("clickhouse-server still missing after apt-get install")
}

fn start_clickhouse(state: &Path) -> anyhow::Result<()> {
    if clickhouse_ping() {
        eprintln!("ClickHouse already answers on {CLICKHOUSE_HTTP}: reusing it");
        // A server this project started gets the current users (it reloads users.xml itself).
        let users = state.join("clickhouse").join("users.xml");
        if running_pid(&state.join("clickhouse.pid")).is_some()
            && fs::read_to_string(&users).ok().as_deref() != Some(CLICKHOUSE_USERS)
        {
            fs::write(&users, CLICKHOUSE_USERS)?;
            eprintln!("updated the ClickHouse users; the server reloads them within seconds");
        }
        return Ok(());
    }
    if port_open(CLICKHOUSE_HTTP) {
        bail!("port {CLICKHOUSE_HTTP} is taken by something that is not ClickHouse; free it");
    }
    let server = ensure_clickhouse_server()?;
    let dir = state.join("clickhouse");
    fs::create_dir_all(dir.join("data"))?;
    let dir = dir.canonicalize()?;
    fs::write(dir.join("config.xml"), clickhouse_config(&dir))?;
    fs::write(dir.join("users.xml"), CLICKHOUSE_USERS)?;
    let mut command = Command::new(server);
    command.arg(format!(
        "--config-file={}",
        dir.join("config.xml").display()
    ));
    let child = spawn_detached(
        command,
        &dir,
        &dir.join("stdout.log"),
        &state.join("clickhouse.pid"),
    )
    .context("cannot start clickhouse-server")?;
    eprintln!(
        "started ClickHouse (pid {}), waiting for it to answer",
        child.id()
    );
    wait_until(Duration::from_secs(90), clickhouse_ping).with_context(|| {
        format!(
            "ClickHouse did not answer; see {}",
            dir.join("log").display()
        )
    })
}

fn clickhouse_config(dir: &Path) -> String {
    let dir = dir.display();
    format!(
        r#"<?xml version="1.0"?>
<!-- Written by `cargo xtask stack up`: a private, loopback-only ClickHouse for development. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>{dir}/log/server.log</log>
        <errorlog>{dir}/log/error.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <http_port>8123</http_port>
    <tcp_port>{CLICKHOUSE_TCP_PORT}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>512</max_connections>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>536870912</mark_cache_size>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/data/tmp/</tmp_path>
    <user_files_path>{dir}/data/user_files/</user_files_path>
    <format_schema_path>{dir}/data/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
"#
    )
}

const CLICKHOUSE_USERS: &str = r#"<?xml version="1.0"?>
<!-- Written by `cargo xtask stack up`. Development only: `default` has no password and accepts
     connections from loopback alone. -->
<yandex>
    <profiles>
        <default><max_memory_usage>8000000000</max_memory_usage></default>
        <readonly><readonly>1</readonly></readonly>
        <!-- The API's reader: may read and set query settings, never write or change schema. -->
        <cyberflag_reader><readonly>2</readonly></cyberflag_reader>
        <!-- Ingest and alerting: may insert, never create, alter or drop. -->
        <cyberflag_writer><allow_ddl>0</allow_ddl></cyberflag_writer>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <cyberflag_reader>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>cyberflag_reader</profile>
            <quota>default</quota>
        </cyberflag_reader>
        <cyberflag_ingest>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>cyberflag_writer</profile>
            <quota>default</quota>
        </cyberflag_ingest>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
                <read_rows>0</read_rows><execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
"#;

fn start_broker(state: &Path, durable: bool) -> anyhow::Result<()> {
    if port_open(BROKER) {
        eprintln!("a broker already listens on {BROKER}: reusing it");
        return Ok(());
    }
    let tansu = tansu_binary();
    if !tansu.is_file() {
        let root = cache_dir().join(format!("tansu-{TANSU_VERSION}"));
        eprintln!(
            "building tansu {TANSU_VERSION} into {} (once; 17-30 minutes on 2 cores)",
            root.display()
        );
        let status = Command::new("cargo")
            .args(["install", "tansu", "--version", TANSU_VERSION, "--locked"])
            .args([
                "--no-default-features",
                "--features",
                "dynostore,libsql",
                "--root",
            ])
            .arg(&root)
            .status()
            .context("cannot run cargo install")?;
        if !status.success() || !tansu.is_file() {
            bail!("cargo install tansu {TANSU_VERSION} failed ({status})");
        }
    }
    let dir = state.join("broker");
    fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let storage = if durable {
        // Tansu resolves the path against its working directory (the broker folder); an
        // absolute path would be doubled.
        "sqlite://tansu.db".to_owned()
    } else {
        "memory://tansu/".to_owned()
    };
    let listener = format!("tcp://{BROKER}");
    let mut command = Command::new(&tansu);
    command
        .args([
            "broker",
            "--listener-url",
            &listener,
            "--advertised-listener-url",
            &listener,
        ])
        .args(["--storage-engine", &storage]);
    let child = spawn_detached(
        command,
        &dir,
        &dir.join("broker.log"),
        &state.join("broker.pid"),
    )
    .context("cannot start tansu")?;
    eprintln!("started tansu (pid {}, storage {storage})", child.id());
    wait_until(Duration::from_secs(30), || port_open(BROKER)).with_context(|| {
        format!(
            "broker did not listen; see {}",
            dir.join("broker.log").display()
        )
    })
}

/// Writes `.stack/keyring.toml` once: random development keys for every force (signing key
/// and pseudonymisation key). Never overwritten, so pseudonyms stay stable across runs. It is
/// private to its owner (0600), as every role requires outside development; one written
/// before that rule (0644) is made private.
pub(crate) fn write_dev_keyring(state: &Path) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = state.join("keyring.toml");
    if path.exists() {
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} private", path.display()))?;
        return Ok(path.canonicalize()?);
    }
    let mut random = fs::File::open("/dev/urandom").context("reading /dev/urandom")?;
    let mut hex_key = || -> anyhow::Result<String> {
        let mut bytes = [0u8; 32];
        random.read_exact(&mut bytes)?;
        Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
    };
    let mut text = String::from(
        "# Development keyring written by `cargo xtask stack up` (ignored by git).\n\
         # In production the national keyring holds only signing keys; a force's\n\
         # pseudonymisation key never leaves the force.\n",
    );
    for force in model::ForceId::all() {
        text.push_str(&format!(
            "\n[forces.{force}]\nkey_id = \"{force}-dev\"\nsigning_key = \"{}\"\npseudonymisation_key = \"{}\"\n",
            hex_key()?,
            hex_key()?
        ));
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    eprintln!("wrote {}", path.display());
    Ok(path.canonicalize()?)
}

/// Starts `cyberflag api` in the background for the demo (reusing one this project started),
/// with its log in `.stack/api.log`; `stack down` stops it.
pub fn start_api(root: &Path, binary: &Path) -> anyhow::Result<()> {
    let state = root.join(".stack");
    let pid_file = state.join("api.pid");
    if running_pid(&pid_file).is_some() {
        eprintln!("the API started earlier is still running: reusing it");
        return Ok(());
    }
    if port_open("127.0.0.1:8080") {
        bail!("port 8080 is taken; stop what listens there to see the dashboard");
    }
    let mut command = Command::new(binary);
    command.arg("api");
    spawn_detached(command, root, &state.join("api.log"), &pid_file)?;
    wait_until(Duration::from_secs(20), || port_open("127.0.0.1:8080"))
        .context("the API did not start; see .stack/api.log")
}

/// Starts `command` in `dir` in its own process group (so it outlives this process), with its
/// output in `log`, and records its pid in `pid_file` for `stack down`.
pub(crate) fn spawn_detached(
    mut command: Command,
    dir: &Path,
    log: &Path,
    pid_file: &Path,
) -> anyhow::Result<std::process::Child> {
    let log = fs::File::create(log)?;
    let child = command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()?;
    fs::write(pid_file, child.id().to_string())?;
    Ok(child)
}

/// Writes `./cyberflag.toml` for development unless one exists (it is never overwritten: a
/// developer's edits win).
fn write_dev_config(root: &Path, keyring: &Path) -> anyhow::Result<()> {
    let path = root.join("cyberflag.toml");
    if path.exists() {
        return Ok(());
    }
    fs::write(
        &path,
        format!(
            "# Development configuration written by `cargo xtask stack up` (ignored by git).\n\
             # Every cyberflag command run from this folder reads it; CYBERFLAG_* variables\n\
             # override it. `cyberflag config keys` lists every key.\n\n\
             [kafka]\nbrokers = \"{BROKER}\"\n\n\
             [clickhouse]\nurl = \"http://{CLICKHOUSE_HTTP}\"\ndatabase = \"cyberflag\"\n\n\
             [security]\nkeyring = \"{}\"\n\n\
             [adapter]\nstate_dir = \"{}\"\n",
            keyring.display(),
            root.join(".stack").join("adapter-state").display()
        ),
    )?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

pub(crate) use testkit::port_open;

/// `GET /ping` answers `Ok.` on every ClickHouse version.
fn clickhouse_ping() -> bool {
    clickhouse_ping_at(CLICKHOUSE_HTTP)
}

/// Whether a ClickHouse server answers `GET /ping` on `address` (`host:port`).
pub(crate) fn clickhouse_ping_at(address: &str) -> bool {
    let Ok(addr) = address.parse::<SocketAddr>() else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /ping HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.") && response.contains(" 200 ") && response.ends_with("Ok.\n")
}

pub(crate) fn wait_until(limit: Duration, ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    Ok(testkit::wait_until(
        limit,
        Duration::from_millis(250),
        "not ready",
        ready,
    )?)
}

/// The pid in `pid_file` if that process is alive.
pub(crate) fn running_pid(pid_file: &Path) -> Option<u32> {
    let pid: u32 = fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// Stops the process in `pid_file` if it is alive and is `binary` (a recycled pid belonging to
/// something else is left alone).
pub(crate) fn stop(pid_file: &Path, binary: &str) -> anyhow::Result<Option<u32>> {
    let Some(pid) = running_pid(pid_file) else {
        let _ = fs::remove_file(pid_file);
        return Ok(None);
    };
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if !String::from_utf8_lossy(&cmdline).contains(binary) {
        let _ = fs::remove_file(pid_file);
        return Ok(None);
    }
    let signal = |name: &str| {
        Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .map(drop)
    };
    signal("TERM")?;
    let alive = || Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid);
    if wait_until(Duration::from_secs(20), || !alive()).is_err() {
        signal("KILL")?;
    }
    fs::remove_file(pid_file)?;
    Ok(Some(pid))
}

fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim().starts_with('Z'))
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// The development keyring is private to its owner, and one written 0644 by an earlier
    /// version is made private without changing its keys.
    #[test]
    fn the_development_keyring_is_private() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let state =
            std::env::temp_dir().join(format!("xtask-keyring-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&state).unwrap();
        let path = write_dev_keyring(&state).unwrap();
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        let keys = fs::read_to_string(&path).unwrap();
        assert!(keys.contains("[forces.west-mercia]"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let again = write_dev_keyring(&state).unwrap();
        assert_eq!(mode(&again), 0o600);
        assert_eq!(fs::read_to_string(&again).unwrap(), keys, "never rewritten");
        fs::remove_dir_all(&state).unwrap();
    }
}
