//! The audit hash chains (DESIGN §3): one per tenant and one for the
//! platform. Each event stores `sha256(prev_hash ‖ canonical_json(event))`
//! and its position; `verify` walks every chain and names the first link
//! that is altered, missing or out of order. Retention purges move the
//! chain's anchor and are themselves recorded in the chain.

use crate::domain::tenant::TenantId;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, FromRow};

use super::{Result, Services};

pub const PLATFORM: &str = "platform";
/// The `prev_hash` of a chain's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The stored fields an event's hash covers.
#[derive(Debug, Clone, FromRow)]
pub struct Link {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub tenant_id: Option<TenantId>,
    pub status: String,
    pub client_ip: Option<String>,
    pub details: String,
    pub chain: String,
    pub chain_seq: i64,
    pub prev_hash: String,
    pub hash: String,
}

pub const LINK_COLUMNS: &str = "id, at, actor, action, resource_type, resource_id, tenant_id, \
     status, client_ip, details, chain, chain_seq, prev_hash, hash";

impl Link {
    /// Keys sorted (serde_json's map is ordered), no whitespace: one text per event.
    fn canonical(&self) -> String {
        json!({
            "id": self.id, "at": self.at, "actor": self.actor, "action": self.action,
            "resource_type": self.resource_type, "resource_id": self.resource_id,
            "tenant_id": self.tenant_id, "status": self.status, "client_ip": self.client_ip,
            "details": self.details, "chain": self.chain, "chain_seq": self.chain_seq,
        })
        .to_string()
    }

    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(self.canonical().as_bytes());
        hex::encode(h.finalize())
    }
}

pub fn chain_of(tenant_id: Option<&str>) -> &str {
    tenant_id.unwrap_or(PLATFORM)
}

/// Appends `link` (its chain already set) to its chain inside the caller's
/// transaction: takes the chain's head row lock, so appends to one chain
/// take turns and the chain never forks.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn append(conn: &mut AnyConnection, mut link: Link) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_chains (chain, head_seq, head_hash) VALUES ($1, 0, $2) \
         ON CONFLICT (chain) DO NOTHING",
    )
    .bind(&link.chain)
    .bind(GENESIS)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_chains SET head_seq = head_seq + 1 WHERE chain = $1")
        .bind(&link.chain)
        .execute(&mut *conn)
        .await?;
    let (seq, prev): (i64, String) =
        sqlx::query_as("SELECT head_seq, head_hash FROM audit_chains WHERE chain = $1")
            .bind(&link.chain)
            .fetch_one(&mut *conn)
            .await?;
    link.chain_seq = seq;
    link.prev_hash = prev;
    link.hash = link.compute_hash();
    sqlx::query(&format!(
        "INSERT INTO audit_events ({LINK_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
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
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_chains SET head_hash = $1 WHERE chain = $2")
        .bind(&link.hash)
        .bind(&link.chain)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The result of walking one chain.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChainCheck {
    pub chain: String,
    pub events: i64,
    /// The first problem found, naming the event and its position.
    pub broken: Option<String>,
}

#[derive(FromRow)]
struct Head {
    chain: String,
    head_seq: i64,
    head_hash: String,
    anchor_seq: i64,
    anchor_hash: String,
}

const PAGE: i64 = 5000;

/// Walks every chain from its anchor to its head.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn verify(svc: &Services) -> Result<Vec<ChainCheck>> {
    let heads: Vec<Head> = sqlx::query_as(
        "SELECT chain, head_seq, head_hash, anchor_seq, anchor_hash FROM audit_chains ORDER BY chain",
    )
    .fetch_all(&svc.db.pool)
    .await?;
    let mut checks = Vec::with_capacity(heads.len() + 1);
    for head in &heads {
        checks.push(walk(svc, head).await?);
    }
    let strays: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT chain FROM audit_events WHERE chain_seq > 0 \
         AND chain NOT IN (SELECT chain FROM audit_chains)",
    )
    .fetch_all(&svc.db.pool)
    .await?;
    for chain in strays {
        checks.push(ChainCheck {
            chain,
            events: 0,
            broken: Some("events belong to a chain with no recorded head".into()),
        });
    }
    Ok(checks)
}

async fn walk(svc: &Services, head: &Head) -> Result<ChainCheck> {
    let mut expected = head.anchor_seq + 1;
    let mut prev = if head.anchor_seq == 0 {
        GENESIS.to_string()
    } else {
        head.anchor_hash.clone()
    };
    let mut events = 0;
    let fail = |events, why: String| ChainCheck {
        chain: head.chain.clone(),
        events,
        broken: Some(why),
    };
    if head.anchor_seq > 0 && !purge_recorded(svc, &head.chain, head.anchor_seq).await? {
        return Ok(fail(
            0,
            format!(
                "events up to #{} are gone without a recorded purge",
                head.anchor_seq
            ),
        ));
    }
    loop {
        let page: Vec<Link> = sqlx::query_as(&format!(
            "SELECT {LINK_COLUMNS} FROM audit_events WHERE chain = $1 AND chain_seq >= $2 \
             ORDER BY chain_seq LIMIT $3"
        ))
        .bind(&head.chain)
        .bind(expected)
        .bind(PAGE)
        .fetch_all(&svc.db.pool)
        .await?;
        let Some(last) = page.last().map(|l| l.chain_seq) else {
            break;
        };
        for link in &page {
            if link.chain_seq != expected {
                return Ok(fail(
                    events,
                    format!(
                        "event #{expected} is missing (next is #{}, id {})",
                        link.chain_seq, link.id
                    ),
                ));
            }
            if link.prev_hash != prev {
                return Ok(fail(
                    events,
                    format!(
                        "event #{} (id {}) does not follow #{}: reordered or replaced",
                        link.chain_seq,
                        link.id,
                        link.chain_seq - 1
                    ),
                ));
            }
            if link.compute_hash() != link.hash {
                return Ok(fail(
                    events,
                    format!(
                        "event #{} (id {}) was altered after it was written",
                        link.chain_seq, link.id
                    ),
                ));
            }
            prev = link.hash.clone();
            expected += 1;
            events += 1;
        }
        if page.len() < PAGE as usize || last >= head.head_seq {
            break;
        }
    }
    if expected - 1 != head.head_seq || prev != head.head_hash {
        return Ok(fail(
            events,
            format!(
                "the chain ends at #{} but its head is #{}: events were removed",
                expected - 1,
                head.head_seq
            ),
        ));
    }
    Ok(ChainCheck {
        chain: head.chain.clone(),
        events,
        broken: None,
    })
}

async fn purge_recorded(svc: &Services, chain: &str, through: i64) -> Result<bool> {
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE chain = $1 AND action = 'audit.purge'",
    )
    .bind(chain)
    .fetch_all(&svc.db.pool)
    .await?;
    Ok(details.iter().any(|d| {
        serde_json::from_str::<serde_json::Value>(d)
            .ok()
            .and_then(|v| v.get("purged_through").and_then(serde_json::Value::as_i64))
            == Some(through)
    }))
}

/// Removes a chain's events up to `through` and moves its anchor there, in
/// the caller's transaction; returns how many were removed.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn purge_through(conn: &mut AnyConnection, chain: &str, through: i64) -> Result<u64> {
    let hash: Option<String> =
        sqlx::query_scalar("SELECT hash FROM audit_events WHERE chain = $1 AND chain_seq = $2")
            .bind(chain)
            .bind(through)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(hash) = hash else { return Ok(0) };
    let removed = sqlx::query(
        "DELETE FROM audit_events WHERE chain = $1 AND chain_seq <= $2 AND chain_seq > 0",
    )
    .bind(chain)
    .bind(through)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query("UPDATE audit_chains SET anchor_seq = $1, anchor_hash = $2 WHERE chain = $3")
        .bind(through)
        .bind(hash)
        .bind(chain)
        .execute(&mut *conn)
        .await?;
    Ok(removed)
}
