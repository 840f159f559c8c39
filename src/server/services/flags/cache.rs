//! Every flag in memory, swapped in whole when the control plane changes
//! (the same version mechanism as API keys), so evaluation on the hot path
//! never touches the database and every replica follows within one poll.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::domain::flag::{Capability, Context, Flag};
use crate::domain::tenant::TenantId;

#[derive(Default)]
pub struct FlagSet {
    platform: HashMap<String, Flag>,
    /// Each tenant's flags, by key (ordered: bulk answers are stable).
    tenant: HashMap<TenantId, BTreeMap<String, Flag>>,
}

impl FlagSet {
    pub fn new(flags: Vec<(Option<TenantId>, Flag)>) -> Self {
        let mut set = FlagSet::default();
        for (tenant, flag) in flags {
            let key = flag.key.as_str().to_string();
            match tenant {
                None => set.platform.insert(key, flag),
                Some(t) => set.tenant.entry(t).or_default().insert(key, flag),
            };
        }
        set
    }

    pub fn platform(&self, key: &str) -> Option<&Flag> {
        self.platform.get(key)
    }

    /// Every platform flag, by key.
    pub fn platform_flags(&self) -> Vec<&Flag> {
        let mut all: Vec<&Flag> = self.platform.values().collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }

    pub fn tenant(&self, tenant: &TenantId, key: &str) -> Option<&Flag> {
        self.tenant.get(tenant)?.get(key)
    }

    /// A tenant's flags, by key.
    pub fn tenant_flags(&self, tenant: &TenantId) -> impl Iterator<Item = &Flag> {
        self.tenant.get(tenant).into_iter().flat_map(|m| m.values())
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
