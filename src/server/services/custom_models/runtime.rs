//! What this process knows of the engines: each endpoint as the reconciler
//! last saw it, when each adapter was last asked for, and the locks that
//! keep passes one at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::custom_model::ENGINE_PREFIX;
use crate::domain::time::{now_millis, Millis};

use crate::server::services::{Result, Services};

/// On-demand passes run at most once per pool and this interval.
const ON_DEMAND_EVERY: Duration = Duration::from_secs(1);

/// One endpoint as last seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointState {
    pub pool: String,
    pub provider: String,
    pub base_url: String,
    pub reachable: bool,
    /// Atrium's adapters the engine lists, after repairs.
    pub loaded: BTreeSet<String>,
    /// What the latest pass that found drift repaired, in words, and when.
    pub repaired: Vec<String>,
    pub repaired_at: Option<Millis>,
    /// Repairs counted by the reconciler, whichever replica ran it.
    pub repairs: u64,
    /// Wanted but still not loaded, and why.
    pub error: Option<String>,
    pub checked_at: Millis,
}

/// Where one adapter is, per endpoint, for the portal.
#[derive(Debug, Clone, Serialize)]
pub struct Presence {
    pub provider: String,
    pub reachable: bool,
    pub loaded: bool,
}

/// What this process knows of the engines, and when each adapter was last
/// asked for (for least-recently-used eviction).
pub struct PoolRuntime {
    pub(super) http: reqwest::Client,
    endpoints: RwLock<BTreeMap<String, EndpointState>>,
    last_used: Mutex<HashMap<String, Millis>>,
    /// Uses not yet written to the database.
    unflushed: Mutex<HashMap<String, Millis>>,
    /// When each pool last ran a pass for an on-demand load.
    on_demand: Mutex<HashMap<String, std::time::Instant>>,
    pub(super) kick: tokio::sync::Notify,
}

impl Default for PoolRuntime {
    fn default() -> Self {
        PoolRuntime {
            // An engine's answer is its answer: never follow a redirect.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            endpoints: RwLock::default(),
            last_used: Mutex::default(),
            unflushed: Mutex::default(),
            on_demand: Mutex::default(),
            kick: tokio::sync::Notify::new(),
        }
    }
}

impl PoolRuntime {
    /// Asks the reconciler for a pass now.
    pub fn wake(&self) {
        self.kick.notify_one();
    }

    pub fn touch(&self, engine_name: &str) {
        let now = now_millis();
        if let Ok(mut m) = self.last_used.lock() {
            m.insert(engine_name.to_string(), now);
        }
        if let Ok(mut m) = self.unflushed.lock() {
            m.insert(engine_name.to_string(), now);
        }
    }

    /// Writes the uses seen here since the last flush, so other replicas
    /// (and the CLI) order evictions by the same recency.
    pub(super) async fn flush(&self, svc: &Services) -> Result<()> {
        let uses: Vec<(String, Millis)> = match self.unflushed.lock() {
            Ok(mut m) => m.drain().collect(),
            Err(_) => return Ok(()),
        };
        for (name, at) in uses {
            let Some(id) = name.strip_prefix(ENGINE_PREFIX) else {
                continue;
            };
            sqlx::query(
                "UPDATE custom_models SET last_used_at = $1 WHERE id = $2 AND last_used_at < $1",
            )
            .bind(at)
            .bind(id)
            .execute(&svc.db.pool)
            .await?;
        }
        Ok(())
    }

    pub(super) fn last_used(&self, engine_name: &str) -> Millis {
        self.last_used
            .lock()
            .ok()
            .and_then(|m| m.get(engine_name).copied())
            .unwrap_or(0)
    }

    /// Whether an on-demand pass may run for `pool` now (at most one per
    /// pool and `ON_DEMAND_EVERY`); claims the slot when it may.
    pub(super) fn on_demand_due(&self, pool: &str) -> bool {
        let Ok(mut m) = self.on_demand.lock() else {
            return false;
        };
        let now = std::time::Instant::now();
        match m.get(pool) {
            Some(at) if now.duration_since(*at) < ON_DEMAND_EVERY => false,
            _ => {
                m.insert(pool.to_string(), now);
                true
            }
        }
    }

    /// The providers (endpoints) that have the adapter loaded.
    pub fn holding(&self, engine_name: &str) -> Vec<String> {
        self.endpoints
            .read()
            .map(|m| {
                m.values()
                    .filter(|e| e.reachable && e.loaded.contains(engine_name))
                    .map(|e| e.provider.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn presence(&self, engine_name: &str) -> Vec<Presence> {
        self.endpoints
            .read()
            .map(|m| {
                m.values()
                    .map(|e| Presence {
                        provider: e.provider.clone(),
                        reachable: e.reachable,
                        loaded: e.loaded.contains(engine_name),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn endpoints(&self) -> Vec<EndpointState> {
        self.endpoints
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Writes the endpoints of the pools this replica just reconciled to
    /// `engine_states`, so every replica (and its portal) sees them; a row
    /// checked later by another replica is kept. After a pass over every
    /// pool, rows of endpoints no longer served go too.
    pub(super) async fn save(
        &self,
        svc: &Services,
        pools: &[String],
        every_pool: bool,
    ) -> Result<()> {
        let states: Vec<EndpointState> = self
            .endpoints()
            .into_iter()
            .filter(|e| pools.contains(&e.pool))
            .collect();
        let mut tx = svc.db.pool.begin().await?;
        if every_pool {
            let held: Vec<String> = sqlx::query_scalar("SELECT provider FROM engine_states")
                .fetch_all(&mut *tx)
                .await?;
            for gone in held
                .iter()
                .filter(|p| !states.iter().any(|e| &e.provider == *p))
            {
                sqlx::query("DELETE FROM engine_states WHERE provider = $1")
                    .bind(gone)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for e in &states {
            let json = serde_json::to_string(e)
                .map_err(|err| crate::server::services::ServiceError::Internal(err.to_string()))?;
            sqlx::query(
                "INSERT INTO engine_states (provider, state, checked_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (provider) DO UPDATE SET state = excluded.state, \
                 checked_at = excluded.checked_at \
                 WHERE engine_states.checked_at <= excluded.checked_at",
            )
            .bind(&e.provider)
            .bind(json)
            .bind(e.checked_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes the endpoints as the replica running the reconciler last wrote
    /// them, keeping this replica's own state of an endpoint when it is
    /// newer (an on-demand pass here). Endpoints no longer stored are
    /// forgotten. A row that no longer parses (written by another version)
    /// is skipped, not trusted.
    pub(super) async fn load(&self, svc: &Services) -> Result<()> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT provider, state FROM engine_states")
                .fetch_all(&svc.db.pool)
                .await?;
        let mut stored = BTreeMap::new();
        for (provider, json) in rows {
            match serde_json::from_str::<EndpointState>(&json) {
                Ok(state) => {
                    stored.insert(provider, state);
                }
                Err(e) => tracing::warn!(%provider, error = %e, "engine state unreadable; skipped"),
            }
        }
        if let Ok(mut m) = self.endpoints.write() {
            for (provider, state) in stored.iter_mut() {
                if let Some(mine) = m.get(provider).filter(|e| e.checked_at > state.checked_at) {
                    *state = mine.clone();
                }
            }
            *m = stored;
        }
        Ok(())
    }

    /// Forgets endpoints of pools that no longer exist.
    pub(super) fn retain_pools(&self, pools: &[String]) {
        if let Ok(mut m) = self.endpoints.write() {
            m.retain(|_, e| pools.contains(&e.pool));
        }
    }

    /// Keeps the latest repair (a pass in sync repairs nothing) and counts.
    pub(super) fn record(&self, mut state: EndpointState) {
        if let Ok(mut m) = self.endpoints.write() {
            let before = m.get(&state.provider);
            let earlier = before.map_or(0, |b| b.repairs);
            if state.repaired.is_empty() {
                if let Some(b) = before {
                    state.repaired = b.repaired.clone();
                    state.repaired_at = b.repaired_at;
                }
                state.repairs = earlier;
            } else {
                state.repaired_at = Some(state.checked_at);
                state.repairs = earlier + state.repaired.len() as u64;
            }
            m.insert(state.provider.clone(), state);
        }
    }
}
