//! Issue 22, item 1, on both backends: the data map lists every table a
//! migration creates in the control plane's database (tenant-store tables
//! are there too, shared at the row level), and every table it lists
//! exists. A migration that adds a table without a map entry fails here.

use atrium::domain::data_map::{self, Store};
use atrium::server::db::Backend;

use crate::common::TestApp;

on_both_backends!(every_table_is_in_the_data_map);

async fn every_table_is_in_the_data_map(app: TestApp) -> TestApp {
    let sql = match app.svc.db.backend {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
    };
    let mut tables: Vec<String> = sqlx::query_scalar(sql)
        .fetch_all(&app.svc.db.pool)
        .await
        .expect("tables");
    tables.retain(|t| !data_map::is_bookkeeping(t));
    tables.sort();
    let unlisted: Vec<&String> = tables
        .iter()
        .filter(|t| data_map::table(t).is_none())
        .collect();
    assert!(
        unlisted.is_empty(),
        "tables missing from domain/data_map.rs: {unlisted:?}"
    );
    let missing: Vec<&str> = data_map::TABLES
        .iter()
        .map(|t| t.name)
        .filter(|n| !tables.iter().any(|t| t == n))
        .collect();
    assert!(missing.is_empty(), "mapped but never created: {missing:?}");
    assert!(data_map::in_store(Store::Tenant).count() >= 2);
    app
}
