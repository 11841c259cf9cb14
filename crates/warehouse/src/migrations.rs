//! Versioned, immutable schema migrations, applied in order and recorded in `schema_migrations`.
//!
//! Each migration is a `.sql` file under `deploy/clickhouse/migrations/`, named
//! `NNNN_description.sql`, embedded here at build time. Statements are separated by a `;` at the
//! end of a line, because the HTTP interface takes one statement per request. Every statement is
//! idempotent (`IF NOT EXISTS`), so a migration interrupted half-way is simply applied again.
//! A migration that was applied and then edited is refused by checksum: the fix is a new file.

use sha2::{Digest, Sha256};

use crate::{Error, Warehouse, quote_identifier};

/// One schema migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Monotonic version, from the file name.
    pub version: u32,
    /// Short description, from the file name.
    pub name: &'static str,
    /// The SQL text.
    pub sql: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../deploy/clickhouse/migrations/",
                $name,
                ".sql"
            )),
        }
    };
}

/// Every migration, in order. A test checks this list against the files on disk.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_crime_versions"),
    migration!(2, "0002_alerts"),
    migration!(3, "0003_count_snapshots"),
    migration!(4, "0004_crime_arrivals"),
];

impl Migration {
    /// SHA-256 of the SQL text, hex.
    pub fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The statements, without comments, in order.
    pub fn statements(&self) -> Vec<String> {
        split_statements(self.sql)
    }
}

impl std::fmt::Display for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.version, self.name)
    }
}

/// What `migrate` did.
#[derive(Debug, Clone, Default)]
pub struct MigrationReport {
    /// Migrations applied by this run.
    pub applied: Vec<String>,
    /// Migrations that were already in place.
    pub already_applied: usize,
    /// Schema version after the run.
    pub version: u32,
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct AppliedRow {
    version: u32,
    name: String,
    checksum: String,
}

/// The migration ledger on one server.
pub(crate) const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
     (version UInt32, name String, checksum String, applied_at DateTime) \
     ENGINE = MergeTree ORDER BY version";

/// Every ledger row (`?fields` is the row type's columns).
pub(crate) const APPLIED_MIGRATIONS: &str =
    "SELECT ?fields FROM schema_migrations ORDER BY version";

/// `CREATE DATABASE`, on every server of `cluster` when given.
pub(crate) fn create_database_sql(database: &str, cluster: Option<&str>) -> String {
    format!(
        "CREATE DATABASE IF NOT EXISTS {}{}",
        quote_identifier(database),
        on_cluster(cluster)
    )
}

/// `DROP DATABASE`, on every server of `cluster` when given.
pub(crate) fn drop_database_sql(database: &str, cluster: Option<&str>) -> String {
    format!(
        "DROP DATABASE IF EXISTS {}{}",
        quote_identifier(database),
        on_cluster(cluster)
    )
}

fn on_cluster(cluster: Option<&str>) -> String {
    cluster
        .map(|c| format!(" ON CLUSTER {}", quote_identifier(c)))
        .unwrap_or_default()
}

/// The ledger row of an applied migration. Values are our own constants (digits and hex), so
/// inlining them is safe; 18.16 has no server-side query parameters.
pub(crate) fn record_migration_sql(migration: &Migration) -> String {
    format!(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) \
         VALUES ({}, '{}', '{}', now())",
        migration.version,
        migration.name,
        migration.checksum()
    )
}

impl Warehouse {
    /// Creates the database if needed and applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<MigrationReport, Error> {
        let cluster = self.cluster.clone();
        let create_database = create_database_sql(&self.database, cluster.as_deref());
        self.server.query(&create_database).execute().await?;
        let ledger = match &cluster {
            Some(cluster) => cluster_ledger(cluster, &self.database),
            None => CREATE_LEDGER.to_owned(),
        };
        self.client.query(&ledger).execute().await?;

        let applied = self.applied_migrations().await?;
        let known = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
        if let Some(found) = applied
            .iter()
            .map(|row| row.version)
            .max()
            .filter(|v| *v > known)
        {
            return Err(Error::SchemaTooNew { found, known });
        }

        let mut report = MigrationReport::default();
        for migration in MIGRATIONS {
            let expected = migration.checksum();
            let recorded: Vec<&AppliedRow> = applied
                .iter()
                .filter(|row| row.version == migration.version)
                .collect();
            if !recorded.is_empty() {
                if let Some(row) = recorded.iter().find(|row| row.checksum != expected) {
                    return Err(Error::MigrationChanged {
                        version: row.version,
                        name: row.name.clone(),
                        applied: row.checksum.clone(),
                        expected,
                    });
                }
                report.already_applied += 1;
                continue;
            }
            let statements = match &cluster {
                Some(cluster) => cluster_statements(migration, cluster, &self.database),
                None => migration.statements(),
            };
            for statement in statements {
                self.client.query(&statement).execute().await?;
            }
            self.client
                .query(&record_migration_sql(migration))
                .execute()
                .await?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "applied migration"
            );
            report.applied.push(migration.to_string());
        }
        report.version = self.schema_version().await?;
        Ok(report)
    }

    /// The highest applied migration version (0 for an empty database).
    pub async fn schema_version(&self) -> Result<u32, Error> {
        Ok(self
            .applied_migrations()
            .await?
            .iter()
            .map(|row| row.version)
            .max()
            .unwrap_or(0))
    }

    async fn applied_migrations(&self) -> Result<Vec<AppliedRow>, Error> {
        // Two concurrent `migrate` runs may both record a version; every row must agree.
        Ok(self
            .client
            .query(APPLIED_MIGRATIONS)
            .fetch_all::<AppliedRow>()
            .await?)
    }
}

/// How a table is spread over a cluster's shards: the rows that must meet in one shard (every
/// version of a crime, which `argMax` and the change log join) share a shard.
fn sharding_key(table: &str) -> &'static str {
    match table {
        "crime_versions" | "crime_changes" | "crime_arrivals" => "cityHash64(force, crime_ref)",
        "crime_counts" => "cityHash64(force)",
        "alerts" | "alert_deliveries" => "cityHash64(alert_id)",
        _ => "rand()",
    }
}

/// The first word after `prefix` in `statement`, if it starts with `prefix`.
fn name_after<'a>(statement: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let rest = statement.strip_prefix(prefix)?.trim_start();
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '(')
        .unwrap_or(rest.len());
    Some((&rest[..end], &rest[end..]))
}

/// `Engine(args)` → `ReplicatedEngine('/clickhouse/tables/{shard}/<db>/<table>', '{replica}', args)`.
fn replicated(engine: &str, database: &str, table: &str, shared: bool) -> String {
    let (name, args) = match engine.split_once('(') {
        Some((name, args)) => (name.trim(), args.trim_end().trim_end_matches(')').trim()),
        None => (engine.trim(), ""),
    };
    let shard = if shared { "all" } else { "{shard}" };
    let path = format!("'/clickhouse/tables/{shard}/{database}/{table}', '{{replica}}'");
    if args.is_empty() {
        format!("Replicated{name}({path})")
    } else {
        format!("Replicated{name}({path}, {args})")
    }
}

/// Splits `... ENGINE = X ...rest` into (before, engine, rest), the engine ending at the first
/// clause keyword.
fn split_engine(text: &str) -> Option<(&str, &str, &str)> {
    let at = text.find("ENGINE =")?;
    let after = &text[at + "ENGINE =".len()..];
    let end = [
        "PARTITION BY",
        "ORDER BY",
        "PRIMARY KEY",
        "SETTINGS",
        "AS SELECT",
    ]
    .iter()
    .filter_map(|k| after.find(k))
    .min()
    .unwrap_or(after.len());
    Some((&text[..at], after[..end].trim(), &after[end..]))
}

/// A materialised view's `AS SELECT … FROM crime_versions` on a cluster: it must watch the
/// node's own `<database>.crime_versions_local` (an insert lands there, on the crime's shard),
/// not the Distributed table.
fn read_local(select: &str, database: &str) -> String {
    let mut out = String::new();
    let mut rest = select;
    while let Some(at) = rest.find("FROM") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let spaced = &after["FROM".len()..];
        let table = spaced.trim_start();
        let name_end = table
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(table.len());
        if &table[..name_end] == "crime_versions" {
            out.push_str(&format!("FROM {database}.crime_versions_local"));
            rest = &table[name_end..];
        } else {
            out.push_str("FROM");
            rest = spaced;
        }
    }
    out.push_str(rest);
    out
}

/// The statements that create `migration`'s objects on `cluster` in `database`: for each
/// table, a replicated `<table>_local` on every node (ON CLUSTER) and a Distributed `<table>`
/// over them, so queries and inserts use the single-node names unchanged; for a materialised
/// view, its local view over the local source table and a Distributed view of it. Columns,
/// sorting keys and partitioning are the single-node migration's own text, so the two schemas
/// cannot drift.
pub fn cluster_statements(migration: &Migration, cluster: &str, database: &str) -> Vec<String> {
    let mut out = Vec::new();
    let on = format!("ON CLUSTER {}", quote_identifier(cluster));
    let db = quote_identifier(database);
    for statement in migration.statements() {
        if let Some((table, rest)) = name_after(&statement, "CREATE TABLE IF NOT EXISTS") {
            let Some((columns, engine, clauses)) = split_engine(rest) else {
                out.push(statement);
                continue;
            };
            out.push(format!(
                "CREATE TABLE IF NOT EXISTS {table}_local {on}{columns}ENGINE = {} {}",
                replicated(engine, database, table, false),
                clauses.trim()
            ));
            // Names inside an ON CLUSTER statement are qualified: each server runs it in its
            // default database.
            out.push(format!(
                "CREATE TABLE IF NOT EXISTS {table} {on} AS {db}.{table}_local \
                 ENGINE = Distributed({}, {db}, {table}_local, {})",
                quote_identifier(cluster),
                sharding_key(table)
            ));
        } else if let Some((view, rest)) =
            name_after(&statement, "CREATE MATERIALIZED VIEW IF NOT EXISTS")
        {
            let Some((_, engine, clauses)) = split_engine(rest) else {
                out.push(statement);
                continue;
            };
            let clauses = read_local(clauses.trim(), &db);
            out.push(format!(
                "CREATE MATERIALIZED VIEW IF NOT EXISTS {view}_local {on} ENGINE = {} {clauses}",
                replicated(engine, database, view, false)
            ));
            out.push(format!(
                "CREATE TABLE IF NOT EXISTS {view} {on} AS {db}.{view}_local \
                 ENGINE = Distributed({}, {db}, {view}_local, {})",
                quote_identifier(cluster),
                sharding_key(view)
            ));
        } else {
            out.push(statement);
        }
    }
    out
}

/// The migration ledger on a cluster: one replicated table, the same rows on every node.
pub(crate) fn cluster_ledger(cluster: &str, database: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER {} \
         (version UInt32, name String, checksum String, applied_at DateTime) ENGINE = {} ORDER BY version",
        quote_identifier(cluster),
        replicated("MergeTree", database, "schema_migrations", true)
    )
}

/// Splits a migration into statements: drops `--` comment lines and cuts at a `;` that ends a
/// line. Migrations are our own files, so this deliberately small grammar is enough; a test
/// checks every shipped migration splits into non-empty statements.
fn split_statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix(';') {
            current.push_str(body);
            statements.push(std::mem::take(&mut current).trim().to_owned());
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    if !current.trim().is_empty() {
        statements.push(current.trim().to_owned());
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `name (columns…) ENGINE = …` of each single-node table, for comparison.
    fn tables(statements: &[String], prefix: &str) -> Vec<(String, String, String)> {
        statements
            .iter()
            .filter_map(|s| {
                let (name, rest) = name_after(s, prefix)?;
                let rest = rest.trim_start();
                let rest = rest.strip_prefix("ON CLUSTER `cyberflag`").unwrap_or(rest);
                let (columns, engine, clauses) = split_engine(rest)?;
                Some((
                    name.to_owned(),
                    columns.trim().to_owned(),
                    format!("{engine} | {}", clauses.trim()),
                ))
            })
            .collect()
    }

    #[test]
    fn cluster_schema_is_the_single_node_schema_replicated_and_distributed() {
        for migration in MIGRATIONS {
            let single = migration.statements();
            let cluster = cluster_statements(migration, "cyberflag", "cyberflag");
            for (table, columns, engine) in tables(&single, "CREATE TABLE IF NOT EXISTS") {
                let local = tables(&cluster, "CREATE TABLE IF NOT EXISTS")
                    .into_iter()
                    .find(|(name, ..)| *name == format!("{table}_local"))
                    .unwrap_or_else(|| panic!("{migration}: no {table}_local"));
                assert_eq!(local.1, columns, "{table}: same columns");
                let (single_engine, single_clauses) = engine.split_once(" | ").unwrap();
                let (local_engine, local_clauses) = local.2.split_once(" | ").unwrap();
                assert_eq!(local_clauses, single_clauses, "{table}: same keys");
                let family = single_engine.split('(').next().unwrap();
                assert!(
                    local_engine.starts_with(&format!("Replicated{family}('/clickhouse/tables/{{shard}}/cyberflag/{table}', '{{replica}}'")),
                    "{table}: {local_engine}"
                );
                assert!(
                    cluster.iter().any(|s| s
                        .starts_with(&format!("CREATE TABLE IF NOT EXISTS {table} ON CLUSTER"))
                        && s.contains(&format!(
                            "ENGINE = Distributed(`cyberflag`, `cyberflag`, {table}_local, "
                        ))),
                    "{table}: no Distributed table"
                );
                assert!(cluster.iter().all(|s| s.contains("ON CLUSTER `cyberflag`")));
            }
            for (view, ..) in tables(&single, "CREATE MATERIALIZED VIEW IF NOT EXISTS") {
                let local = cluster
                    .iter()
                    .find(|s| {
                        s.starts_with(&format!(
                            "CREATE MATERIALIZED VIEW IF NOT EXISTS {view}_local"
                        ))
                    })
                    .unwrap_or_else(|| panic!("no {view}_local"));
                assert!(
                    local.contains("FROM `cyberflag`.crime_versions_local"),
                    "{local}"
                );
            }
        }
        assert!(cluster_ledger("c", "db").contains("/clickhouse/tables/all/db/schema_migrations"));
    }

    #[test]
    fn a_view_on_a_cluster_watches_the_local_versions() {
        assert_eq!(
            read_local("AS SELECT a, b\nFROM crime_versions", "`db`"),
            "AS SELECT a, b\nFROM `db`.crime_versions_local"
        );
        assert_eq!(
            read_local("AS SELECT x FROM crime_versions_other", "`db`"),
            "AS SELECT x FROM crime_versions_other"
        );
    }

    #[test]
    fn migrations_are_numbered_in_order_and_match_the_files_on_disk() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/clickhouse/migrations"
        );
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let embedded: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{}.sql", m.name))
            .collect();
        assert_eq!(
            files, embedded,
            "every migration file must be listed in MIGRATIONS"
        );
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1);
            assert!(
                migration
                    .name
                    .starts_with(&format!("{:04}_", migration.version))
            );
        }
    }

    #[test]
    fn every_statement_is_idempotent_and_non_empty() {
        for migration in MIGRATIONS {
            let statements = migration.statements();
            assert!(!statements.is_empty(), "{migration} has no statement");
            for statement in statements {
                assert!(!statement.is_empty());
                assert!(
                    !statement.contains(';'),
                    "{migration}: unsplit statement {statement}"
                );
                let upper = statement.to_uppercase();
                if upper.starts_with("CREATE") {
                    assert!(upper.contains("IF NOT EXISTS"), "{migration}: {statement}");
                }
            }
        }
    }

    #[test]
    fn statements_split_at_line_end_semicolons_and_skip_comments() {
        let sql = "-- a comment; not a statement\nCREATE TABLE IF NOT EXISTS a\n(x UInt8)\nENGINE = Log;\n\nCREATE TABLE IF NOT EXISTS b (y String) ENGINE = Log;\n";
        assert_eq!(
            split_statements(sql),
            vec![
                "CREATE TABLE IF NOT EXISTS a\n(x UInt8)\nENGINE = Log".to_owned(),
                "CREATE TABLE IF NOT EXISTS b (y String) ENGINE = Log".to_owned(),
            ]
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_identifier("cyberflag"), "`cyberflag`");
        assert_eq!(quote_identifier("a`b"), "`a\\`b`");
    }
}
