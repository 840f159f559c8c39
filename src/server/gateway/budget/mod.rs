//! Budgets on the completion path. Before the provider is called, every
//! hard budget that applies reserves the request's worst-case cost, and the
//! request is refused (429 `budget_exceeded`) if spend plus what is held
//! could then cross the limit; after it, the reservation is replaced by
//! the real cost (nothing, on failure). Soft budgets only count, and alert
//! when a request's cost crosses 50, 80 or 100 percent.
//!
//! Counts live in process (`local`), or in Redis (`shared`) when REDIS_URL
//! is set, so replicas share one count; each is loaded once from the
//! ledger. Check and hold are one atomic step either way, so concurrent
//! requests cannot together overspend. With Redis, a replica far from the
//! limit holds a lease of room and serves holds from it (`lease`); Redis
//! settles are batched (`settler`).

mod lease;
mod local;
mod settler;
mod shared;

use std::sync::Arc;

use redis::aio::ConnectionManager;

use super::error::GatewayError;
use crate::domain::budget::{day_of, thresholds_crossed, Budget, Day, Enforcement};
use crate::domain::pricing::Micros;
use crate::domain::time::{now_millis, DAY};
use crate::server::services::{budgets, Services};

/// What one request holds against its budgets until it settles.
#[derive(Debug, Default)]
pub struct Hold {
    held: Vec<Held>,
}

impl Hold {
    /// Nothing held: most requests, whose tenants have no budget.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[derive(Debug)]
struct Held {
    budget: Budget,
    /// The worst case held against a hard budget; 0 for a soft one.
    amount: Micros,
    /// Names this reservation in Redis.
    member: String,
    place: Place,
}

/// Where a hold is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// In process: no Redis, or it is unreachable.
    Local,
    /// In Redis, as a hold of its own.
    Redis,
    /// In this process's lease with this id (itself held in Redis).
    Lease(String),
}

pub struct BudgetGuard {
    local: local::Counts,
    redis: Option<ConnectionManager>,
    leases: Arc<lease::Leases>,
    settler: settler::Settler,
}

/// A budget's count as the guard reports it.
pub(super) struct Spent {
    pub spent: Micros,
    pub held: Micros,
}

impl BudgetGuard {
    pub fn new(redis: Option<ConnectionManager>) -> Self {
        let leases = Arc::new(lease::Leases::default());
        Self {
            local: local::Counts::default(),
            redis,
            settler: settler::Settler::new(leases.clone()),
            leases,
        }
    }

    /// Starts the Redis settler on the calling runtime (the shared one, at
    /// start-up), not on whichever serving shard first needs it: a shard's
    /// tasks end with its runtime, before `give_back` at a stop.
    pub fn start(&self, svc: &Services) {
        if let Some(conn) = &self.redis {
            self.settler.queue(svc, conn);
        }
    }

    /// Holds `worst` against each hard budget and notes each soft one;
    /// refuses, holding nothing, if any hard budget could be crossed.
    pub async fn reserve(
        &self,
        svc: &Services,
        budgets: Vec<Budget>,
        request_id: &str,
        worst: Micros,
    ) -> Result<Hold, GatewayError> {
        let mut hold = Hold::default();
        for budget in budgets {
            let amount = if budget.enforcement == Enforcement::Hard {
                worst
            } else {
                0
            };
            // A worst case above the whole limit can never fit: refused
            // before any count sees it, so no sum below can grow past
            // a limit's size (at most $1B), let alone wrap.
            if amount > budget.limit_micros {
                self.settle(svc, hold, 0);
                let message = budget.beyond_limit_message(worst);
                return Err(GatewayError::BudgetExceeded(message));
            }
            match self.reserve_one(svc, &budget, amount, request_id).await {
                Ok((Ok(()), place)) => hold.held.push(Held {
                    budget,
                    amount,
                    member: format!("{amount}:{request_id}"),
                    place,
                }),
                Ok((Err(spent), _)) => {
                    self.settle(svc, hold, 0);
                    let used = spent.spent.saturating_add(spent.held);
                    let message = budget.exceeded_message(used, worst);
                    return Err(GatewayError::BudgetExceeded(message));
                }
                Err(e) => {
                    self.settle(svc, hold, 0);
                    return Err(e);
                }
            }
        }
        Ok(hold)
    }

    /// One budget's check-and-hold, and where it is held: a lease of this
    /// process first, else Redis (which may grant a lease), else, while
    /// Redis is unreachable, in process (like rate limits).
    async fn reserve_one(
        &self,
        svc: &Services,
        budget: &Budget,
        amount: Micros,
        request_id: &str,
    ) -> Result<(Result<(), Spent>, Place), GatewayError> {
        if let Some(conn) = &self.redis {
            if amount > 0 {
                if let Some(id) = self.leases.take(budget, amount) {
                    return Ok((Ok(()), Place::Lease(id)));
                }
            }
            let reserved =
                shared::reserve(svc, conn.clone(), budget, amount, request_id, amount > 0).await;
            match reserved {
                Ok(Ok(granted)) if granted > amount => {
                    // A lease: the settler must run to flush it.
                    self.settler.queue(svc, conn);
                    // Its member is `GRANTED:REQUEST`, like a request's hold.
                    let id = request_id.to_string();
                    self.leases.add(budget, id.clone(), granted, amount);
                    return Ok((Ok(()), Place::Lease(id)));
                }
                Ok(r) => return Ok((r.map(|_| ()), Place::Redis)),
                Err(shared::Failure::Load(e)) => return Err(e),
                Err(shared::Failure::Redis(e)) => {
                    tracing::warn!(error = %e, "Redis unavailable; budgets counted in process")
                }
            }
        }
        Ok((self.local.reserve(svc, budget, amount).await?, Place::Local))
    }

    /// Gives back every lease and moves their costs to spend in Redis: at
    /// shutdown, once requests have drained, so the room is free at once
    /// rather than when the leases lapse.
    pub async fn give_back(&self) {
        if let Some(conn) = &self.redis {
            settler::flush(conn, &self.leases, true).await;
        }
    }

    /// A budget's spend in its period and its outstanding holds, as this
    /// guard counts them now: in Redis when it is configured and reachable
    /// (leases included), else in process (for tests and operators).
    pub async fn observe(&self, budget: &Budget) -> (Micros, Micros) {
        if let Some(conn) = &self.redis {
            match shared::observe(conn.clone(), budget).await {
                Ok(counts) => return counts,
                Err(e) => tracing::warn!(error = %e, "Redis unavailable; budget read in process"),
            }
        }
        self.local.observe(budget)
    }

    /// Leases this process holds (for tests and operators).
    pub fn leases(&self) -> usize {
        self.leases.count()
    }

    /// Replaces what `hold` reserved with the request's real cost (0 gives
    /// it back); alerts soft budgets whose thresholds it crossed. Never
    /// waits: Redis settles in batches (`settler`), alerts in tasks.
    pub fn settle(&self, svc: &Services, hold: Hold, cost: Micros) {
        let today = day_of(now_millis());
        for held in hold.held {
            match (&held.place, &self.redis) {
                (Place::Lease(id), _) => {
                    self.leases.settle(&held.budget.id, id, held.amount, cost);
                }
                (Place::Redis, Some(conn)) => {
                    let s = settler::Settle { held, cost, today };
                    self.settler.push(svc, conn, s);
                }
                _ => {
                    let after = self.local.settle(&held.budget, held.amount, cost, today);
                    if let Some(after) = after {
                        alert(svc, &held.budget, after - cost, after);
                    }
                }
            }
        }
    }
}

/// Raises a soft budget's alerts for the thresholds `before → after` crossed.
fn alert(svc: &Services, budget: &Budget, before: Micros, after: Micros) {
    if budget.enforcement != Enforcement::Soft {
        return;
    }
    let crossed = thresholds_crossed(before, after, budget.limit_micros);
    if crossed.is_empty() {
        return;
    }
    let (svc, budget) = (svc.clone(), budget.clone());
    let (first_day, _) = budget.period.days(now_millis());
    tokio::spawn(async move {
        for threshold in crossed {
            if let Err(e) =
                budgets::alerts::raise(&svc, &budget, first_day * DAY, threshold, after).await
            {
                tracing::error!(error = ?e, budget_id = %budget.id, "budget alert not recorded");
            }
        }
    });
}

/// A budget's spend per day in its current period, from the ledger.
pub(super) async fn load(
    svc: &Services,
    budget: &Budget,
) -> Result<Vec<(Day, Micros)>, GatewayError> {
    budgets::status::spend_by_day(
        svc,
        &budget.tenant_id,
        budget.api_key_id.as_deref(),
        budget.period.days(now_millis()),
    )
    .await
    .map_err(|e| GatewayError::Internal(format!("budget {}: spend: {e}", budget.id)))
}
