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
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, FromRow};

use super::audit_turns::{self, Lane};
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

/// The fields a link's hash covers, by name in byte order: serialized as
/// a struct, in declaration order, they are the JSON object `json!` gave
/// (serde_json's map sorts its keys), without building that map.
#[derive(Serialize)]
struct Canonical<'a> {
    action: &'a str,
    actor: &'a str,
    at: i64,
    chain: &'a str,
    chain_seq: i64,
    client_ip: &'a Option<String>,
    details: &'a str,
    id: &'a str,
    resource_id: &'a Option<String>,
    resource_type: &'a str,
    status: &'a str,
    tenant_id: &'a Option<TenantId>,
}

impl Link {
    /// Keys sorted, no whitespace: one text per event.
    pub(super) fn canonical(&self) -> String {
        let c = Canonical {
            action: &self.action,
            actor: &self.actor,
            at: self.at,
            chain: &self.chain,
            chain_seq: self.chain_seq,
            client_ip: &self.client_ip,
            details: &self.details,
            id: &self.id,
            resource_id: &self.resource_id,
            resource_type: &self.resource_type,
            status: &self.status,
            tenant_id: &self.tenant_id,
        };
        // Strings and integers cannot fail to serialize (`json!` and its
        // `to_string` panicked on the same impossible error).
        serde_json::to_string(&c).expect("strings and integers serialize")
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
    verify_by(svc, None).await
}

/// As `verify`; with a caller's lane, each page of the walk takes a turn
/// in it (`audit_turns`), so a caller's walks queue behind each other and
/// beside other searches instead of filling the pool and the runtime.
pub async fn verify_by(svc: &Services, lane: Option<Lane>) -> Result<Vec<ChainCheck>> {
    let heads: Vec<Head> = sqlx::query_as(
        "SELECT chain, head_seq, head_hash, anchor_seq, anchor_hash FROM audit_chains ORDER BY chain",
    )
    .fetch_all(&svc.db.pool)
    .await?;
    verify_heads(svc, heads, lane.as_ref()).await
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
            let lane = Lane::of(actor)?;
            Ok(verify_chain(svc, t, Some(&lane))
                .await?
                .into_iter()
                .collect())
        }
        None => {
            actor.require_platform_read()?;
            verify_by(svc, Some(Lane::of(actor)?)).await
        }
    }
}

/// Walks one chain only: a tenant's evidence checks its own chain, not
/// every tenant's.
pub async fn verify_chain(
    svc: &Services,
    chain: &str,
    lane: Option<&Lane>,
) -> Result<Option<ChainCheck>> {
    let heads: Vec<Head> = sqlx::query_as(
        "SELECT chain, head_seq, head_hash, anchor_seq, anchor_hash FROM audit_chains WHERE chain = $1",
    )
    .bind(chain)
    .fetch_all(&svc.db.pool)
    .await?;
    match heads.first() {
        Some(head) => Ok(Some(walk(svc, head, lane).await?)),
        None => Ok(None),
    }
}

async fn verify_heads(
    svc: &Services,
    heads: Vec<Head>,
    lane: Option<&Lane>,
) -> Result<Vec<ChainCheck>> {
    let unchained: Vec<(String, i64)> = sqlx::query_as(
        "SELECT chain, COUNT(*) FROM audit_events WHERE chain_seq = 0 GROUP BY chain ORDER BY chain",
    )
    .fetch_all(&svc.db.pool)
    .await?;
    let mut checks = Vec::with_capacity(heads.len() + 1);
    for head in &heads {
        checks.push(walk(svc, head, lane).await?);
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

async fn walk(svc: &Services, head: &Head, lane: Option<&Lane>) -> Result<ChainCheck> {
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
    let broken = walk_links(svc, head, &mut w, lane).await?.or_else(|| {
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
async fn walk_links(
    svc: &Services,
    head: &Head,
    w: &mut Walked,
    lane: Option<&Lane>,
) -> Result<Option<String>> {
    let keys = svc.secrets.audit();
    let wait = audit_turns::wait_for(svc.config.audit_search_timeout_ms);
    loop {
        // Held while the page is read and checked.
        let _turn = match lane {
            Some(lane) => Some(svc.audit_turns.take(lane.clone(), wait).await?),
            None => None,
        };
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

#[cfg(test)]
mod tests;
