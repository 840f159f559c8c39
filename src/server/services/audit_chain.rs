//! The audit hash chains (DESIGN §3): one per tenant and one for the
//! platform. Each event stores `HMAC-SHA256(key, prev_hash ‖
//! canonical_json(event))`, the key's id and its position. The key comes
//! from `ATRIUM_SECRET_KEY`, never the database, so a database writer
//! cannot recompute the chain after changing it. `verify` walks every
//! chain and names the first link that is altered, missing, out of order
//! or downgraded to an unkeyed hash; retention purges move the chain's
//! anchor and count only when their marker is inside the verified chain.
//! Links written before keyed chains (plain SHA-256) and events from
//! before chains existed are reported, never passed over in silence.

use crate::domain::tenant::TenantId;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, FromRow};

use super::{Result, Services};
use crate::server::crypto::audit_key::AuditKeys;

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
    /// The chain key that made `hash`; `None` for links from before keys.
    pub key_id: Option<String>,
}

pub const LINK_COLUMNS: &str = "id, at, actor, action, resource_type, resource_id, tenant_id, \
     status, client_ip, details, chain, chain_seq, prev_hash, hash, key_id";

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

    /// The hash this link must carry, under the key it names; an error
    /// when this deployment does not hold that key.
    pub fn expected_hash(&self, keys: &AuditKeys) -> std::result::Result<String, String> {
        let Some(id) = &self.key_id else {
            let mut h = Sha256::new();
            h.update(self.prev_hash.as_bytes());
            h.update(self.canonical().as_bytes());
            return Ok(hex::encode(h.finalize()));
        };
        keys.chain_key(id)
            .map(|k| k.link_hash(&self.prev_hash, &self.canonical()))
            .ok_or_else(|| format!("is keyed with {id}, a key this deployment does not hold"))
    }
}

pub fn chain_of(tenant_id: Option<&str>) -> &str {
    tenant_id.unwrap_or(PLATFORM)
}

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
    // SQLite looks a `$n` parameter's name up in a list, once per
    // parameter: quadratic in a long insert. Plain `?`s bind in order.
    let sqlite = conn.backend_name() == "SQLite";
    let marker = |n: usize| {
        if sqlite {
            "?".to_string()
        } else {
            format!("${n}")
        }
    };
    let values: Vec<String> = (0..rows.len())
        .map(|r| {
            let cols: Vec<String> = (1..=15).map(|c| marker(r * 15 + c)).collect();
            format!("({})", cols.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO audit_events ({LINK_COLUMNS}) VALUES {}",
        values.join(", ")
    );
    let mut q = sqlx::query(&sql);
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

/// The result of walking one chain.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ChainCheck {
    pub chain: String,
    pub events: i64,
    /// The first problem found, naming the event and its position.
    pub broken: Option<String>,
    /// What the chain does not cover, though nothing is broken: links
    /// hashed before keys, events from before chains.
    pub notes: Vec<String>,
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
    verify_heads(svc, heads).await
}

/// `audit verify` for a caller: every chain for platform readers, the
/// caller's own tenant's chain for tenant users (its admins only, like
/// the audit log itself).
pub async fn verify_for(
    svc: &Services,
    actor: &super::Actor,
    tenant: Option<&TenantId>,
) -> Result<Vec<ChainCheck>> {
    match tenant {
        Some(t) => {
            actor.require(t, crate::domain::role::Access::Manage)?;
            Ok(verify_chain(svc, t).await?.into_iter().collect())
        }
        None => {
            actor.require_platform_read()?;
            verify(svc).await
        }
    }
}

/// Walks one chain only: a tenant's evidence checks its own chain, not
/// every tenant's.
pub async fn verify_chain(svc: &Services, chain: &str) -> Result<Option<ChainCheck>> {
    let heads: Vec<Head> = sqlx::query_as(
        "SELECT chain, head_seq, head_hash, anchor_seq, anchor_hash FROM audit_chains WHERE chain = $1",
    )
    .bind(chain)
    .fetch_all(&svc.db.pool)
    .await?;
    match heads.first() {
        Some(head) => Ok(Some(walk(svc, head).await?)),
        None => Ok(None),
    }
}

async fn verify_heads(svc: &Services, heads: Vec<Head>) -> Result<Vec<ChainCheck>> {
    let unchained: Vec<(String, i64)> = sqlx::query_as(
        "SELECT chain, COUNT(*) FROM audit_events WHERE chain_seq = 0 GROUP BY chain ORDER BY chain",
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
            notes: Vec::new(),
        });
    }
    for (chain, n) in unchained {
        let note = format!("{n} events are outside the chain (position 0): written before chains, or inserted around them");
        match checks.iter_mut().find(|c| c.chain == chain) {
            Some(c) => c.notes.push(note),
            None => checks.push(ChainCheck {
                chain,
                events: 0,
                broken: None,
                notes: vec![note],
            }),
        }
    }
    Ok(checks)
}

/// What a walk has established so far.
struct Walked {
    expected: i64,
    prev: String,
    events: i64,
    unkeyed: i64,
    keyed: bool,
    /// `purged_through` of every purge marker inside the verified range.
    purges: Vec<i64>,
}

async fn walk(svc: &Services, head: &Head) -> Result<ChainCheck> {
    let start = if head.anchor_seq == 0 {
        GENESIS.to_string()
    } else {
        head.anchor_hash.clone()
    };
    let mut w = Walked {
        expected: head.anchor_seq + 1,
        prev: start,
        events: 0,
        unkeyed: 0,
        keyed: false,
        purges: Vec::new(),
    };
    let broken = walk_links(svc, head, &mut w).await?.or_else(|| {
        let purged = head.anchor_seq == 0 || w.purges.contains(&head.anchor_seq);
        let ended = w.expected - 1 == head.head_seq && w.prev == head.head_hash;
        if !purged {
            Some(format!(
                "events up to #{} are gone without a purge recorded in the chain",
                head.anchor_seq
            ))
        } else if !ended {
            Some(format!(
                "the chain ends at #{} but its head is #{}: events were removed",
                w.expected - 1,
                head.head_seq
            ))
        } else {
            None
        }
    });
    let notes = (w.unkeyed > 0)
        .then(|| format!("{} links are plain SHA-256 (written before keyed chains): a database writer could rewrite them", w.unkeyed))
        .into_iter()
        .collect();
    Ok(ChainCheck {
        chain: head.chain.clone(),
        events: w.events,
        broken,
        notes,
    })
}

/// Checks the chain's links page by page; the first problem, if any.
async fn walk_links(svc: &Services, head: &Head, w: &mut Walked) -> Result<Option<String>> {
    let keys = svc.secrets.audit();
    loop {
        let page: Vec<Link> = sqlx::query_as(&format!(
            "SELECT {LINK_COLUMNS} FROM audit_events WHERE chain = $1 AND chain_seq >= $2 \
             ORDER BY chain_seq LIMIT $3"
        ))
        .bind(&head.chain)
        .bind(w.expected)
        .bind(PAGE)
        .fetch_all(&svc.db.pool)
        .await?;
        let Some(last) = page.last().map(|l| l.chain_seq) else {
            return Ok(None);
        };
        for link in &page {
            if let Some(why) = check_link(link, keys, w) {
                return Ok(Some(why));
            }
        }
        if page.len() < PAGE as usize || last >= head.head_seq {
            return Ok(None);
        }
    }
}

fn check_link(link: &Link, keys: &AuditKeys, w: &mut Walked) -> Option<String> {
    let (seq, id) = (link.chain_seq, &link.id);
    if seq != w.expected {
        return Some(format!(
            "event #{} is missing (next is #{seq}, id {id})",
            w.expected
        ));
    }
    if link.prev_hash != w.prev {
        return Some(format!(
            "event #{seq} (id {id}) does not follow #{}: reordered or replaced",
            seq - 1
        ));
    }
    if link.key_id.is_none() && w.keyed {
        return Some(format!(
            "event #{seq} (id {id}) has no key after keyed links: rewritten"
        ));
    }
    match link.expected_hash(keys) {
        Err(why) => return Some(format!("event #{seq} (id {id}) {why}")),
        Ok(h) if h != link.hash => {
            return Some(format!(
                "event #{seq} (id {id}) was altered after it was written"
            ));
        }
        Ok(_) => {}
    }
    w.keyed |= link.key_id.is_some();
    w.unkeyed += i64::from(link.key_id.is_none());
    if link.action == "audit.purge" {
        let through = serde_json::from_str::<serde_json::Value>(&link.details)
            .ok()
            .and_then(|v| v.get("purged_through").and_then(serde_json::Value::as_i64));
        w.purges.extend(through);
    }
    w.prev = link.hash.clone();
    w.expected += 1;
    w.events += 1;
    None
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
