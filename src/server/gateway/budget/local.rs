//! Budget counts in this process: spend per UTC day plus what in-flight
//! requests hold, behind one lock, so check-and-hold is atomic. Each
//! budget is loaded from the ledger the first time a request needs it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{load, Spent};
use crate::domain::budget::{Budget, Day, Period};
use crate::domain::pricing::Micros;
use crate::domain::time::now_millis;
use crate::server::gateway::error::GatewayError;
use crate::server::services::Services;

/// Days kept after they leave every period: a rolling year and a bit.
const KEEP_DAYS: Day = 400;

#[derive(Default)]
struct Count {
    days: BTreeMap<Day, Micros>,
    held: Micros,
}

impl Count {
    fn spent(&self, (first, last): (Day, Day)) -> Micros {
        self.days
            .range(first..=last)
            .fold(0, |sum: Micros, (_, m)| sum.saturating_add(*m))
    }
}

/// Keyed by budget and period: a budget whose period changes is loaded
/// again, since the new period may reach further back.
#[derive(Default)]
pub(super) struct Counts {
    map: Mutex<HashMap<(String, Period), Count>>,
}

fn poisoned() -> GatewayError {
    GatewayError::Internal("budget counts unavailable".into())
}

impl Counts {
    /// Holds `amount` if spend plus holds plus it stays within the limit;
    /// otherwise says what is spent and held.
    pub(super) async fn reserve(
        &self,
        svc: &Services,
        budget: &Budget,
        amount: Micros,
    ) -> Result<Result<(), Spent>, GatewayError> {
        let key = (budget.id.clone(), budget.period);
        let loaded = self.map.lock().map_err(|_| poisoned())?.contains_key(&key);
        if !loaded {
            let days = load(svc, budget).await?;
            let mut map = self.map.lock().map_err(|_| poisoned())?;
            // Another request may have loaded it meanwhile: the first stands.
            map.entry(key.clone()).or_insert_with(|| Count {
                days: days.into_iter().collect(),
                held: 0,
            });
        }
        let mut map = self.map.lock().map_err(|_| poisoned())?;
        let count = map.get_mut(&key).ok_or_else(poisoned)?;
        let spent = count.spent(budget.period.days(now_millis()));
        let after = spent
            .checked_add(count.held)
            .and_then(|s| s.checked_add(amount));
        if amount > 0 && after.is_none_or(|after| after > budget.limit_micros) {
            return Ok(Err(Spent {
                spent,
                held: count.held,
            }));
        }
        count.held = count.held.saturating_add(amount);
        Ok(Ok(()))
    }

    /// The period's spend and what is held, as counted here now.
    pub(super) fn observe(&self, budget: &Budget) -> (Micros, Micros) {
        let Ok(map) = self.map.lock() else {
            return (0, 0);
        };
        map.get(&(budget.id.clone(), budget.period))
            .map_or((0, 0), |c| {
                (c.spent(budget.period.days(now_millis())), c.held)
            })
    }

    /// Replaces a hold of `held` by `cost` spent today; returns the spend
    /// in the budget's current period afterwards. A count not loaded here
    /// (its budget changed period meanwhile) is left to load from the ledger.
    pub(super) fn settle(
        &self,
        budget: &Budget,
        held: Micros,
        cost: Micros,
        today: Day,
    ) -> Option<Micros> {
        let mut map = self.map.lock().ok()?;
        let count = map.get_mut(&(budget.id.clone(), budget.period))?;
        count.held = count.held.saturating_sub(held).max(0);
        if cost > 0 {
            let day = count.days.entry(today).or_default();
            *day = day.saturating_add(cost);
        }
        if count.days.len() as Day > KEEP_DAYS {
            count.days = count.days.split_off(&(today - KEEP_DAYS));
        }
        Some(count.spent(budget.period.days(now_millis())))
    }
}
