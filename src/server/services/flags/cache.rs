//! Every flag in memory, swapped in whole when the control plane changes
//! (the same version mechanism as API keys), so evaluation on the hot path
//! never touches the database and every replica follows within one poll.
//!
//! A refresh reads only the rows written since the version it holds (each
//! write stamps its row, `write.rs`), and shares every unchanged flag with
//! the set it replaces: one tenant's change parses that flag, not every
//! flag of every tenant. Rows leave only with their tenant; a row count
//! that no longer adds up makes the next refresh a full load.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use sqlx::FromRow;

use super::FlagRow;
use crate::domain::flag::{Capability, Context, Flag};
use crate::domain::tenant::TenantId;
use crate::server::services::{Result, Services};

type Flags = BTreeMap<String, Arc<Flag>>;

#[derive(Default, Clone)]
pub struct FlagSet {
    platform: HashMap<String, Arc<Flag>>,
    /// Each tenant's flags, by key (ordered: bulk answers are stable).
    tenant: HashMap<TenantId, Arc<Flags>>,
    /// The highest row version loaded; 0 before the first load.
    version: i64,
    count: usize,
}

impl FlagSet {
    /// Adds or replaces one flag, copying only its tenant's index.
    fn put(&mut self, tenant: Option<TenantId>, flag: Flag) {
        let key = flag.key.as_str().to_string();
        let flag = Arc::new(flag);
        let replaced = match tenant {
            None => self.platform.insert(key, flag),
            Some(t) => Arc::make_mut(self.tenant.entry(t).or_default()).insert(key, flag),
        };
        if replaced.is_none() {
            self.count += 1;
        }
    }

    pub fn platform(&self, key: &str) -> Option<&Flag> {
        self.platform.get(key).map(AsRef::as_ref)
    }

    /// Every platform flag, by key.
    pub fn platform_flags(&self) -> Vec<&Flag> {
        let mut all: Vec<&Flag> = self.platform.values().map(AsRef::as_ref).collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }

    pub fn tenant(&self, tenant: &TenantId, key: &str) -> Option<&Flag> {
        self.tenant.get(tenant)?.get(key).map(AsRef::as_ref)
    }

    /// A tenant's flags, by key.
    pub fn tenant_flags(&self, tenant: &TenantId) -> impl Iterator<Item = &Flag> {
        self.tenant
            .get(tenant)
            .into_iter()
            .flat_map(|m| m.values().map(AsRef::as_ref))
    }

    /// Whether `capability` is on for `tenant`, with the tenant's
    /// attributes as context. `None`: the capability's flag is missing,
    /// which start-up seeding rules out (a bug, not a default).
    pub fn capability(&self, capability: Capability, ctx: &Context) -> Option<bool> {
        let flag = self.platform.get(capability.key())?;
        Some(flag.evaluate(ctx).value.as_bool() == Some(true))
    }
}

#[derive(Default)]
pub struct FlagCache {
    pub(super) current: ArcSwap<FlagSet>,
}

impl FlagCache {
    pub fn load(&self) -> Arc<FlagSet> {
        self.current.load_full()
    }
}

#[derive(FromRow)]
struct VersionedRow {
    tenant_id: Option<TenantId>,
    definition: String,
    version: i64,
}

/// Brings the cache up to the database: the rows written since the version
/// it holds, or every row when it holds none or rows have left.
#[tracing::instrument(skip_all)]
pub async fn refresh(svc: &Services) -> Result<()> {
    let held = svc.flags.load();
    let next = match held.version {
        0 => read(svc, FlagSet::default()).await?,
        _ => match read(svc, (*held).clone()).await? {
            next if next.version > 0 => next,
            // A tenant and its flags left, or a seeded flag arrived
            // unstamped: load everything.
            _ => read(svc, FlagSet::default()).await?,
        },
    };
    svc.flags.current.store(Arc::new(next));
    Ok(())
}

/// `set` with the rows past its version added. Version 0 in the answer:
/// the rows do not add up to the count (rows left, or came or went while
/// reading), so the next refresh must load everything.
async fn read(svc: &Services, mut set: FlagSet) -> Result<FlagSet> {
    let rows: Vec<VersionedRow> =
        sqlx::query_as("SELECT tenant_id, definition, version FROM flags WHERE version > $1")
            .bind(if set.version == 0 { -1 } else { set.version })
            .fetch_all(&svc.db.pool)
            .await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM flags")
        .fetch_one(&svc.db.pool)
        .await?;
    for r in rows {
        set.version = set.version.max(r.version);
        let (tenant, flag) = FlagRow {
            tenant_id: r.tenant_id,
            definition: r.definition,
        }
        .into_flag()?;
        set.put(tenant, flag);
    }
    set.version = if usize::try_from(total).ok() == Some(set.count) {
        // Every row unstamped still counts as loaded.
        set.version.max(1)
    } else {
        0
    };
    Ok(set)
}
