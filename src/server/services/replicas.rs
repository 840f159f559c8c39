//! The replica registry: every `atrium serve` registers in `replicas`,
//! renews its row every few seconds and leaves on a clean stop. Operators
//! see the fleet (CLI, portal, admin API), and a replica whose start would
//! make limits or budgets count per replica is refused before it serves.

use std::net::SocketAddr;
use std::time::Duration;

use sqlx::FromRow;

use super::{Actor, Result, ServiceError, Services};
pub use crate::domain::replica::{JobLease, Operations, Replica};
use crate::domain::time::Millis;
use crate::server::db::Backend;

/// How often a replica renews its row.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A row not renewed for this long belongs to a replica that died.
pub const LAPSE_MS: i64 = 15_000;
/// Rows of dead replicas are kept this long for the operator, then swept.
const KEEP_DEAD_MS: i64 = 24 * 3_600_000;

#[derive(FromRow)]
struct ReplicaRow {
    id: String,
    instance: String,
    host: String,
    pid: i64,
    addr: String,
    data_dir: String,
    version: String,
    redis: i64,
    started_at: Millis,
    seen_at: Millis,
}

/// This machine's name, cleaned to a label.
fn host() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(64)
        .collect();
    if clean.is_empty() {
        "localhost".into()
    } else {
        clean
    }
}

/// This replica's instance: an id kept in its data directory, which one
/// live `atrium serve` holds at a time (its lock), so a restart on the
/// same directory is known as the same replica, wherever it runs and
/// whatever its host is called.
fn instance(svc: &Services) -> Result<String> {
    let dir = &svc.config.data_dir;
    let path = dir.join("replica.id");
    let io = |e: std::io::Error| ServiceError::Internal(format!("{}: {e}", path.display()));
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(id.to_string());
        }
    }
    crate::server::db::create_private_dir(dir).map_err(io)?;
    let id = super::new_id().replace('-', "");
    std::fs::write(&path, &id).map_err(io)?;
    Ok(id)
}

fn data_dir(svc: &Services) -> String {
    let dir = &svc.config.data_dir;
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
    dir.display().to_string()
}

/// The database's time now (see `Db::now_ms_sql`).
async fn db_now(svc: &Services) -> Result<Millis> {
    Ok(svc.db.clock_ms().await?)
}

/// Refuses a start that would make another live replica count limits and
/// budgets apart from it: on PostgreSQL without Redis (on either side)
/// unless the operator allowed it. On SQLite the server holds a lock on
/// the database file instead (see `runtime`). Runs under the start-up
/// lock and registers this replica before releasing it, so two replicas
/// starting at once cannot both find the other absent.
pub async fn admit(svc: &Services) -> Result<()> {
    let lock = svc.db.startup_lock().await?;
    // A live-looking row of this instance is this replica's own
    // predecessor, killed moments ago: the data directory's lock says no
    // other process is using it.
    let me = instance(svc)?;
    let others: Vec<Replica> = live(svc)
        .await?
        .into_iter()
        .filter(|(r, instance)| r.id != *svc.replica_id && *instance != me)
        .map(|(r, _)| r)
        .collect();
    let mine = svc.config.redis_url.is_some();
    if svc.db.backend == Backend::Postgres && !svc.config.replicas_without_redis {
        if let Some(other) = others.iter().find(|r| !mine || !r.redis) {
            return Err(ServiceError::Conflict(format!(
                "replica {} ({} on {}) is live and {}; rate limits and budgets would count \
                 per replica. Set REDIS_URL on every replica, or ATRIUM_REPLICAS_WITHOUT_REDIS=1 \
                 to accept per-replica counting",
                other.id,
                other.addr,
                other.host,
                if mine {
                    "has no REDIS_URL"
                } else {
                    "this one has no REDIS_URL"
                },
            )));
        }
    }
    register(svc, None).await?;
    lock.release().await?;
    Ok(())
}

/// Writes this replica's row (again): the address once it listens.
/// A row left by a predecessor on the same host and data directory (a
/// replica killed and restarted) is replaced, not counted as live.
pub async fn register(svc: &Services, addr: Option<SocketAddr>) -> Result<()> {
    let addr = addr.map_or_else(|| "starting".into(), |a| a.to_string());
    let (me, now) = (instance(svc)?, db_now(svc).await?);
    sqlx::query("DELETE FROM replicas WHERE instance = $1 AND id <> $2")
        .bind(&me)
        .bind(&*svc.replica_id)
        .execute(&svc.db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO replicas (id, instance, host, pid, addr, data_dir, version, redis, \
         started_at, seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
         ON CONFLICT (id) DO UPDATE SET addr = excluded.addr, seen_at = excluded.seen_at",
    )
    .bind(&*svc.replica_id)
    .bind(&me)
    .bind(host())
    .bind(i64::from(std::process::id()))
    .bind(&addr)
    .bind(data_dir(svc))
    .bind(env!("CARGO_PKG_VERSION"))
    .bind(i64::from(svc.config.redis_url.is_some()))
    .bind(now)
    .execute(&svc.db.pool)
    .await?;
    Ok(())
}

/// Renews this replica's row; puts it back if it was swept while this
/// replica could not reach the database. Sweeps long-dead rows.
pub async fn heartbeat(svc: &Services, addr: SocketAddr) -> Result<()> {
    let now = db_now(svc).await?;
    let renewed = sqlx::query("UPDATE replicas SET seen_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&*svc.replica_id)
        .execute(&svc.db.pool)
        .await?
        .rows_affected();
    if renewed == 0 {
        register(svc, Some(addr)).await?;
    }
    sqlx::query("DELETE FROM replicas WHERE seen_at < $1")
        .bind(now.saturating_sub(KEEP_DEAD_MS))
        .execute(&svc.db.pool)
        .await?;
    Ok(())
}

/// Renews the row until the runtime aborts the task.
pub fn spawn_heartbeat(svc: Services, addr: SocketAddr) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            if let Err(e) = heartbeat(&svc, addr).await {
                tracing::warn!(error = %e, "replica heartbeat failed; retrying");
            }
        }
    })
}

/// Removes this replica's row on a clean stop.
pub async fn leave(svc: &Services) -> Result<()> {
    sqlx::query("DELETE FROM replicas WHERE id = $1")
        .bind(&*svc.replica_id)
        .execute(&svc.db.pool)
        .await?;
    Ok(())
}

/// Every registered replica with its instance, latest seen first, by the
/// database's clock.
async fn all(svc: &Services) -> Result<Vec<(Replica, String)>> {
    let now = db_now(svc).await?;
    let rows: Vec<ReplicaRow> = sqlx::query_as(
        "SELECT id, instance, host, pid, addr, data_dir, version, redis, started_at, seen_at \
         FROM replicas ORDER BY seen_at DESC, id LIMIT 1000",
    )
    .fetch_all(&svc.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let replica = Replica {
                live: r.seen_at >= now.saturating_sub(LAPSE_MS),
                id: r.id,
                host: r.host,
                pid: r.pid,
                addr: r.addr,
                data_dir: r.data_dir,
                version: r.version,
                redis: r.redis != 0,
                started_at: r.started_at,
                seen_at: r.seen_at,
            };
            (replica, r.instance)
        })
        .collect())
}

async fn live(svc: &Services) -> Result<Vec<(Replica, String)>> {
    Ok(all(svc)
        .await?
        .into_iter()
        .filter(|(r, _)| r.live)
        .collect())
}

/// The fleet, for platform readers.
pub async fn list(svc: &Services, actor: &Actor) -> Result<Vec<Replica>> {
    actor.require_platform_read()?;
    Ok(all(svc).await?.into_iter().map(|(r, _)| r).collect())
}

/// Which replica holds each periodic job, until when, and how often the
/// job ran: for platform readers.
pub async fn jobs(svc: &Services, actor: &Actor) -> Result<Vec<JobLease>> {
    actor.require_platform_read()?;
    Ok(sqlx::query_as(
        "SELECT name, holder, until_ms, runs, last_run_at FROM job_leases ORDER BY name",
    )
    .fetch_all(&svc.db.pool)
    .await?)
}

/// The fleet and its jobs together, for the Operations page.
pub async fn operations(svc: &Services, actor: &Actor) -> Result<Operations> {
    Ok(Operations {
        replicas: list(svc, actor).await?,
        jobs: jobs(svc, actor).await?,
    })
}
