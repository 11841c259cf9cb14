//! ClickHouse storage for cyberflag, through the `clickhouse` crate.
//!
//! This crate owns the schema (versioned migrations under `deploy/clickhouse/migrations/`,
//! embedded at build time) and, as the pipeline grows, the row types and queries. Every
//! statement it sends must run on ClickHouse 18.16 (the local and CI server) and on a current
//! release (production): no `DateTime64`, `Map`, `LowCardinality`, query parameters or settings
//! newer than 2018, and the client is built with `with_validation(false)` because 18.16 rejects
//! the crate's schema-validation queries.

pub mod alerts;
pub mod catalog;
mod counts;
mod migrations;
pub mod stats;
mod store;

pub use alerts::{AlertKind, AlertNumbers, AlertRow, AlertRunRow, AlertStatus, DeliveryRow};
pub use counts::SnapshotReport;
pub use migrations::{MIGRATIONS, Migration, MigrationReport, cluster_statements};
pub use stats::{
    Dimension, MAX_CELL_VERSIONS, Snapshot, StatsQuery, StatsRow, VersionState, WeeklyCount,
};
pub use store::{CRIME_VERSION_COLUMNS, CrimeVersionRow, SourceOffset};

/// Where the server is and who we are.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// HTTP endpoint, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    /// Database holding cyberflag's tables.
    pub database: String,
    /// User name.
    pub user: String,
    /// Password (never logged).
    pub password: String,
    /// ClickHouse cluster (from `remote_servers`) the schema spans; `None` for one server.
    pub cluster: Option<String>,
    /// Longest an insert may take to send its rows, and again to be acknowledged, before it
    /// fails as retryable [`clickhouse::error::Error::TimedOut`]. Without it a stalled network
    /// (no reset, no reply) would hold an insert until the kernel gives up on the connection.
    pub insert_timeout: std::time::Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("cluster", &self.cluster)
            .field("insert_timeout", &self.insert_timeout)
            .finish_non_exhaustive()
    }
}

/// A handle on cyberflag's ClickHouse database.
#[derive(Clone)]
pub struct Warehouse {
    /// Client bound to the database.
    client: clickhouse::Client,
    /// Client bound to no database, for `CREATE DATABASE`.
    server: clickhouse::Client,
    database: String,
    cluster: Option<String>,
    insert_timeout: std::time::Duration,
}

impl std::fmt::Debug for Warehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warehouse")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl Warehouse {
    /// A handle; no connection is made until the first query.
    pub fn new(settings: &Settings) -> Self {
        let server = clickhouse::Client::default()
            .with_url(&settings.url)
            .with_user(&settings.user)
            .with_password(&settings.password)
            // ClickHouse 18.16 rejects the validation queries (DESCRIBE with new settings,
            // RowBinaryWithNamesAndTypes); row types are checked by our schema tests instead.
            .with_validation(false);
        // On a cluster an INSERT into a Distributed table returns once every shard's replica
        // has its rows (not once they are queued on the receiving node): ingest commits
        // offsets after it, and readers must see what a snapshot build just wrote.
        let server = match settings.cluster {
            Some(_) => server.with_setting("insert_distributed_sync", "1"),
            None => server,
        };
        let client = server.clone().with_database(&settings.database);
        Self {
            client,
            server,
            database: settings.database.clone(),
            cluster: settings.cluster.clone(),
            insert_timeout: settings.insert_timeout,
        }
    }

    /// An insert into `table`, bounded by the insert timeout (see [`Settings::insert_timeout`]).
    pub(crate) async fn insert<T: clickhouse::Row>(
        &self,
        table: &str,
    ) -> Result<clickhouse::insert::Insert<T>, Error> {
        Ok(self
            .client
            .insert::<T>(table)
            .await?
            .with_timeouts(Some(self.insert_timeout), Some(self.insert_timeout)))
    }

    /// Whether the schema spans one server or a cluster.
    pub fn layout(&self) -> Layout {
        match self.cluster {
            Some(_) => Layout::Cluster {
                database: self.database.clone(),
            },
            None => Layout::Single,
        }
    }

    /// ` ON CLUSTER name` when the schema spans a cluster, else nothing.
    pub(crate) fn on_cluster(&self) -> String {
        self.cluster
            .as_deref()
            .map(|c| format!(" ON CLUSTER {}", quote_identifier(c)))
            .unwrap_or_default()
    }

    /// A statement on the database.
    pub(crate) fn query(&self, sql: &str) -> clickhouse::query::Query {
        self.client.query(sql)
    }

    /// The database name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The client bound to the database.
    pub fn client(&self) -> &clickhouse::Client {
        &self.client
    }

    /// Drops the whole database (tests and `xtask` only; never called by a role).
    pub async fn drop_database(&self) -> Result<(), Error> {
        let sql = migrations::drop_database_sql(&self.database, self.cluster.as_deref());
        self.server.query(&sql).execute().await.map_err(Error::from)
    }
}

/// How the schema is laid out: one server, or a cluster of shards (see
/// [`cluster_statements`]).
///
/// On a cluster every table `t` is a Distributed table over replicated `t_local` tables, and
/// the rows of one crime (its versions, and the change-log rows the materialised view writes
/// when they arrive) share a shard: `crime_versions` is sharded by `(force, crime_ref)`, and
/// `crime_changes` is filled on the shard that stored the version. So a question about a set
/// of crimes is answered exactly by evaluating it on each shard with that shard's own rows:
/// subqueries that select crimes read the shard's `_local` table ([`Layout::local`]), and
/// the Distributed table combines the shards' answers. ClickHouse refuses a subquery over a
/// Distributed table inside a query over another (Code 288); `GLOBAL IN` would also be exact
/// but gathers the whole subquery result on the initiator and ships it to every shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One server: tables under their own names.
    Single,
    /// Shards of replicas: Distributed `t` over `t_local`, in `database`.
    Cluster {
        /// The database (a subquery sent to a shard runs there in the server's default
        /// database, so local names are qualified).
        database: String,
    },
}

impl Layout {
    /// The name of `table` as a subquery evaluated on each shard must read it: the shard's
    /// `<database>.<table>_local` on a cluster, the table itself on one server.
    pub fn local(&self, table: &str) -> String {
        match self {
            Self::Single => table.to_owned(),
            Self::Cluster { database } => format!("{}.{table}_local", quote_identifier(database)),
        }
    }
}

/// Quotes an identifier with backticks; the configuration already restricts database names to
/// letters, digits and `_`, so this is defence in depth rather than the only guard.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server could not be reached or answered with an error.
    #[error("ClickHouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// An applied migration differs from the one this binary carries.
    #[error(
        "migration {version} ({name}) was applied with checksum {applied} but this build carries \
         {expected}: migrations are immutable once applied, add a new one instead"
    )]
    MigrationChanged {
        /// Migration version.
        version: u32,
        /// Migration name.
        name: String,
        /// Checksum recorded in the database.
        applied: String,
        /// Checksum of the embedded migration.
        expected: String,
    },
    /// The database was migrated by a newer build.
    #[error(
        "database is at schema version {found} but this build knows only up to {known}: \
         upgrade cyberflag"
    )]
    SchemaTooNew {
        /// Highest version recorded in the database.
        found: u32,
        /// Highest version this build carries.
        known: u32,
    },
}

impl Error {
    /// Whether retrying the same operation later may succeed (server down, overloaded, timeout).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::ClickHouse(error) => match error {
                clickhouse::error::Error::Network(_) | clickhouse::error::Error::TimedOut => true,
                clickhouse::error::Error::BadResponse(message) => {
                    // 252 too many parts, 159 timeout, 202 too many simultaneous queries,
                    // 209/210 socket timeout / network error, 241 memory limit.
                    [
                        "Code: 252",
                        "Code: 159",
                        "Code: 202",
                        "Code: 209",
                        "Code: 210",
                        "Code: 241",
                    ]
                    .iter()
                    .any(|code| message.contains(code))
                }
                _ => false,
            },
            Self::MigrationChanged { .. } | Self::SchemaTooNew { .. } => false,
        }
    }
}
