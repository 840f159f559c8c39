//! Settles Redis holds in batches. Each answered request used to run its
//! own settle script; under load that doubled the Redis work a budget
//! costs. Now settles queue here and one task takes whatever has queued
//! while it was busy, one script per budget and day: with little traffic
//! each settle still runs at once, alone. Holds wait at most one batch
//! longer, which can only refuse a request sooner, never overspend.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use super::lease::Leases;
use super::shared::{self, Group};
use super::{alert, Held};
use crate::domain::budget::{day_of, Day};
use crate::domain::pricing::Micros;
use crate::domain::time::now_millis;
use crate::server::services::Services;

/// Settles waiting at most; beyond this one is settled in a task of its own.
const QUEUE: usize = 65_536;
/// Settles one batch takes at most.
const BATCH: usize = 1_024;
/// How often leases' consumption moves to spend in Redis (and idle
/// leases are given back).
const FLUSH_EVERY: Duration = Duration::from_millis(50);

pub(super) struct Settle {
    pub held: Held,
    pub cost: Micros,
    pub today: Day,
}

pub(super) struct Settler {
    queue: OnceLock<mpsc::Sender<Settle>>,
    leases: Arc<Leases>,
}

impl Settler {
    pub fn new(leases: Arc<Leases>) -> Self {
        Settler {
            queue: OnceLock::new(),
            leases,
        }
    }

    /// The queue, its task started with the first settle or lease.
    pub fn queue(&self, svc: &Services, conn: &ConnectionManager) -> &mpsc::Sender<Settle> {
        self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let leases = self.leases.clone();
            tokio::spawn(run(svc.clone(), conn.clone(), rx, leases));
            tx
        })
    }

    /// Queues a settle.
    pub fn push(&self, svc: &Services, conn: &ConnectionManager, s: Settle) {
        if let Err(e) = self.queue(svc, conn).try_send(s) {
            // Full (or the task is gone): settle this one on its own.
            let s = match e {
                mpsc::error::TrySendError::Full(s) | mpsc::error::TrySendError::Closed(s) => s,
            };
            let (svc, conn) = (svc.clone(), conn.clone());
            tokio::spawn(async move { settle(&svc, &conn, group(vec![s])).await });
        }
    }
}

async fn run(
    svc: Services,
    conn: ConnectionManager,
    mut rx: mpsc::Receiver<Settle>,
    leases: Arc<Leases>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break;
                }
                settle(&svc, &conn, group(std::mem::take(&mut batch))).await;
            }
            _ = tick.tick() => flush(&conn, &leases, false).await,
        }
    }
}

/// Moves each lease's settled costs to spend in Redis and gives back
/// leases no longer needed (`all`: every lease with nothing in flight).
pub(super) async fn flush(conn: &ConnectionManager, leases: &Leases, all: bool) {
    let today = day_of(now_millis());
    for f in leases.due(Instant::now(), all) {
        match shared::flush_lease(conn.clone(), &f, today).await {
            Some((_, lapsed)) => leases.flushed(&f, lapsed),
            None => leases.failed(&f),
        }
    }
}

/// The batch by budget and day, in the order first seen.
fn group(batch: Vec<Settle>) -> Vec<Group> {
    let mut at: HashMap<(String, Day), usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for s in batch {
        let i = *at
            .entry((s.held.budget.id.clone(), s.today))
            .or_insert_with(|| {
                groups.push(Group {
                    budget: s.held.budget.clone(),
                    today: s.today,
                    members: Vec::new(),
                    cost: 0,
                });
                groups.len() - 1
            });
        let g = &mut groups[i];
        g.members.push(s.held.member);
        g.cost = g.cost.saturating_add(s.cost);
    }
    groups
}

async fn settle(svc: &Services, conn: &ConnectionManager, groups: Vec<Group>) {
    for g in groups {
        if let Some(after) = shared::settle(conn.clone(), &g).await {
            alert(svc, &g.budget, after - g.cost, after);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::budget::{Budget, Enforcement, Period};
    use crate::domain::tenant::TenantId;

    fn settle(budget: &str, today: Day, cost: Micros) -> Settle {
        Settle {
            held: Held {
                budget: Budget {
                    id: budget.into(),
                    tenant_id: TenantId::parse("00000000-0000-4000-8000-000000000001").expect("id"),
                    api_key_id: None,
                    api_key_name: None,
                    limit_micros: 1_000_000,
                    period: Period::Month,
                    enforcement: Enforcement::Hard,
                    webhook_url: None,
                    updated_at: 0,
                },
                amount: 10,
                member: format!("10:{budget}{cost}"),
                place: super::super::Place::Redis,
            },
            cost,
            today,
        }
    }

    #[test]
    fn a_batch_settles_once_per_budget_and_day() {
        let groups = group(vec![
            settle("a", 1, 3),
            settle("b", 1, 4),
            settle("a", 1, 5),
            settle("a", 2, 6),
        ]);
        let seen: Vec<(String, Day, usize, Micros)> = groups
            .iter()
            .map(|g| (g.budget.id.clone(), g.today, g.members.len(), g.cost))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("a".into(), 1, 2, 8),
                ("b".into(), 1, 1, 4),
                ("a".into(), 2, 1, 6)
            ]
        );
    }
}
