//! Pools for database-per-tenant stores: opened on first use, at most `cap`
//! kept open, the least recently used dropped first.

use std::collections::HashMap;
use std::sync::Mutex;

use sqlx::AnyPool;

pub struct TenantPools {
    cap: usize,
    inner: Mutex<Lru>,
}

#[derive(Default)]
struct Lru {
    tick: u64,
    pools: HashMap<String, (AnyPool, u64)>,
}

impl TenantPools {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            inner: Mutex::new(Lru::default()),
        }
    }

    /// The pool for `name`, opening it with `open` when it is not cached.
    /// An evicted pool is only dropped: callers still holding it finish their
    /// work, and its connections close with the last clone.
    pub fn get_or_open<E>(
        &self,
        name: &str,
        open: impl FnOnce() -> Result<AnyPool, E>,
    ) -> Result<AnyPool, E> {
        let mut lru = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        lru.tick += 1;
        let tick = lru.tick;
        if let Some((pool, used)) = lru.pools.get_mut(name) {
            *used = tick;
            return Ok(pool.clone());
        }
        let pool = open()?;
        if lru.pools.len() >= self.cap {
            let oldest = lru
                .pools
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                lru.pools.remove(&k);
            }
        }
        lru.pools.insert(name.to_string(), (pool.clone(), tick));
        Ok(pool)
    }

    /// Takes a pool out so its store can be dropped.
    pub fn remove(&self, name: &str) -> Option<AnyPool> {
        let mut lru = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        lru.pools.remove(name).map(|(p, _)| p)
    }

    pub fn open_count(&self) -> usize {
        let lru = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        lru.pools.len()
    }
}
