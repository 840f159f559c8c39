//! Turns for audit searches, which may read far more rows than they show
//! (a search by text or resource, a page deep in the results): at most
//! `ALL` run at once in a process, so they leave the pool's connections to
//! the gateway's writers and the portal, and each tenant has one lane, so
//! one tenant's searches queue behind each other and never take every turn.
//! An export takes a turn for each page it reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Actor, Result, ServiceError};

/// Searches running at once in this process.
const ALL: usize = 2;
/// The least a search waits for its turn, lane and process together.
const LEAST_WAIT: Duration = Duration::from_secs(10);

/// Whose lane a search takes: a tenant user's own tenant, or, on the
/// platform, its caller's (a user or a token), so an automation reading
/// the trail does not hold the operators' searches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Lane {
    Tenant(String),
    Platform(String),
}

impl Lane {
    pub fn of(actor: &Actor) -> Result<Self> {
        Ok(match actor.scope()? {
            Some(own) => Lane::Tenant(own.to_string()),
            None => Lane::Platform(actor.audit_name()),
        })
    }
}

/// How long a turn is waited for: longer than one search can hold
/// it (two statements, each up to `timeout_ms`), and at least `LEAST_WAIT`.
pub fn wait_for(timeout_ms: u64) -> Duration {
    let held = Duration::from_millis(timeout_ms.saturating_mul(2).saturating_add(1_000));
    held.max(LEAST_WAIT)
}

pub struct SearchTurns {
    all: Arc<Semaphore>,
    /// One semaphore of one permit per lane in use; a lane nobody holds or
    /// waits for is removed, so the map is as large as the searches running.
    lanes: Mutex<HashMap<Lane, Arc<Semaphore>>>,
}

impl Default for SearchTurns {
    fn default() -> Self {
        Self {
            all: Arc::new(Semaphore::new(ALL)),
            lanes: Mutex::default(),
        }
    }
}

/// A search's right to run; given back when dropped.
pub struct Turn {
    all: Option<OwnedSemaphorePermit>,
    lane: Option<OwnedSemaphorePermit>,
    key: Lane,
    turns: Arc<SearchTurns>,
}

impl SearchTurns {
    /// Waits for the lane's turn, then the process's; 503 when both are not
    /// had within `wait`.
    pub async fn take(self: &Arc<Self>, key: Lane, wait: Duration) -> Result<Turn> {
        let lane = self.lane(&key)?;
        let mut turn = Turn {
            all: None,
            lane: None,
            key,
            turns: Arc::clone(self),
        };
        let waited = tokio::time::timeout(wait, async {
            turn.lane = Some(lane.acquire_owned().await?);
            turn.all = Some(Arc::clone(&self.all).acquire_owned().await?);
            Ok::<_, tokio::sync::AcquireError>(())
        })
        .await;
        match waited {
            Ok(Ok(())) => Ok(turn),
            Ok(Err(closed)) => Err(ServiceError::Internal(closed.to_string())),
            Err(_) => Err(ServiceError::Unavailable(
                "too many audit searches are running: try again shortly".into(),
            )),
        }
    }

    fn lane(&self, key: &Lane) -> Result<Arc<Semaphore>> {
        let mut lanes = self.lanes.lock().map_err(poisoned)?;
        Ok(Arc::clone(
            lanes
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(1))),
        ))
    }

    #[cfg(test)]
    fn lanes_in_use(&self) -> usize {
        self.lanes.lock().map_or(0, |l| l.len())
    }
}

fn poisoned<T>(e: std::sync::PoisonError<T>) -> ServiceError {
    ServiceError::Internal(format!("audit search lanes: {e}"))
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.all.take();
        self.lane.take();
        // Only the map holds a lane nobody holds or waits for.
        if let Ok(mut lanes) = self.turns.lanes.lock() {
            if lanes
                .get(&self.key)
                .is_some_and(|l| Arc::strong_count(l) == 1)
            {
                lanes.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(t: &str) -> Lane {
        Lane::Tenant(t.into())
    }

    #[tokio::test]
    async fn a_tenant_holds_one_turn_and_leaves_the_other_to_the_rest() {
        let turns = Arc::new(SearchTurns::default());
        let first = turns
            .take(tenant("a"), LEAST_WAIT)
            .await
            .expect("a's first turn");
        let waiting = tokio::spawn({
            let turns = Arc::clone(&turns);
            async move { turns.take(tenant("a"), LEAST_WAIT).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiting.is_finished(),
            "a's second search waits for its lane"
        );
        let other =
            tokio::time::timeout(Duration::from_secs(1), turns.take(tenant("b"), LEAST_WAIT))
                .await
                .expect("b is not queued behind a")
                .expect("b's turn");
        drop(other);
        drop(first);
        waiting.await.expect("joined").expect("a's second turn");
        assert_eq!(turns.lanes_in_use(), 0, "lanes nobody uses are removed");
    }

    #[tokio::test]
    async fn a_turn_not_had_in_time_is_unavailable() {
        let turns = Arc::new(SearchTurns::default());
        let _a = turns.take(tenant("a"), LEAST_WAIT).await.expect("a");
        let _b = turns.take(tenant("b"), LEAST_WAIT).await.expect("b");
        let late = turns
            .take(Lane::Platform("user:u1".into()), Duration::from_millis(50))
            .await
            .err();
        assert!(
            matches!(late, Some(ServiceError::Unavailable(_))),
            "{late:?}"
        );
        assert_eq!(turns.lanes_in_use(), 2, "the late lane is removed");
    }

    #[test]
    fn the_wait_outlasts_a_search_that_holds_its_turn() {
        assert_eq!(wait_for(5_000), Duration::from_secs(11));
        assert_eq!(wait_for(10), LEAST_WAIT);
        assert!(wait_for(u64::MAX) > LEAST_WAIT);
    }
}
