//! Appending to the audit hash chains (see `audit_chain`): one event, or
//! a batch with one head update and one insert per chain.

use sqlx::AnyConnection;

use super::audit_chain::{Link, GENESIS, LINK_COLUMNS};
use super::Result;
use crate::server::crypto::audit_key::AuditKeys;
use crate::server::db::Backend;

/// Appends `link` (its chain already set) to its chain inside the caller's
/// transaction: takes the chain's head row lock, so appends to one chain
/// take turns and the chain never forks.
pub async fn append(conn: &mut AnyConnection, keys: &AuditKeys, link: Link) -> Result<()> {
    append_all(conn, keys, vec![link]).await
}

/// Rows per INSERT: 15 columns each, well under SQLite's and PostgreSQL's
/// bind limits.
const INSERT_ROWS: usize = 100;

/// Appends `links`, in their order, to their chains inside the caller's
/// transaction. The chain comes out as appending them one by one would
/// make it, with one head update and one insert per chain and 100 links
/// instead of five statements per link: the gateway audits a redaction on
/// every request that has one. Chains are locked in name order, so two
/// writers never wait on each other in a circle.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn append_all(
    conn: &mut AnyConnection,
    keys: &AuditKeys,
    links: Vec<Link>,
) -> Result<()> {
    let mut runs: std::collections::BTreeMap<String, Vec<Link>> = Default::default();
    for link in links {
        runs.entry(link.chain.clone()).or_default().push(link);
    }
    for (chain, links) in runs {
        append_run(conn, keys, &chain, links).await?;
    }
    Ok(())
}

async fn append_run(
    conn: &mut AnyConnection,
    keys: &AuditKeys,
    chain: &str,
    mut links: Vec<Link>,
) -> Result<()> {
    let n = i64::try_from(links.len())
        .map_err(|_| super::ServiceError::Internal("too many audit events in one batch".into()))?;
    sqlx::query(
        "INSERT INTO audit_chains (chain, head_seq, head_hash) VALUES ($1, 0, $2) \
         ON CONFLICT (chain) DO NOTHING",
    )
    .bind(chain)
    .bind(GENESIS)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_chains SET head_seq = head_seq + $1 WHERE chain = $2")
        .bind(n)
        .bind(chain)
        .execute(&mut *conn)
        .await?;
    let (head, mut prev): (i64, String) =
        sqlx::query_as("SELECT head_seq, head_hash FROM audit_chains WHERE chain = $1")
            .bind(chain)
            .fetch_one(&mut *conn)
            .await?;
    for (seq, link) in (head - n + 1..).zip(links.iter_mut()) {
        link.chain_seq = seq;
        link.prev_hash = std::mem::take(&mut prev);
        link.key_id = Some(keys.current.id.clone());
        link.hash = keys.current.link_hash(&link.prev_hash, &link.canonical());
        prev.clone_from(&link.hash);
    }
    for rows in links.chunks(INSERT_ROWS) {
        insert(conn, rows).await?;
    }
    sqlx::query("UPDATE audit_chains SET head_hash = $1 WHERE chain = $2")
        .bind(&prev)
        .bind(chain)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn insert(conn: &mut AnyConnection, rows: &[Link]) -> Result<()> {
    let backend = match conn.backend_name() {
        "SQLite" => Backend::Sqlite,
        _ => Backend::Postgres,
    };
    let sql = format!(
        "INSERT INTO audit_events ({LINK_COLUMNS}) VALUES {}",
        backend.value_tuples(15, rows.len())
    );
    // Only full chunks are worth a place in the connection's statement
    // cache: a statement for each odd length would stay there, and one of
    // hundreds of parameters takes hundreds of kilobytes.
    let mut q = sqlx::query(&sql).persistent(rows.len() == INSERT_ROWS);
    for link in rows {
        q = q
            .bind(&link.id)
            .bind(link.at)
            .bind(&link.actor)
            .bind(&link.action)
            .bind(&link.resource_type)
            .bind(link.resource_id.as_deref())
            .bind(link.tenant_id.as_deref())
            .bind(&link.status)
            .bind(link.client_ip.as_deref())
            .bind(&link.details)
            .bind(&link.chain)
            .bind(link.chain_seq)
            .bind(&link.prev_hash)
            .bind(&link.hash)
            .bind(link.key_id.as_deref());
    }
    q.execute(&mut *conn).await?;
    Ok(())
}
