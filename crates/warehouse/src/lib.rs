//! ClickHouse storage for cyberflag, through the `clickhouse` crate.
//!
//! This crate owns the schema (versioned migrations under `deploy/clickhouse/migrations/`,
//! embedded at build time) and, as the pipeline grows, the row types and queries. Every
//! statement it sends must run on ClickHouse 18.16 (the local and CI server) and on a current
//! release (production): no `DateTime64`, `Map`, `LowCardinality`, query parameters or settings
//! newer than 2018, and the client is built with `with_validation(false)` because 18.16 rejects
//! the crate's schema-validation queries.

pub mod alerts;
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

    /// ` ON CLUSTER name` when the schema spans a cluster, else nothing.
    pub(crate) fn on_cluster(&self) -> String {
        self.cluster
            .as_deref()
            .map(|c| format!(" ON CLUSTER {}", quote_identifier(c)))
            .unwrap_or_default()
    }

    /// The local (per-node) name of a table: `<table>_local` on a cluster.
    pub(crate) fn local_table(&self, table: &str) -> String {
        match self.cluster {
            Some(_) => format!("{table}_local"),
            None => table.to_owned(),
        }
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
        let sql = format!(
            "DROP DATABASE IF EXISTS {}{}",
            quote_identifier(&self.database),
            self.on_cluster()
        );
        self.server.query(&sql).execute().await.map_err(Error::from)
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
