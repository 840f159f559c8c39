//! The reconciler keeps what each engine has loaded equal to what should
//! be there: every few seconds, at start, after a deploy, and when a
//! request needs an adapter a full pool has evicted. It repairs drift (an
//! engine that restarted and forgot, a load that failed on one replica)
//! and records each endpoint's state for the portal.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde::Serialize;

use crate::domain::custom_model::placement::{resident, Want};
use crate::domain::custom_model::{CustomModel, ENGINE_PREFIX};
use crate::domain::time::now_millis;

use super::engine;
use super::pools::{self, Pool};
pub use super::runtime::{EndpointState, PoolRuntime, Presence};
use crate::server::services::{Result, Services};

/// What a deploy learned: how many endpoints have the adapter.
pub struct LoadReport {
    pub loaded: usize,
    pub endpoints: Vec<String>,
    pub errors: Vec<String>,
}

/// Loads `m` on every endpoint of its pool now (it counts as just used).
pub async fn load_now(svc: &Services, m: &CustomModel) -> Result<LoadReport> {
    let name = m.engine_name();
    svc.pools.touch(&name);
    let Some(pool) = pools::for_base_model(svc, &m.base_model).await? else {
        return Ok(LoadReport {
            loaded: 0,
            endpoints: vec![],
            errors: vec![format!("no serving pool serves {}", m.base_model)],
        });
    };
    pass(svc, Some(&pool.id)).await?;
    let holding = svc.pools.holding(&name);
    let errors = svc
        .pools
        .endpoints()
        .into_iter()
        .filter(|e| e.pool == pool.name && !holding.contains(&e.provider))
        .map(|e| {
            format!(
                "{}: {}",
                e.provider,
                e.error.unwrap_or_else(|| "not loaded".into())
            )
        })
        .collect();
    Ok(LoadReport {
        loaded: holding.len(),
        endpoints: holding,
        errors,
    })
}

/// Takes `m` off its engines now (it is no longer wanted); a failure is
/// left to the next pass.
pub async fn unload_now(svc: &Services, m: &CustomModel) {
    let pool = pools::for_base_model(svc, &m.base_model).await;
    if let Ok(Some(pool)) = pool {
        if let Err(e) = pass(svc, Some(&pool.id)).await {
            tracing::warn!(error = ?e, "unloading failed; the reconciler retries");
        }
    }
}

/// A request waits at most this long for an on-demand load.
const ON_DEMAND_WAIT: Duration = Duration::from_secs(10);

/// Makes sure an adapter a request needs is loaded somewhere in its pool,
/// evicting the least recently used unpinned one if the pool is full.
/// Passes for on-demand loads run at most once per pool and second, so
/// engines that are down do not make every request wait for another pass.
pub async fn ensure_resident(svc: &Services, engine_name: &str, base_model: &str) -> Result<()> {
    svc.pools.touch(engine_name);
    if !svc.pools.holding(engine_name).is_empty() {
        return Ok(());
    }
    let Some(pool) = pools::for_base_model(svc, base_model).await? else {
        return Ok(());
    };
    if !svc.pools.on_demand_due(&pool.id) {
        return Ok(());
    }
    match tokio::time::timeout(ON_DEMAND_WAIT, pass(svc, Some(&pool.id))).await {
        Ok(done) => done,
        // Abandoned (the background reconciler finishes the job); the
        // request tries the engines as they are.
        Err(_) => Ok(()),
    }
}

/// One pass over every pool (or one). No lock is held: reconciling is
/// idempotent (a load of what is loaded, an unload of what is gone, are
/// answered as done), so passes may overlap, and an engine that is slow or
/// failing cannot hold up another pool's pass or another tenant's
/// on-demand load behind a process-wide lock.
pub(super) async fn pass(svc: &Services, only: Option<&str>) -> Result<()> {
    let versions = super::on_engines(svc).await?;
    let all = pools::all(svc).await?;
    if only.is_none() {
        let names: Vec<String> = all.iter().map(|p| p.name.clone()).collect();
        svc.pools.retain_pools(&names);
    }
    let mut done = Vec::new();
    for pool in all {
        if only.is_some_and(|id| id != pool.id) {
            continue;
        }
        let wanted: Vec<&CustomModel> = versions
            .iter()
            .filter(|m| m.base_model == pool.base_model)
            .collect();
        reconcile_pool(svc, &pool, &wanted).await;
        done.push(pool.name);
    }
    // Sharing the states with other replicas is second to the pass itself:
    // a failed write is logged, and the next pass writes again.
    if let Err(e) = svc.pools.save(svc, &done, only.is_none()).await {
        tracing::warn!(error = ?e, "engine states not written; other replicas see older ones");
    }
    Ok(())
}

async fn reconcile_pool(svc: &Services, pool: &Pool, wanted: &[&CustomModel]) {
    let names: Vec<(String, &CustomModel)> = wanted.iter().map(|m| (m.engine_name(), *m)).collect();
    let wants: Vec<Want> = names
        .iter()
        .map(|(n, m)| Want {
            name: n,
            pinned: m.pinned,
            last_used: svc.pools.last_used(n).max(m.last_used_at),
        })
        .collect();
    let keep = resident(&wants, usize::try_from(pool.max_loras).unwrap_or(0));
    let versions: HashMap<&str, &CustomModel> =
        names.iter().map(|(n, m)| (n.as_str(), *m)).collect();
    // Engines are repaired side by side: one slow load does not hold up
    // the others (each call is bounded by the engine client's timeout).
    let states = futures::future::join_all(
        pool.endpoints
            .iter()
            .map(|ep| reconcile_endpoint(svc, pool, ep, &keep, &versions)),
    )
    .await;
    for state in states {
        svc.pools.record(state);
    }
}

async fn reconcile_endpoint(
    svc: &Services,
    pool: &Pool,
    ep: &pools::Endpoint,
    keep: &BTreeSet<&str>,
    versions: &HashMap<&str, &CustomModel>,
) -> EndpointState {
    let http = &svc.pools.http;
    let mut state = EndpointState {
        pool: pool.name.clone(),
        provider: ep.provider.clone(),
        base_url: ep.base_url.clone(),
        reachable: false,
        loaded: BTreeSet::new(),
        repaired: vec![],
        repaired_at: None,
        repairs: 0,
        error: None,
        checked_at: now_millis(),
    };
    let listed = match engine::loaded(http, &ep.base_url).await {
        Ok(l) => l,
        Err(e) => {
            state.error = Some(e.summary());
            return state;
        }
    };
    state.reachable = true;
    let mut loaded: BTreeSet<String> = listed
        .into_iter()
        .filter(|n| n.starts_with(ENGINE_PREFIX))
        .collect();
    // Unload first, so a full engine has room for what it should hold.
    for extra in loaded.clone().iter().filter(|n| !keep.contains(n.as_str())) {
        match engine::unload(http, &ep.base_url, extra).await {
            Ok(())
            | Err(engine::EngineError {
                status: Some(404), ..
            }) => {
                loaded.remove(extra);
                state.repaired.push(format!("unloaded {extra}"));
            }
            Err(e) => state.error = Some(format!("unload {extra}: {}", e.summary())),
        }
    }
    let missing: Vec<&str> = keep
        .iter()
        .copied()
        .filter(|n| !loaded.contains(*n))
        .collect();
    // Side by side: one adapter whose load fails slowly (a tenant's broken
    // or remote one) does not hold up the others on this engine.
    let loads = missing
        .iter()
        .map(|name| load_checked(svc, &ep.base_url, name, versions.get(name).copied()));
    for (name, result) in missing.iter().zip(futures::future::join_all(loads).await) {
        match result {
            Load::Done => {
                loaded.insert(name.to_string());
                state.repaired.push(format!("loaded {name}"));
            }
            Load::AlreadyThere => {
                loaded.insert(name.to_string());
            }
            Load::Failed(why) => state.error = Some(format!("load {name}: {why}")),
        }
    }
    if !state.repaired.is_empty() {
        tracing::info!(endpoint = %ep.provider, repaired = ?state.repaired, "engine reconciled");
    }
    state.loaded = loaded;
    state
}

/// What became of one load; a failure as it may be shown.
enum Load {
    Done,
    AlreadyThere,
    Failed(String),
}

/// Loads a version onto an engine once its adapter passes again: an engine
/// that restarted, or a reload after an eviction, reads the files long
/// after the deploy checked them, and a tenant who can write its folder
/// could by then have pointed them at another tenant's.
async fn load_checked(svc: &Services, base_url: &str, name: &str, m: Option<&CustomModel>) -> Load {
    let Some(m) = m else {
        return Load::Failed("not a version this pool serves".into());
    };
    match super::validate::recheck(svc, m).await {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => {
            tracing::warn!(version = %m.id, %reason, "adapter no longer passes validation; not loaded");
            return Load::Failed("its adapter no longer passes validation".into());
        }
        Err(e) => {
            tracing::warn!(version = %m.id, error = ?e, "adapter could not be checked; not loaded");
            return Load::Failed("its adapter could not be checked".into());
        }
    }
    match engine::load(&svc.pools.http, base_url, name, m.adapter.as_str()).await {
        Ok(()) => Load::Done,
        Err(e) if e.message.contains("already been loaded") => Load::AlreadyThere,
        Err(e) => Load::Failed(e.summary()),
    }
}

/// Pools and their endpoints as this process sees them, for platform
/// admins; `fresh` runs a pass first (a CLI process has seen nothing yet).
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub pools: Vec<Pool>,
    pub endpoints: Vec<EndpointState>,
}

pub async fn overview(
    svc: &Services,
    actor: &crate::server::services::Actor,
    fresh: bool,
) -> Result<Overview> {
    actor.require_platform_read()?;
    if fresh {
        pass(svc, None).await?;
    }
    Ok(Overview {
        pools: pools::all(svc).await?,
        endpoints: svc.pools.endpoints(),
    })
}
