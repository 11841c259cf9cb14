//! Every SQL statement this crate sends, rendered with representative values.
//!
//! ClickHouse 18.16 (the local stack) and a current release (production) must both run every
//! statement, with the same answers. Tests take this catalogue and run it, in order, on both:
//! the schema, writes with their own data, and reads whose answers are compared. The
//! statements are rendered by the same functions and constants the crate's methods use, and
//! the values are bound by the `clickhouse` crate itself (`Query::sql_display`), so what runs is
//! what the code sends. A unit test checks the other direction: every SQL fragment written in
//! this crate's source appears in some catalogued statement, so a new query cannot be added
//! without the tests running it on both versions.

use chrono::NaiveDate;
use model::{ForceId, OffenceGroup};

use crate::alerts::{ALERT_COLUMNS, LATEST};
use crate::counts::{
    LATEST_SNAPSHOT, REPLICAS_PER_SHARD, SNAPSHOT_FORCES, SNAPSHOT_HIGHEST_ID, changes_since_sql,
    snapshot_complete_sql, snapshot_drop_sql, snapshot_groups_sql, snapshot_insert_sql,
    snapshot_stale_sql,
};
use crate::migrations::{
    APPLIED_MIGRATIONS, CREATE_LEDGER, cluster_ledger, cluster_statements, create_database_sql,
    drop_database_sql, record_migration_sql,
};
use crate::stats::{ACTIVE_WEEKS, Bound, Dimension, MAX_CELL_VERSIONS, Snapshot, StatsQuery};
use crate::{AlertRow, AlertRunRow, CRIME_VERSION_COLUMNS, DeliveryRow, Layout, MIGRATIONS};

/// What a statement does, and so how a test runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Creates the database or its objects: run in order, first.
    Schema,
    /// Writes rows it carries or selects (INSERT … SELECT / VALUES, ALTER): run in order.
    Write,
    /// A RowBinary insert of one of the crate's row types (the rows travel separately): the
    /// statement is `INSERT INTO table (columns…)`, checked by running
    /// [`Statement::checkable`].
    RowInsert,
    /// A read whose answer depends only on the data: compared between versions.
    Read,
    /// A read whose answer depends on the clock or the server (`now()`, `system.*`): run, not
    /// compared.
    Probe,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Where it comes from (the method, and the variant).
    pub name: String,
    /// The SQL exactly as sent (values bound).
    pub sql: String,
    /// How to run it.
    pub kind: Kind,
}

impl Statement {
    fn new(name: impl Into<String>, sql: impl Into<String>, kind: Kind) -> Self {
        Self {
            name: name.into(),
            sql: sql.into(),
            kind,
        }
    }

    /// The statement as a test can run it without the crate's row stream: a RowBinary insert
    /// becomes `INSERT INTO t (columns) SELECT columns FROM t LIMIT 0`, which the server
    /// checks against the table's columns and which writes nothing.
    pub fn checkable(&self) -> String {
        if self.kind != Kind::RowInsert {
            return self.sql.clone();
        }
        let (table, columns) = self
            .sql
            .trim_start_matches("INSERT INTO ")
            .split_once('(')
            .unwrap_or_default();
        let columns = columns.trim_end_matches(')');
        format!("INSERT INTO {table}({columns}) SELECT {columns} FROM {table} LIMIT 0")
    }
}

/// The values the statements are rendered with: they should match a test's data, so reads
/// return rows worth comparing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values {
    /// The database.
    pub database: String,
    /// The cluster (for the cluster layout's statements).
    pub cluster: String,
    /// Forces with data.
    pub forces: Vec<ForceId>,
    /// An offence group with data.
    pub offence_group: OffenceGroup,
    /// A span of recorded dates with data.
    pub from: NaiveDate,
    /// Its end.
    pub to: NaiveDate,
    /// A day to ask "as known at the end of" (between the two arrivals of the data).
    pub as_at: NaiveDate,
    /// A count snapshot (its id and cut-off).
    pub snapshot: Snapshot,
    /// A snapshot id older than `snapshot` (for the drop of stale partitions).
    pub stale_snapshot: u32,
    /// Alert ids to look up.
    pub alert_ids: Vec<String>,
    /// An alert receiver.
    pub receiver: String,
    /// "Changed since" for recent alerts (seconds since the epoch).
    pub since: i64,
}

/// Binds `binds` into `sql` with the `clickhouse` crate's own client-side escaping.
fn render(sql: &str, binds: Vec<Bound>) -> String {
    let client = clickhouse::Client::default();
    let mut query = client.query(sql);
    for bound in binds {
        query = match bound {
            Bound::Text(text) => query.bind(text),
            Bound::List(list) => query.bind(list),
        };
    }
    query.sql_display().to_string()
}

/// The `INSERT INTO table(columns)` the crate sends for a row type (`Insert::new`).
fn row_insert<T: clickhouse::Row>(table: &str) -> String {
    format!("INSERT INTO {table}({})", T::COLUMN_NAMES.join(","))
}

/// The schema, as `cyberflag migrate` creates it for `layout`: the database, the migration
/// ledger, every migration's statements and their ledger rows.
pub fn schema(values: &Values, layout: &Layout) -> Vec<Statement> {
    let cluster = Some(values.cluster.as_str()).filter(|_| *layout != Layout::Single);
    let mut out = vec![Statement::new(
        "migrate: database",
        create_database_sql(&values.database, cluster),
        Kind::Schema,
    )];
    out.push(Statement::new(
        "migrate: ledger",
        match cluster {
            Some(cluster) => cluster_ledger(cluster, &values.database),
            None => CREATE_LEDGER.to_owned(),
        },
        Kind::Schema,
    ));
    for migration in MIGRATIONS {
        let statements = match cluster {
            Some(cluster) => cluster_statements(migration, cluster, &values.database),
            None => migration.statements(),
        };
        for (n, sql) in statements.into_iter().enumerate() {
            out.push(Statement::new(
                format!("migration {migration} #{}", n + 1),
                sql,
                Kind::Schema,
            ));
        }
        out.push(Statement::new(
            format!("migrate: record {migration}"),
            record_migration_sql(migration),
            Kind::Write,
        ));
    }
    out
}

/// The statistics questions the catalogue asks: each dimension alone, all of them, every
/// filter, and the alerting service's two series.
fn stats_queries(values: &Values) -> Vec<(String, StatsQuery)> {
    let mut queries = vec![("national total".to_owned(), StatsQuery::default())];
    for dimension in Dimension::ALL {
        queries.push((
            format!("by {dimension}"),
            StatsQuery {
                by: vec![dimension],
                ..StatsQuery::default()
            },
        ));
    }
    let filtered = StatsQuery {
        by: Dimension::ALL.to_vec(),
        from: Some(values.from),
        to: Some(values.to),
        forces: values.forces.clone(),
        offence_groups: vec![values.offence_group],
        cyber: Some(true),
        as_at: None,
    };
    queries.push(("every dimension, every filter".to_owned(), filtered.clone()));
    queries.push((
        "by force and month, not flagged".to_owned(),
        StatsQuery {
            by: vec![Dimension::Force, Dimension::Month],
            cyber: Some(false),
            ..StatsQuery::default()
        },
    ));
    queries.push((
        "alerting: weekly cyber counts".to_owned(),
        StatsQuery {
            by: vec![Dimension::Force, Dimension::OffenceGroup, Dimension::Week],
            from: Some(values.from),
            to: Some(values.to),
            cyber: Some(true),
            ..StatsQuery::default()
        },
    ));
    queries.push((
        "alerting: weekly flag shares".to_owned(),
        StatsQuery {
            by: vec![Dimension::Force, Dimension::Week, Dimension::Cyber],
            from: Some(values.from),
            to: Some(values.to),
            ..StatsQuery::default()
        },
    ));
    queries
}

/// Every statement the crate sends after the schema, in an order a test can run them: the
/// ledger read, a count snapshot built and read, statistics with and without it, as-at
/// questions, revisions, alerting's reads, RowBinary inserts, the snapshot housekeeping, and
/// the database's removal last.
pub fn statements(values: &Values, layout: &Layout) -> Vec<Statement> {
    let mut out = vec![Statement::new(
        "migrate: applied migrations",
        APPLIED_MIGRATIONS.replace("?fields", "version,name,checksum"),
        Kind::Read,
    )];
    let snapshot = values.snapshot;
    let cluster = Some(values.cluster.as_str()).filter(|_| *layout != Layout::Single);
    let on_cluster = cluster
        .map(|c| format!(" ON CLUSTER {}", crate::quote_identifier(c)))
        .unwrap_or_default();

    // The snapshot build, as `Warehouse::build_snapshot` runs it.
    out.push(Statement::new(
        "snapshot: server clock",
        "SELECT toUInt32(now())",
        Kind::Probe,
    ));
    out.push(Statement::new(
        "snapshot: replicas per shard",
        render(
            REPLICAS_PER_SHARD,
            vec![Bound::Text(values.cluster.clone())],
        ),
        Kind::Probe,
    ));
    out.push(Statement::new(
        "snapshot: highest id",
        SNAPSHOT_HIGHEST_ID,
        Kind::Read,
    ));
    out.push(Statement::new(
        "snapshot: forces",
        SNAPSHOT_FORCES,
        Kind::Read,
    ));
    for force in &values.forces {
        out.push(Statement::new(
            format!("snapshot: count {force}"),
            render(
                &snapshot_insert_sql(snapshot.id, snapshot.cutoff, layout),
                vec![Bound::Text(force.as_str().to_owned()); 3],
            ),
            Kind::Write,
        ));
    }
    out.push(Statement::new(
        "snapshot: groups",
        snapshot_groups_sql(snapshot.id),
        Kind::Read,
    ));
    out.push(Statement::new(
        "snapshot: complete",
        snapshot_complete_sql(snapshot.id, snapshot.cutoff, 0, 0.25),
        Kind::Write,
    ));
    out.push(Statement::new(
        "snapshot: latest",
        LATEST_SNAPSHOT,
        Kind::Read,
    ));
    out.push(Statement::new(
        "snapshot: changes since",
        changes_since_sql(snapshot.cutoff),
        Kind::Read,
    ));
    out.push(Statement::new(
        "snapshot: stale",
        snapshot_stale_sql(snapshot.id),
        Kind::Read,
    ));

    // Statistics: every question about now from the snapshot and from the versions, and as
    // known at the end of a day.
    for (name, query) in stats_queries(values) {
        let (sql, binds) = query.sql_with(Some(snapshot), layout);
        out.push(Statement::new(
            format!("stats {name}: snapshot and changes"),
            render(&sql, binds),
            Kind::Read,
        ));
        let (sql, binds) = query.sql_with(None, layout);
        out.push(Statement::new(
            format!("stats {name}: every version"),
            render(&sql, binds),
            Kind::Read,
        ));
        let as_at = StatsQuery {
            as_at: Some(values.as_at),
            ..query.clone()
        };
        let (sql, binds) = as_at.sql_with(Some(snapshot), layout);
        out.push(Statement::new(
            format!("stats {name}: as at"),
            render(&sql, binds),
            Kind::Read,
        ));
        let (sql, binds) = as_at.versions_sql(layout, MAX_CELL_VERSIONS);
        out.push(Statement::new(
            format!("revisions {name}: as at"),
            render(&sql, binds),
            Kind::Read,
        ));
        let (sql, binds) = query.versions_sql(layout, MAX_CELL_VERSIONS);
        out.push(Statement::new(
            format!("revisions {name}"),
            render(&sql, binds),
            Kind::Read,
        ));
    }
    out.push(Statement::new(
        "alerting: active weeks",
        render(
            ACTIVE_WEEKS,
            vec![
                Bound::Text(values.from.to_string()),
                Bound::Text(values.to.to_string()),
            ],
        ),
        Kind::Read,
    ));
    out.push(Statement::new(
        "alerting: last received by force",
        "SELECT force, toString(toDate(max(received_at))) FROM crime_versions \
         GROUP BY force ORDER BY force",
        Kind::Read,
    ));

    // Alerts and their outbox (crate::alerts).
    out.push(Statement::new(
        "alerts: open",
        format!("{LATEST} HAVING current_status = 'firing' ORDER BY alert_id"),
        Kind::Read,
    ));
    let client = clickhouse::Client::default();
    out.push(Statement::new(
        "alerts: recent",
        client
            .query(&format!(
                "{LATEST} HAVING current_status = 'firing' OR last_update >= toDateTime(?) \
                 ORDER BY last_update DESC, alert_id"
            ))
            .bind(values.since)
            .sql_display()
            .to_string(),
        Kind::Read,
    ));
    out.push(Statement::new(
        "alerts: existing ids",
        render(
            "SELECT DISTINCT alert_id FROM alerts WHERE has(?, alert_id)",
            vec![Bound::List(values.alert_ids.clone())],
        ),
        Kind::Read,
    ));
    out.push(Statement::new(
        "alerts: history",
        format!(
            "SELECT {} FROM alerts FINAL ORDER BY alert_id, revision",
            ALERT_COLUMNS.join(", ")
        ),
        Kind::Read,
    ));
    out.push(Statement::new(
        "alerts: delivered revisions",
        render(
            "SELECT alert_id, max(revision) FROM alert_deliveries WHERE receiver = ? \
             GROUP BY alert_id",
            vec![Bound::Text(values.receiver.clone())],
        ),
        Kind::Read,
    ));
    out.push(Statement::new(
        "alerts: last evaluated week",
        "SELECT toString(max(week)), count() FROM alert_runs",
        Kind::Read,
    ));

    // RowBinary inserts of the crate's row types.
    out.push(Statement::new(
        "store: crime versions",
        format!(
            "INSERT INTO crime_versions({})",
            CRIME_VERSION_COLUMNS.join(",")
        ),
        Kind::RowInsert,
    ));
    out.push(Statement::new(
        "alerts: insert",
        row_insert::<AlertRow>("alerts"),
        Kind::RowInsert,
    ));
    out.push(Statement::new(
        "alerts: deliveries",
        row_insert::<DeliveryRow>("alert_deliveries"),
        Kind::RowInsert,
    ));
    out.push(Statement::new(
        "alerts: run",
        row_insert::<AlertRunRow>("alert_runs"),
        Kind::RowInsert,
    ));

    // Housekeeping after a snapshot, then the database's removal (tests, xtask).
    out.push(Statement::new(
        "snapshot: drop stale",
        snapshot_drop_sql(
            &layout.local("crime_counts"),
            &on_cluster,
            &[values.stale_snapshot],
        ),
        Kind::Write,
    ));
    out.push(Statement::new(
        "drop database",
        drop_database_sql(&values.database, cluster),
        Kind::Write,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            database: "cyberflag".into(),
            cluster: "cyberflag".into(),
            forces: vec![
                ForceId::from_id("west-mercia").unwrap(),
                ForceId::from_id("city-of-london").unwrap(),
            ],
            offence_group: "sexual-grooming".parse().unwrap(),
            from: NaiveDate::from_ymd_opt(2019, 1, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2019, 12, 31).unwrap(),
            as_at: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            snapshot: Snapshot {
                id: 1_700_000_001,
                cutoff: 1_700_000_000,
            },
            stale_snapshot: 1_600_000_000,
            alert_ids: vec!["nb-cusum:west-mercia/all:2019-06-24".into()],
            receiver: "http://alertmanager:9093".into(),
            since: 1_600_000_000,
        }
    }

    /// Every string literal of the crate's source (outside tests and this file) that looks
    /// like SQL, cut at format placeholders and bind markers.
    fn source_fragments() -> Vec<(String, String)> {
        use syn::visit::Visit;
        struct Literals(Vec<String>);
        impl<'ast> Visit<'ast> for Literals {
            fn visit_lit_str(&mut self, literal: &'ast syn::LitStr) {
                self.0.push(literal.value());
            }
            fn visit_macro(&mut self, mac: &'ast syn::Macro) {
                fn walk(tokens: proc_macro2::TokenStream, out: &mut Vec<String>) {
                    for token in tokens {
                        match token {
                            proc_macro2::TokenTree::Group(group) => walk(group.stream(), out),
                            proc_macro2::TokenTree::Literal(literal) => {
                                let tree = proc_macro2::TokenTree::Literal(literal);
                                if let Ok(text) = syn::parse2::<syn::LitStr>(tree.into()) {
                                    out.push(text.value());
                                }
                            }
                            _ => {}
                        }
                    }
                }
                walk(mac.tokens.clone(), &mut self.0);
            }
            fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
            fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
                let test = module.attrs.iter().any(|a| {
                    a.path().is_ident("cfg")
                        && a.meta
                            .require_list()
                            .is_ok_and(|l| l.tokens.to_string() == "test")
                });
                if !test {
                    syn::visit::visit_item_mod(self, module);
                }
            }
        }
        const SQL: [&str; 16] = [
            "SELECT",
            "INSERT",
            "ALTER",
            "CREATE",
            "DROP ",
            "FROM ",
            "WHERE ",
            "GROUP BY",
            "ORDER BY",
            "HAVING",
            "UNION",
            "argMax(",
            "toDate",
            "toString(",
            "has(",
            "count(",
        ];
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut fragments = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name == "catalog.rs" {
                continue;
            }
            let file = syn::parse_file(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut literals = Literals(Vec::new());
            literals.visit_file(&file);
            for literal in literals.0 {
                if !SQL.iter().any(|k| literal.contains(k)) {
                    continue;
                }
                let mut rest = literal.as_str();
                let mut pieces = Vec::new();
                // Cut at `{…}` placeholders and at `?` and `?fields` bind markers.
                while let Some(at) = rest.find(['{', '?']) {
                    pieces.push(&rest[..at]);
                    rest = &rest[at..];
                    let end = if rest.starts_with('{') {
                        rest.find('}').map_or(rest.len(), |e| e + 1)
                    } else if rest.starts_with("?fields") {
                        "?fields".len()
                    } else {
                        1
                    };
                    rest = &rest[end..];
                }
                pieces.push(rest);
                for piece in pieces {
                    let piece = normalise(piece);
                    if piece.trim().len() >= 6 {
                        fragments.push((name.clone(), piece.trim().to_owned()));
                    }
                }
            }
        }
        fragments
    }

    fn normalise(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn every_sql_fragment_in_the_source_is_catalogued() {
        let values = values();
        let mut catalogued = String::new();
        let cluster = Layout::Cluster {
            database: "cyberflag".into(),
        };
        for layout in [Layout::Single, cluster] {
            for statement in schema(&values, &layout)
                .into_iter()
                .chain(statements(&values, &layout))
            {
                catalogued.push_str(&normalise(&statement.sql));
                catalogued.push('\n');
            }
        }
        let fragments = source_fragments();
        assert!(fragments.len() > 40, "{} fragments", fragments.len());
        let missing: Vec<_> = fragments
            .iter()
            .filter(|(_, fragment)| !catalogued.contains(fragment.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "SQL in the source that the catalogue never renders (add its statement to \
             catalog.rs so both ClickHouse versions run it): {missing:#?}"
        );
    }

    #[test]
    fn statements_are_rendered_with_their_values() {
        let values = values();
        let statements = statements(&values, &Layout::Single);
        assert!(
            statements.iter().all(|s| !s.sql.contains('?')),
            "every value bound"
        );
        let changes = statements
            .iter()
            .find(|s| s.name == "stats by force: snapshot and changes")
            .unwrap();
        assert!(
            changes.sql.contains("FROM crime_changes WHERE"),
            "{}",
            changes.sql
        );
        let cluster = super::statements(
            &values,
            &Layout::Cluster {
                database: "cyberflag".into(),
            },
        );
        let changes = cluster
            .iter()
            .find(|s| s.name == "stats by force: snapshot and changes")
            .unwrap();
        assert!(
            changes
                .sql
                .contains("FROM `cyberflag`.crime_changes_local WHERE"),
            "{}",
            changes.sql
        );
        let insert = statements
            .iter()
            .find(|s| s.kind == Kind::RowInsert)
            .unwrap();
        assert!(
            insert
                .checkable()
                .starts_with("INSERT INTO crime_versions(force,crime_ref,"),
            "{}",
            insert.checkable()
        );
        assert!(insert.checkable().ends_with("FROM crime_versions LIMIT 0"));
    }
}
