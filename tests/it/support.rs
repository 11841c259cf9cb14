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

/// Makes a secret file readable by its owner only (mode 0600).
pub fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A test's private environment: its own topics, keyring and adapter state, on the shared
/// stack. Dropping it removes the temporary files.
pub struct Sandbox {
    /// Temporary directory for keyring, state and inputs.
    pub dir: tempfile::TempDir,
    /// The raw topic.
    pub raw_topic: String,
    /// The dead-letter topic.
    pub dlq_topic: String,
    /// The ClickHouse database.
    pub database: String,
    /// The ingest consumer group.
    pub group: String,
}

impl Sandbox {
    /// Creates the topics (`partitions` raw partitions) and a keyring with a key per force.
    pub fn new(name: &str, partitions: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut keyring = String::new();
        for (i, force) in model::ForceId::all().enumerate() {
            keyring.push_str(&format!(
                "[forces.{force}]\nkey_id = \"{force}-test\"\nsigning_key = \"{}\"\npseudonymisation_key = \"{}\"\n",
                format!("{:02x}", i + 1).repeat(32),
                format!("{:02x}", i + 101).repeat(32),
            ));
        }
        // Private, as every role requires of a keyring outside development.
        let path = dir.path().join("keyring.toml");
        std::fs::write(&path, keyring).unwrap();
        set_private(&path);
        let sandbox = Self {
            raw_topic: unique(&format!("it.{name}.raw")),
            dlq_topic: unique(&format!("it.{name}.dlq")),
            database: unique(&format!("it_{name}")),
            group: unique(&format!("it-{name}")),
            dir,
        };
        let partitions = partitions.to_string();
        let mut vars = sandbox.vars();
        vars.push(("CYBERFLAG_KAFKA_RAW_PARTITIONS".into(), partitions));
        succeed(cyberflag_owned(&vars).args(["topics", "create"]));
        sandbox
    }

    /// The variables pointing a `cyberflag` command at this sandbox.
    pub fn vars(&self) -> Vec<(String, String)> {
        vec![
            ("CYBERFLAG_KAFKA_RAW_TOPIC".into(), self.raw_topic.clone()),
            ("CYBERFLAG_KAFKA_DLQ_TOPIC".into(), self.dlq_topic.clone()),
            (
                "CYBERFLAG_CLICKHOUSE_DATABASE".into(),
                self.database.clone(),
            ),
            ("CYBERFLAG_INGEST_GROUP".into(), self.group.clone()),
            (
                "CYBERFLAG_SECURITY_KEYRING".into(),
                self.dir.path().join("keyring.toml").display().to_string(),
            ),
            (
                "CYBERFLAG_ADAPTER_STATE_DIR".into(),
                self.dir.path().join("state").display().to_string(),
            ),
            ("CYBERFLAG_METRICS_LISTEN".into(), String::new()),
        ]
    }

    /// A `cyberflag` command for this sandbox, with `extra` variables.
    pub fn command(&self, extra: &[(&str, &str)]) -> Command {
        let mut vars = self.vars();
        vars.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        cyberflag_owned(&vars)
    }

    /// Every message on the raw topic now.
    pub fn raw_messages(&self) -> Vec<bus::Received> {
        bus::read_topic(
            &kafka(),
            &self.raw_topic,
            std::time::Duration::from_secs(120),
        )
        .unwrap()
    }

    /// The keyring the national side verifies with.
    pub fn verification_keyring(&self) -> wire::Keyring {
        let mut keyring = wire::Keyring::new();
        for (i, force) in model::ForceId::all().enumerate() {
            let key = wire::Secret::from_hex(&format!("{:02x}", i + 1).repeat(32)).unwrap();
            keyring.insert(format!("{force}-test"), force.as_str(), key);
        }
        keyring
    }
}

fn cyberflag_owned(vars: &[(String, String)]) -> Command {
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    cyberflag(&borrowed)
}

/// Runs `command`, asserting success, and returns standard error (where summaries go).
pub fn succeed_stderr(command: &mut Command) -> String {
    let output = command.output().expect("the binary runs");
    assert_success(&output, command);
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The real police.uk files of one force, in name order.
pub fn police_uk_files(force: &str) -> Vec<PathBuf> {
    let dir = root().join("tests/data/police-uk").join(force);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

/// A minimal HTTP/1.1 exchange on loopback: returns the status code and body.
pub fn http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let response = testkit::exchange(
        address,
        method,
        path,
        headers,
        body,
        std::time::Duration::from_secs(60),
    )
    .unwrap_or_else(|error| panic!("{method} {path} on {address}: {error}"));
    (response.status, response.text())
}

/// A free loopback port.
pub fn free_port() -> u16 {
    testkit::free_port().unwrap()
}

impl Sandbox {
    /// Applies the schema to this sandbox's database.
    pub fn migrate(&self) {
        succeed(self.command(&[]).arg("migrate"));
    }

    /// Publishes files through a one-off adapter run; returns the summary.
    pub fn publish(&self, force: &str, dialect: &str, files: &[PathBuf]) -> String {
        succeed_stderr(&mut self.adapter(&[], force, dialect, files))
    }

    /// A one-off adapter run publishing `files` of `force` in `dialect`, with `extra`
    /// variables, not yet started.
    pub fn adapter(
        &self,
        extra: &[(&str, &str)],
        force: &str,
        dialect: &str,
        files: &[PathBuf],
    ) -> Command {
        let mut command = self.command(extra);
        command
            .args(["adapter", "--force", force, "--dialect", dialect])
            .args(files);
        command
    }

    /// A long-running `cyberflag ingest` with `extra` variables, standard error piped (read it
    /// with [`terminate`]); killed if the test fails first.
    pub fn run_ingest(&self, extra: &[(&str, &str)]) -> Guarded {
        Guarded::new(
            self.command(extra)
                .arg("ingest")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        )
    }

    /// Runs `cyberflag ingest --exit-when-idle` to completion; returns its totals.
    pub fn ingest_until_idle(&self, extra: &[(&str, &str)]) -> IngestTotals {
        let mut command = self.command(extra);
        command.args(["ingest", "--exit-when-idle", "--idle-seconds", "2"]);
        IngestTotals::parse(&succeed_stderr(&mut command))
    }

    /// `cyberflag stats --format csv` with `args`: a map from the grouping values to counts.
    pub fn stats(&self, args: &[&str]) -> std::collections::BTreeMap<Vec<String>, u64> {
        let mut command = self.command(&[]);
        command.args(["stats", "--format", "csv"]).args(args);
        parse_counts(&succeed(&mut command))
    }

    /// Drops the sandbox's database.
    pub fn drop_database(&self) {
        let warehouse = warehouse(&self.database);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(warehouse.drop_database()).unwrap();
    }
}

/// The totals `cyberflag ingest` prints when it exits.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestTotals {
    /// Messages taken from the topic.
    pub received: u64,
    /// Versions stored.
    pub stored: u64,
    /// Versions already stored.
    pub duplicates: u64,
    /// Messages dead-lettered.
    pub dead_lettered: u64,
}

impl IngestTotals {
    /// Parses the `received …, stored …, duplicates …, dead-lettered …` line.
    pub fn parse(stderr: &str) -> Self {
        let line = stderr
            .lines()
            .find(|l| l.starts_with("received "))
            .unwrap_or_else(|| panic!("no totals line in:\n{stderr}"));
        let numbers: Vec<u64> = line
            .split([',', ' '])
            .filter_map(|word| word.parse().ok())
            .collect();
        assert_eq!(numbers.len(), 4, "{line}");
        Self {
            received: numbers[0],
            stored: numbers[1],
            duplicates: numbers[2],
            dead_lettered: numbers[3],
        }
    }

    /// Adds another run's totals.
    pub fn add(self, other: Self) -> Self {
        Self {
            received: self.received + other.received,
            stored: self.stored + other.stored,
            duplicates: self.duplicates + other.duplicates,
            dead_lettered: self.dead_lettered + other.dead_lettered,
        }
    }
}

/// Expected `force,month,category` counts of police.uk files: distinct Crime IDs, where a
/// repeated ID counts once with its last row's month and category (the adapter's rule).
pub fn police_uk_expected(files: &[PathBuf]) -> std::collections::BTreeMap<Vec<String>, u64> {
    let mut last: std::collections::BTreeMap<(String, String), (String, String)> =
        std::collections::BTreeMap::new();
    for file in files {
        let mut reader = csv::Reader::from_path(file).unwrap();
        for row in reader.records() {
            let row = row.unwrap();
            let id = &row[0];
            if id.is_empty() {
                continue;
            }
            let force = model::ForceId::lookup(&row[2]).unwrap().as_str().to_owned();
            let category = model::Category::parse(&row[9]).unwrap().slug().to_owned();
            last.insert((force, id.to_owned()), (row[1].to_owned(), category));
        }
    }
    let mut expected = std::collections::BTreeMap::new();
    for ((force, _), (month, category)) in last {
        *expected.entry(vec![force, month, category]).or_default() += 1;
    }
    expected
}

/// A CSV count table (a header ending in `count`, then rows) as grouping values → count.
pub fn parse_counts(text: &str) -> std::collections::BTreeMap<Vec<String>, u64> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    assert!(header.ends_with("count"), "{header}");
    lines
        .map(|line| {
            let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
            let count = cells.pop().unwrap().parse().unwrap();
            (cells, count)
        })
        .collect()
}

/// Asserts two count tables are equal, reporting only the differing groups.
#[track_caller]
pub fn assert_counts(
    actual: &std::collections::BTreeMap<Vec<String>, u64>,
    expected: &std::collections::BTreeMap<Vec<String>, u64>,
    context: &str,
) {
    let mut differences = Vec::new();
    for key in actual
        .keys()
        .chain(expected.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (a, e) = (
            actual.get(key).copied().unwrap_or(0),
            expected.get(key).copied().unwrap_or(0),
        );
        if a != e {
            differences.push(format!("{key:?}: actual {a}, expected {e}"));
        }
    }
    let total = |m: &std::collections::BTreeMap<Vec<String>, u64>| m.values().sum::<u64>();
    assert!(
        differences.is_empty(),
        "{context}: {} group(s) differ (totals: actual {}, expected {}); first: {:#?}",
        differences.len(),
        total(actual),
        total(expected),
        &differences[..differences.len().min(10)]
    );
}

/// Rows with a Crime ID in police.uk files (one message each) and distinct Crime IDs.
pub fn crime_rows(files: &[PathBuf]) -> (usize, usize) {
    let mut rows = 0;
    let mut ids = std::collections::BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        for line in text.lines().skip(1) {
            let id = line.split(',').next().unwrap_or_default();
            if !id.is_empty() {
                rows += 1;
                ids.insert(id.to_owned());
            }
        }
    }
    (rows, ids.len())
}

/// A running `cyberflag api` on a free loopback port; killed when dropped.
pub struct RunningApi {
    child: Option<std::process::Child>,
    /// `127.0.0.1:<port>`.
    pub address: String,
    /// The port.
    pub port: u16,
}

impl RunningApi {
    /// Kills the API and returns what it printed (when its output was piped).
    pub fn stop(mut self) -> Output {
        let mut child = self.child.take().expect("running until stopped");
        let _ = child.kill();
        child.wait_with_output().unwrap()
    }
}

impl Drop for RunningApi {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Sandbox {
    /// This sandbox's API token file.
    pub fn tokens_file(&self) -> String {
        self.dir.path().join("tokens.toml").display().to_string()
    }

    /// A new API token for `role` in this sandbox's token file.
    pub fn token(&self, role: &str) -> String {
        let tokens = self.tokens_file();
        succeed(
            self.command(&[("CYBERFLAG_API_TOKENS_FILE", tokens.as_str())])
                .args(["token", "create", "--role", role]),
        )
        .trim()
        .to_owned()
    }

    /// Starts `cyberflag api` with this sandbox's token file and `extra` variables, its
    /// standard error going to `stderr`, and waits until it listens.
    pub fn spawn_api(&self, extra: &[(&str, &str)], stderr: std::process::Stdio) -> RunningApi {
        let tokens = self.tokens_file();
        let mut vars = vec![("CYBERFLAG_API_TOKENS_FILE", tokens.as_str())];
        vars.extend_from_slice(extra);
        spawn_api(self.command(&vars), stderr)
    }
}

/// Runs `command` (a `cyberflag` command carrying its configuration) as `api` on a free
/// loopback port, its standard error going to `stderr`, and waits until it listens.
pub fn spawn_api(mut command: Command, stderr: std::process::Stdio) -> RunningApi {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let mut child = command
        .args(["api", "--listen", &address])
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(&address).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the API exited ({status}) before listening");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the API did not listen"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    RunningApi {
        child: Some(child),
        address,
        port,
    }
}

/// Waits until `done` holds, checking every `every`; fails naming `what` after `timeout`.
pub fn wait_until(
    timeout: std::time::Duration,
    every: std::time::Duration,
    what: &str,
    done: impl FnMut() -> bool,
) {
    if let Err(error) = testkit::wait_until(timeout, every, what, done) {
        panic!("{error}");
    }
}

/// SIGTERMs a long-running role, waits for it (a minute at most), asserts it exited 0, and
/// returns its standard error.
pub fn terminate(child: std::process::Child) -> String {
    let output = testkit::terminate(child, std::time::Duration::from_secs(60)).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "exited {}: {stderr}",
        output.status
    );
    stderr
}

/// Status code and body of a raw HTTP/1.1 response.
pub fn parse_http_response(response: &[u8]) -> (u16, String) {
    let response = testkit::Response::parse(response);
    (response.status, response.text())
}

pub use testkit::Guarded;
