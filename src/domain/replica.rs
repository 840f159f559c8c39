//! Replicas and the periodic jobs they share, as the operator sees them
//! (portal, CLI, admin API). The registry itself is `services::replicas`.

use serde::{Deserialize, Serialize};

use super::time::Millis;

/// One replica as the registry knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Replica {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub addr: String,
    pub data_dir: String,
    pub version: String,
    /// Whether it shares limits and budgets through Redis.
    pub redis: bool,
    pub started_at: Millis,
    pub seen_at: Millis,
    /// Renewed within the lapse, by the database's clock.
    pub live: bool,
}

/// A periodic job's lease: the replica running it, until when, and how
/// many runs it has had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, sqlx::FromRow))]
pub struct JobLease {
    pub name: String,
    pub holder: String,
    pub until_ms: Millis,
    pub runs: i64,
    pub last_run_at: Option<Millis>,
}

/// The fleet and its jobs, for the Operations page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Operations {
    pub replicas: Vec<Replica>,
    pub jobs: Vec<JobLease>,
}

impl Operations {
    pub fn live(&self) -> usize {
        self.replicas.iter().filter(|r| r.live).count()
    }
}
