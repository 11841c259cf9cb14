//! `cargo xtask cluster up|down|stop-replicas|status`: a real ClickHouse cluster on loopback.
//!
//! Two shards of two replicas, each replica its own `clickhouse-server` 18.16 process (Debian's
//! package, as the local stack) with its own ports and data directory under
//! `.stack/cluster/`, coordinated by one ZooKeeper (Debian's `zookeeper` package) that the
//! replicated tables need. The cluster is named `cyberflag` in every server's
//! `remote_servers`, so `cyberflag migrate` creates replicated `<table>_local` tables and
//! Distributed `<table>` tables over them. Clients reach the cluster through the first
//! replica of the first shard (in production a load balancer or Service stands there).
//!
//! Like `stack`, it is idempotent and stops only what it started: a server already answering
//! on its port is reused when it belongs to a cluster named `cyberflag`, pid files record what
//! this project started. `stop-replicas` stops one replica of each shard (never the entry
//! node) to rehearse an outage; `up` brings them back and waits until every replica has
//! caught up with its shard before it returns.
//!
//! Ports: ZooKeeper 28181; replica n (0–3) HTTP 28123 + 10n, native 29000 + 10n,
//! interserver 29009 + 10n. None collides with the local stack (8123, 9000, 9009, 9092).

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::stack;

/// The cluster's name in `remote_servers` and in `clickhouse.cluster`.
pub const NAME: &str = "cyberflag";
/// ZooKeeper's client port.
const ZOOKEEPER_PORT: u16 = 28181;
/// The configuration `up` writes at the root of the work tree.
pub const CONFIG_FILE: &str = "cyberflag-cluster.toml";

/// One replica of one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Node {
    shard: u16,
    replica: u16,
}

const NODES: [Node; 4] = [
    Node {
        shard: 1,
        replica: 1,
    },
    Node {
        shard: 1,
        replica: 2,
    },
    Node {
        shard: 2,
        replica: 1,
    },
    Node {
        shard: 2,
        replica: 2,
    },
];

impl Node {
    fn index(self) -> u16 {
        (self.shard - 1) * 2 + (self.replica - 1)
    }

    fn name(self) -> String {
        format!("s{}r{}", self.shard, self.replica)
    }

    fn http_port(self) -> u16 {
        28123 + 10 * self.index()
    }

    fn tcp_port(self) -> u16 {
        29000 + 10 * self.index()
    }

    fn interserver_port(self) -> u16 {
        29009 + 10 * self.index()
    }

    fn http(self) -> String {
        format!("127.0.0.1:{}", self.http_port())
    }

    /// The replicas `stop-replicas` stops: one per shard, the second of the first shard and
    /// the first of the second (so both positions are rehearsed), never the entry node.
    fn in_outage(self) -> bool {
        matches!((self.shard, self.replica), (1, 2) | (2, 1))
    }

    fn pid_file(self, state: &Path) -> PathBuf {
        state.join(format!("{}.pid", self.name()))
    }
}

/// The node clients connect to.
const ENTRY: Node = NODES[0];

fn state_dir(root: &Path) -> PathBuf {
    root.join(".stack").join("cluster")
}

/// Starts whatever is not running, waits until every replica answers and has caught up,
/// writes `./cyberflag-cluster.toml` and applies the schema. Returns whether it started any
/// process (so a caller that brought the cluster up can take it down again).
pub fn up(root: &Path) -> anyhow::Result<bool> {
    let state = state_dir(root);
    fs::create_dir_all(&state)?;
    stack::ensure_build_tools()?;
    let server = stack::ensure_clickhouse_server()?;
    let mut started = start_zookeeper(&state)?;
    for node in NODES {
        started |= start_node(&state, &server, node)?;
    }
    for node in NODES {
        stack::wait_until(Duration::from_secs(90), || {
            stack::clickhouse_ping_at(&node.http())
        })
        .with_context(|| {
            format!(
                "replica {} did not answer on {}; see {}",
                node.name(),
                node.http(),
                state.join(node.name()).join("log").display()
            )
        })?;
        check_membership(node)?;
    }
    sync_replicas()?;
    let keyring = stack::write_dev_keyring(&root.join(".stack"))?;
    let config = write_config(root, &keyring)?;
    let cyberflag = crate::cyberflag_binary(root)?;
    let mut migrate = Command::new(&cyberflag);
    migrate
        .arg("--config")
        .arg(&config)
        .arg("migrate")
        .current_dir(root);
    let status = migrate.status().context("running cyberflag migrate")?;
    if !status.success() {
        bail!("`cyberflag migrate` on the cluster failed ({status})");
    }
    if stack::port_open("127.0.0.1:9092") {
        let status = Command::new(&cyberflag)
            .arg("--config")
            .arg(&config)
            .args(["topics", "create"])
            .current_dir(root)
            .status()
            .context("running cyberflag topics create")?;
        if !status.success() {
            bail!("`cyberflag topics create` for the cluster failed ({status})");
        }
    } else {
        eprintln!("no broker on 127.0.0.1:9092: run `cargo xtask stack up` to create the topics");
    }
    eprintln!(
        "cluster {NAME} is up: 2 shards x 2 replicas, entry http://{}, ZooKeeper 127.0.0.1:{ZOOKEEPER_PORT}; \
         configuration in {CONFIG_FILE}",
        ENTRY.http()
    );
    Ok(started)
}

/// Stops every process of the cluster this project started.
pub fn down(root: &Path) -> anyhow::Result<()> {
    let state = state_dir(root);
    for node in NODES {
        report_stop(
            &node.name(),
            stack::stop(&node.pid_file(&state), "clickhouse")?,
        );
    }
    report_stop(
        "zookeeper",
        stack::stop(&state.join("zookeeper.pid"), "zookeeper")?,
    );
    Ok(())
}

/// Stops one replica of each shard (`up` brings them back).
pub fn stop_replicas(root: &Path) -> anyhow::Result<()> {
    let state = state_dir(root);
    for node in NODES.into_iter().filter(|n| n.in_outage()) {
        match stack::stop(&node.pid_file(&state), "clickhouse")? {
            Some(pid) => eprintln!(
                "stopped replica {} of shard {} ({}, pid {pid})",
                node.replica,
                node.shard,
                node.name()
            ),
            None if stack::port_open(&node.http()) => bail!(
                "replica {} answers on {} but was not started by this project: stop it where it \
                 was started",
                node.name(),
                node.http()
            ),
            None => eprintln!("replica {} was not running", node.name()),
        }
    }
    Ok(())
}

/// Shows what answers and what this project started.
pub fn status(root: &Path) -> anyhow::Result<()> {
    let state = state_dir(root);
    let zookeeper = zookeeper_ok();
    println!(
        "{:<10} {:<22} {:<8} started here",
        "process", "address", "answers"
    );
    println!(
        "{:<10} {:<22} {:<8} {}",
        "zookeeper",
        format!("127.0.0.1:{ZOOKEEPER_PORT}"),
        yes(zookeeper),
        yes(stack::running_pid(&state.join("zookeeper.pid")).is_some())
    );
    for node in NODES {
        println!(
            "{:<10} {:<22} {:<8} {}",
            node.name(),
            node.http(),
            yes(stack::clickhouse_ping_at(&node.http())),
            yes(stack::running_pid(&node.pid_file(&state)).is_some())
        );
    }
    Ok(())
}

fn yes(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn report_stop(name: &str, stopped: Option<u32>) {
    match stopped {
        Some(pid) => eprintln!("stopped {name} (pid {pid})"),
        None => eprintln!("{name}: not started by this project, left alone"),
    }
}

/// Debian's ZooKeeper jar, installed with its Java runtime if missing.
fn zookeeper_jar() -> anyhow::Result<PathBuf> {
    let jar = PathBuf::from("/usr/share/java/zookeeper.jar");
    if !jar.is_file() || !Path::new("/usr/bin/java").is_file() {
        eprintln!("installing zookeeper from Debian (once)");
        stack::apt_install(&["zookeeper"], true)?;
    }
    anyhow::ensure!(
        jar.is_file(),
        "{} still missing after apt-get install zookeeper",
        jar.display()
    );
    Ok(jar)
}

/// Whether ZooKeeper serves sessions: `srvr` names its mode (`ruok` answers `imok` before
/// the server takes sessions, and ClickHouse 18.16 can crash on a refused first session).
fn zookeeper_ok() -> bool {
    four_letter_word("srvr").is_some_and(|answer| answer.contains("Mode: "))
}

fn four_letter_word(word: &str) -> Option<String> {
    let address: SocketAddr = format!("127.0.0.1:{ZOOKEEPER_PORT}").parse().ok()?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(word.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

fn start_zookeeper(state: &Path) -> anyhow::Result<bool> {
    if zookeeper_ok() {
        eprintln!("ZooKeeper already answers on 127.0.0.1:{ZOOKEEPER_PORT}: reusing it");
        return Ok(false);
    }
    let address = format!("127.0.0.1:{ZOOKEEPER_PORT}");
    if stack::port_open(&address) {
        bail!("port {address} is taken by something that is not ZooKeeper; free it");
    }
    let jar = zookeeper_jar()?;
    let dir = state.join("zookeeper");
    fs::create_dir_all(dir.join("data"))?;
    let dir = dir.canonicalize()?;
    let config = dir.join("zoo.cfg");
    fs::write(
        &config,
        format!(
            "# Written by `cargo xtask cluster up`: one ZooKeeper for the local ClickHouse cluster.\n\
             tickTime=2000\ninitLimit=10\nsyncLimit=5\n\
             dataDir={}\n\
             clientPort={ZOOKEEPER_PORT}\nclientPortAddress=127.0.0.1\n\
             # No admin web server (it would take port 8080, the API's).\n\
             admin.enableServer=false\n\
             4lw.commands.whitelist=ruok,srvr,stat,mntr\n\
             maxClientCnxns=200\n\
             autopurge.snapRetainCount=3\nautopurge.purgeInterval=1\n",
            dir.join("data").display()
        ),
    )?;
    // Debian's jar names its dependencies in its manifest; a logging binding makes ZooKeeper's
    // log readable instead of silent.
    let mut classpath = vec![dir.display().to_string(), jar.display().to_string()];
    let simple = Path::new("/usr/share/java/slf4j-simple.jar");
    if simple.is_file() {
        classpath.push(simple.display().to_string());
    }
    let mut command = Command::new("java");
    command
        .args(["-Xms32m", "-Xmx256m", "-XX:+UseSerialGC"])
        .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
        .arg("-Dzookeeper.admin.enableServer=false")
        .args(["-cp", &classpath.join(":")])
        .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
        .arg(&config);
    let child = stack::spawn_detached(
        command,
        &dir,
        &dir.join("zookeeper.log"),
        &state.join("zookeeper.pid"),
    )
    .context("cannot start ZooKeeper (java)")?;
    eprintln!("started ZooKeeper (pid {}) on {address}", child.id());
    stack::wait_until(Duration::from_secs(60), zookeeper_ok).with_context(|| {
        format!(
            "ZooKeeper did not answer; see {}",
            dir.join("zookeeper.log").display()
        )
    })?;
    Ok(true)
}

fn start_node(state: &Path, server: &Path, node: Node) -> anyhow::Result<bool> {
    if stack::clickhouse_ping_at(&node.http()) {
        eprintln!(
            "replica {} already answers on {}: reusing it",
            node.name(),
            node.http()
        );
        return Ok(false);
    }
    for port in [node.http_port(), node.tcp_port(), node.interserver_port()] {
        let address = format!("127.0.0.1:{port}");
        if stack::port_open(&address) {
            bail!(
                "port {address} (replica {}) is taken by something else; free it",
                node.name()
            );
        }
    }
    let dir = state.join(node.name());
    fs::create_dir_all(dir.join("data"))?;
    let dir = dir.canonicalize()?;
    fs::write(dir.join("config.xml"), node_config(&dir, node))?;
    fs::write(dir.join("users.xml"), USERS)?;
    let mut command = Command::new(server);
    command.arg(format!(
        "--config-file={}",
        dir.join("config.xml").display()
    ));
    let child = stack::spawn_detached(
        command,
        &dir,
        &dir.join("stdout.log"),
        &node.pid_file(state),
    )
    .with_context(|| format!("cannot start replica {}", node.name()))?;
    eprintln!(
        "started replica {} of shard {} ({}, pid {}) on {}",
        node.replica,
        node.shard,
        node.name(),
        child.id(),
        node.http()
    );
    Ok(true)
}

/// A replica's server configuration. Caches and pools are kept small: four servers share
/// the machine with the local stack (the single server's caches are 256 + 512 MiB).
fn node_config(dir: &Path, node: Node) -> String {
    let dir = dir.display();
    let replicas = |shard: u16| {
        NODES
            .iter()
            .filter(|n| n.shard == shard)
            .map(|n| {
                format!(
                    "                <replica><host>127.0.0.1</host><port>{}</port></replica>\n",
                    n.tcp_port()
                )
            })
            .collect::<String>()
    };
    format!(
        r#"<?xml version="1.0"?>
<!-- Written by `cargo xtask cluster up`: replica {replica} of shard {shard} of the local
     ClickHouse cluster `{NAME}` (loopback only). -->
<yandex>
    <logger>
        <level>warning</level>
        <log>{dir}/log/server.log</log>
        <errorlog>{dir}/log/error.log</errorlog>
        <size>50M</size>
        <count>2</count>
    </logger>
    <http_port>{http}</http_port>
    <tcp_port>{tcp}</tcp_port>
    <interserver_http_port>{interserver}</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>256</max_connections>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>64</max_concurrent_queries>
    <uncompressed_cache_size>33554432</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/data/tmp/</tmp_path>
    <user_files_path>{dir}/data/user_files/</user_files_path>
    <format_schema_path>{dir}/data/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <remote_servers>
        <{NAME}>
            <shard>
                <internal_replication>true</internal_replication>
{shard1}            </shard>
            <shard>
                <internal_replication>true</internal_replication>
{shard2}            </shard>
        </{NAME}>
    </remote_servers>
    <zookeeper>
        <node><host>127.0.0.1</host><port>{ZOOKEEPER_PORT}</port></node>
    </zookeeper>
    <macros>
        <shard>{shard:02}</shard>
        <replica>{name}</replica>
    </macros>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <flush_interval_milliseconds>2000</flush_interval_milliseconds>
    </query_log>
</yandex>
"#,
        replica = node.replica,
        shard = node.shard,
        http = node.http_port(),
        tcp = node.tcp_port(),
        interserver = node.interserver_port(),
        name = node.name(),
        shard1 = replicas(1),
        shard2 = replicas(2),
    )
}

/// The cluster's users: as the local stack's, plus the alerting and snapshot roles. Loopback
/// only, no passwords: development, never production (`deploy/clickhouse/cluster/` is).
/// Distributed queries reach the other replicas as `default`.
const USERS: &str = r#"<?xml version="1.0"?>
<!-- Written by `cargo xtask cluster up`. Development only: no passwords, loopback only. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <background_pool_size>4</background_pool_size>
            <background_schedule_pool_size>8</background_schedule_pool_size>
            <log_queries>1</log_queries>
        </default>
        <!-- The API's reader: may read and set query settings, never write or change schema. -->
        <cyberflag_reader><readonly>2</readonly><log_queries>1</log_queries></cyberflag_reader>
        <!-- Ingest and alerting: may insert, never create, alter or drop. -->
        <cyberflag_writer><allow_ddl>0</allow_ddl><log_queries>1</log_queries></cyberflag_writer>
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
        <cyberflag_alerts>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>cyberflag_writer</profile>
            <quota>default</quota>
        </cyberflag_alerts>
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

/// Runs `sql` on the server at `address` over HTTP and returns the body (TabSeparated).
fn query(address: &str, sql: &str) -> anyhow::Result<String> {
    let addr: SocketAddr = address.parse()?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .with_context(|| format!("connecting to {address}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(300)))?;
    let request = format!(
        "POST / HTTP/1.0\r\nHost: {address}\r\nContent-Length: {}\r\n\r\n{sql}",
        sql.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .with_context(|| format!("{address}: malformed HTTP response"))?;
    if !head.starts_with("HTTP/1.") || !head.contains(" 200 ") {
        bail!("{address}: {sql}: {}", body.trim());
    }
    Ok(body.to_owned())
}

/// A server answering on a replica's port must be that replica of a cluster named `cyberflag`
/// (not, say, a single server someone else started there).
fn check_membership(node: Node) -> anyhow::Result<()> {
    let replicas = query(
        &node.http(),
        &format!("SELECT count() FROM system.clusters WHERE cluster = '{NAME}'"),
    )?;
    let macros = query(
        &node.http(),
        "SELECT macro, substitution FROM system.macros ORDER BY macro",
    )?;
    let expected = format!("replica\t{}\nshard\t{:02}\n", node.name(), node.shard);
    if replicas.trim() != NODES.len().to_string() || macros != expected {
        bail!(
            "the server on {} is not replica {} of the local cluster {NAME} (clusters: {}, \
             macros: {:?}); stop it or free the port",
            node.http(),
            node.name(),
            replicas.trim(),
            macros
        );
    }
    Ok(())
}

/// Waits until every replicated table on every replica has fetched what its shard holds
/// (`SYSTEM SYNC REPLICA`), so a replica that was stopped serves no stale reads once `up`
/// returns.
fn sync_replicas() -> anyhow::Result<()> {
    for node in NODES {
        let tables = query(
            &node.http(),
            "SELECT database, table FROM system.replicas ORDER BY database, table",
        )?;
        for line in tables.lines().filter(|l| !l.is_empty()) {
            let Some((database, table)) = line.split_once('\t') else {
                continue;
            };
            query(
                &node.http(),
                &format!("SYSTEM SYNC REPLICA `{database}`.`{table}`"),
            )
            .with_context(|| {
                format!("replica {} catching up on {database}.{table}", node.name())
            })?;
        }
    }
    Ok(())
}

/// Writes `./cyberflag-cluster.toml`: a complete configuration for the cluster (the local
/// stack's broker, its own topics and consumer group, the development keyring). Generated:
/// rewritten by every `up`.
fn write_config(root: &Path, keyring: &Path) -> anyhow::Result<PathBuf> {
    let path = root.join(CONFIG_FILE);
    let state = state_dir(root).canonicalize()?;
    fs::write(
        &path,
        format!(
            "# Written by `cargo xtask cluster up` (ignored by git; rewritten by every `up`).\n\
             # The local ClickHouse cluster: `cyberflag --config {CONFIG_FILE} <command>`.\n\
             # CYBERFLAG_* variables override it; `cyberflag config keys` lists every key.\n\n\
             [kafka]\nbrokers = \"127.0.0.1:9092\"\n\
             raw_topic = \"cyberflag.cluster.raw.v1\"\ndlq_topic = \"cyberflag.cluster.dlq.v1\"\n\n\
             [clickhouse]\nurl = \"http://{}\"\ndatabase = \"cyberflag\"\ncluster = \"{NAME}\"\n\n\
             [security]\nkeyring = \"{}\"\n\n\
             [ingest]\ngroup = \"cyberflag-ingest-cluster\"\n\n\
             [adapter]\nstate_dir = \"{}\"\n\n\
             [metrics]\nlisten = \"127.0.0.1:9465\"\n\n\
             [api]\nlisten = \"127.0.0.1:8081\"\ntokens_file = \"{}\"\n",
            ENTRY.http(),
            keyring.display(),
            state.join("adapter-state").display(),
            state.join("tokens.toml").display()
        ),
    )?;
    eprintln!("wrote {}", path.display());
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_clear_of_the_local_stack() {
        let mut ports = vec![ZOOKEEPER_PORT];
        for node in NODES {
            ports.extend([node.http_port(), node.tcp_port(), node.interserver_port()]);
        }
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
        for taken in [8123, 9000, 9009, 9092, 8080, 9464, 2181] {
            assert!(!ports.contains(&taken), "{taken}");
        }
    }

    #[test]
    fn the_outage_takes_one_replica_of_each_shard_and_spares_the_entry_node() {
        let down: Vec<Node> = NODES.into_iter().filter(|n| n.in_outage()).collect();
        assert_eq!(down.len(), 2);
        assert_ne!(down[0].shard, down[1].shard);
        assert!(!ENTRY.in_outage());
    }

    #[test]
    fn every_replica_lists_the_whole_cluster_with_its_own_macros() {
        let config = node_config(Path::new("/x"), NODES[2]);
        for node in NODES {
            assert!(config.contains(&format!("<port>{}</port>", node.tcp_port())));
        }
        assert!(config.contains("<shard>02</shard>"));
        assert!(config.contains("<replica>s2r1</replica>"));
        assert!(config.contains(&format!("<http_port>{}</http_port>", NODES[2].http_port())));
    }
}
