//! Periodic jobs run once across replicas: each takes a lease in the
//! database before its run (`job_leases`), renews it every run, and
//! another replica takes it over once it lapses (the holder died) or is
//! given back (the holder stopped). The change watcher and the last-used
//! flusher are not here: every replica runs those for itself.

use std::time::Duration;

use crate::domain::time::now_millis;

use super::{Result, Services};

/// The jobs that must not run twice at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    InvoiceIssuer,
    MeterSampler,
    AuditRetention,
    AuditCheckpoints,
    WebhookRedelivery,
    CustomModelReconciler,
}

impl Job {
    pub const ALL: [Job; 6] = [
        Job::InvoiceIssuer,
        Job::MeterSampler,
        Job::AuditRetention,
        Job::AuditCheckpoints,
        Job::WebhookRedelivery,
        Job::CustomModelReconciler,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Job::InvoiceIssuer => "invoice_issuer",
            Job::MeterSampler => "meter_sampler",
            Job::AuditRetention => "audit_retention",
            Job::AuditCheckpoints => "audit_checkpoints",
            Job::WebhookRedelivery => "webhook_redelivery",
            Job::CustomModelReconciler => "custom_model_reconciler",
        }
    }
}

/// How long a lease outlives its holder's last run: two periods and a
/// margin, so a live holder always renews in time and a dead one's job
/// resumes elsewhere within that.
fn lease_for(every: Duration) -> i64 {
    let ms = every.as_millis().min(i64::MAX as u128 / 4) as i64;
    ms.saturating_mul(2).saturating_add(30_000)
}

/// Takes or renews the job's lease for a run of a job run every `every`,
/// counting the run; true if this replica is to run it now.
pub async fn claim(svc: &Services, job: Job, every: Duration) -> Result<bool> {
    let now = now_millis();
    let taken = sqlx::query(
        "INSERT INTO job_leases (name, holder, until_ms, runs, last_run_at) \
         VALUES ($1, $2, $3, 1, $4) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
         until_ms = excluded.until_ms, runs = job_leases.runs + 1, last_run_at = excluded.last_run_at \
         WHERE job_leases.holder = excluded.holder OR job_leases.until_ms < excluded.last_run_at",
    )
    .bind(job.name())
    .bind(&*svc.replica_id)
    .bind(now.saturating_add(lease_for(every)))
    .bind(now)
    .execute(&svc.db.pool)
    .await?
    .rows_affected();
    Ok(taken == 1)
}

/// As `claim`, for a job's loop: a failure to reach the database skips
/// this run (logged), it never runs the job unguarded.
pub async fn my_turn(svc: &Services, job: Job, every: Duration) -> bool {
    match claim(svc, job, every).await {
        Ok(mine) => mine,
        Err(e) => {
            tracing::warn!(job = job.name(), error = %e, "job lease unavailable; skipping this run");
            false
        }
    }
}

/// Gives back every lease this replica holds, so the jobs resume on
/// another replica at its next period instead of after the lease lapses.
pub async fn release(svc: &Services) -> Result<()> {
    sqlx::query("DELETE FROM job_leases WHERE holder = $1")
        .bind(&*svc.replica_id)
        .execute(&svc.db.pool)
        .await?;
    Ok(())
}

/// Who holds each job and how often it ran: for the replica proof and the
/// operator.
pub async fn leases(svc: &Services) -> Result<Vec<(String, String, i64, i64)>> {
    let rows = sqlx::query_as("SELECT name, holder, until_ms, runs FROM job_leases ORDER BY name")
        .fetch_all(&svc.db.pool)
        .await?;
    Ok(rows)
}

/// Runs `work` when it is this replica's turn; otherwise nothing happens.
pub async fn run_if<T: Default>(
    mine: bool,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    if mine {
        work.await
    } else {
        Ok(T::default())
    }
}
