//! `cyberflag migrate` against the real ClickHouse.

use crate::support::{cyberflag, succeed, unique, warehouse};

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct Column {
    table: String,
    name: String,
    r#type: String,
}

#[tokio::test]
async fn migrate_twice_succeeds_and_leaves_the_same_schema() {
    let database = unique("it_migrate");
    let vars = [("CYBERFLAG_CLICKHOUSE_DATABASE", database.as_str())];
    let first = succeed(cyberflag(&vars).arg("migrate"));
    assert!(first.contains("applied"), "{first}");
    let warehouse = warehouse(&database);
    let schema = || async {
        let sql = format!(
            "SELECT table, name, type FROM system.columns WHERE database = '{database}' \
             ORDER BY table, name"
        );
        warehouse
            .client()
            .query(&sql)
            .fetch_all::<Column>()
            .await
            .unwrap()
    };
    let after_first = schema().await;
    assert!(
        after_first
            .iter()
            .any(|c| c.table == "crime_versions" && c.name == "crime_ref")
    );
    assert!(after_first.iter().any(|c| c.table == "schema_migrations"));

    let second = succeed(cyberflag(&vars).arg("migrate"));
    assert!(second.contains("0 migration(s) applied now"), "{second}");
    let after_second = schema().await;
    let render = |columns: &[Column]| -> Vec<String> {
        columns
            .iter()
            .map(|c| format!("{}.{} {}", c.table, c.name, c.r#type))
            .collect()
    };
    assert_eq!(render(&after_first), render(&after_second));
    let version = warehouse.schema_version().await.unwrap();
    assert_eq!(version as usize, warehouse::MIGRATIONS.len());
    let count: u64 = warehouse
        .client()
        .query("SELECT count() FROM schema_migrations")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(
        count as usize,
        warehouse::MIGRATIONS.len(),
        "each migration recorded once"
    );
    warehouse.drop_database().await.unwrap();
}

#[tokio::test]
async fn an_edited_migration_is_refused() {
    let database = unique("it_migrate_edit");
    let warehouse = warehouse(&database);
    warehouse.migrate().await.unwrap();
    // Record version 1 a second time with another checksum, as if the file had been edited
    // after it was applied somewhere.
    warehouse
        .client()
        .query("INSERT INTO schema_migrations VALUES (1, '0001_crime_versions', 'edited', now())")
        .execute()
        .await
        .unwrap();
    let error = warehouse.migrate().await.unwrap_err();
    assert!(error.to_string().contains("immutable"), "{error}");
    warehouse.drop_database().await.unwrap();
}
