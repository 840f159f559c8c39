//! Leases: with Redis, a replica far from a hard budget's limit holds a
//! small slice of the remaining room in Redis (one hold, like a request's)
//! and serves its requests' holds from it in process, so most requests
//! make no Redis call at all. Exactness is kept: Redis counts the lease as
//! held, so spend plus every hold (leases included) never passes the
//! limit; a request's real cost moves from the lease to spend when the
//! settler next flushes it. Leases are granted only while the room is at
//! least `FACTOR` worst cases, and are a `1/FACTOR` share of it, so near
//! the limit there are none and holds are per request, as without leases.
//! An idle lease is given back within `IDLE`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::budget::Budget;
use crate::domain::pricing::Micros;

/// Room, in worst cases, below which no lease is granted; a lease is this
/// share of the room.
pub(super) const FACTOR: i64 = 1_000;
/// A lease unused this long is given back.
pub(super) const IDLE: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Lease {
    id: String,
    /// What Redis holds for this lease (its member's amount).
    in_redis: Micros,
    /// What new holds may still take.
    free: Micros,
    /// In-flight holds taken from it.
    held: Micros,
    /// Real costs settled here and not yet moved to spend in Redis.
    pending: Micros,
    /// No new holds: it lapsed in Redis, or is being given back.
    retired: bool,
    /// A flush of it is on its way to Redis: no second one meanwhile.
    flushing: bool,
    last_used: Instant,
}

/// One budget's leases in this process.
struct Entry {
    budget: Budget,
    leases: Vec<Lease>,
}

/// What the settler sends to Redis for one lease: the consumption since
/// the last flush, and the lease's new amount (`None`: give it back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Flush {
    pub budget: Budget,
    pub id: String,
    pub in_redis: Micros,
    pub consumed: Micros,
    pub keep: Option<Micros>,
}

#[derive(Default)]
pub(super) struct Leases {
    map: Mutex<HashMap<String, Entry>>,
}

impl Leases {
    pub fn count(&self) -> usize {
        self.map
            .lock()
            .map_or(0, |m| m.values().map(|e| e.leases.len()).sum())
    }

    /// Takes `amount` from one of the budget's live leases, if one has it.
    pub fn take(&self, budget: &Budget, amount: Micros) -> Option<String> {
        let mut map = self.map.lock().ok()?;
        let entry = map.get_mut(&budget.id)?;
        let lease = entry
            .leases
            .iter_mut()
            .find(|l| !l.retired && l.free >= amount)?;
        lease.free -= amount;
        lease.held = lease.held.saturating_add(amount);
        lease.last_used = Instant::now();
        Some(lease.id.clone())
    }

    /// A lease Redis just granted (`granted`), with the first hold on it.
    pub fn add(&self, budget: &Budget, id: String, granted: Micros, amount: Micros) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        let entry = map.entry(budget.id.clone()).or_insert_with(|| Entry {
            budget: budget.clone(),
            leases: Vec::new(),
        });
        entry.budget = budget.clone();
        entry.leases.push(Lease {
            id,
            in_redis: granted,
            free: granted.saturating_sub(amount),
            held: amount,
            pending: 0,
            retired: false,
            flushing: false,
            last_used: Instant::now(),
        });
    }

    /// A hold of `amount` on lease `id` ended costing `cost`: what it did
    /// not use goes back to the lease, the cost waits for the next flush.
    pub fn settle(&self, budget_id: &str, id: &str, amount: Micros, cost: Micros) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        let Some(lease) = map
            .get_mut(budget_id)
            .and_then(|e| e.leases.iter_mut().find(|l| l.id == id))
        else {
            return;
        };
        // Saturating: a cost is capped at i64::MAX, not bounded by the
        // hold, and a wrapped sum would give the lease room it never had
        // (a panic here, in a debug build, would poison the lock).
        lease.held = lease.held.saturating_sub(amount);
        lease.pending = lease.pending.saturating_add(cost);
        lease.free = lease.free.saturating_add(amount.saturating_sub(cost));
        if lease.free < 0 {
            // It cost more than its worst case: take no more from it.
            lease.retired = true;
        }
    }

    /// What to send to Redis now: each lease's pending cost, and leases to
    /// give back (idle, used up or lapsed, with nothing in flight). A lease
    /// given back is retired here, so no hold can take from it meanwhile.
    pub fn due(&self, now: Instant, all: bool) -> Vec<Flush> {
        let Ok(mut map) = self.map.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in map.values_mut() {
            for l in entry.leases.iter_mut().filter(|l| !l.flushing) {
                let idle = now.duration_since(l.last_used) >= IDLE;
                let give_back = l.held == 0 && (all || idle || l.retired || l.free <= 0);
                if give_back {
                    l.retired = true;
                }
                if give_back || l.pending > 0 {
                    l.flushing = true;
                    out.push(Flush {
                        budget: entry.budget.clone(),
                        id: l.id.clone(),
                        in_redis: l.in_redis,
                        consumed: l.pending,
                        keep: (!give_back).then(|| l.in_redis.saturating_sub(l.pending).max(0)),
                    });
                }
            }
        }
        out
    }

    /// A flush Redis did not apply: it is tried again next time.
    pub fn failed(&self, f: &Flush) {
        if let Ok(mut map) = self.map.lock() {
            let lease = map
                .get_mut(&f.budget.id)
                .and_then(|e| e.leases.iter_mut().find(|l| l.id == f.id));
            if let Some(l) = lease {
                l.flushing = false;
            }
        }
    }

    /// Records a flush Redis applied (`lapsed`: the lease was no longer
    /// there); drops leases given back or lapsed with nothing in flight.
    pub fn flushed(&self, f: &Flush, lapsed: bool) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        let Some(entry) = map.get_mut(&f.budget.id) else {
            return;
        };
        if let Some(l) = entry.leases.iter_mut().find(|l| l.id == f.id) {
            l.flushing = false;
            l.pending = l.pending.saturating_sub(f.consumed);
            match f.keep {
                Some(amount) if !lapsed => l.in_redis = amount,
                _ => {
                    l.retired = true;
                    l.in_redis = 0;
                    l.free = 0;
                }
            }
        }
        entry
            .leases
            .retain(|l| !(l.retired && l.held == 0 && l.pending == 0 && l.in_redis == 0));
        if entry.leases.is_empty() {
            map.remove(&f.budget.id);
        }
    }
}

#[cfg(test)]
mod tests;
