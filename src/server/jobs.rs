//! Periodic jobs, run once across replicas: each takes a lease in the
//! database before its run (`job_leases`), renews it every run, and
//! another replica takes it over once it lapses (the holder died) or is
//! given back (the holder stopped). The loops call the services; the work
//! itself lives there. The change watcher and the key last-used flusher
//! are not here: every replica runs those for itself.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::domain::time::now_millis;
use crate::server::services::{
    audit_anchor, audit_retention, budgets, compliance, custom_models, invoices, meters, Result,
    Services,
};

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
/// counting the run; true if this replica is to run it now. Times come
/// from one clock: PostgreSQL's on PostgreSQL (replicas' own clocks may
/// disagree), the machine's on SQLite (one machine).
pub async fn claim(svc: &Services, job: Job, every: Duration) -> Result<bool> {
    let now = svc.db.now_ms_sql("$4");
    let sql = format!(
        "INSERT INTO job_leases (name, holder, until_ms, runs, last_run_at) \
         VALUES ($1, $2, {now} + $3, 1, {now}) ON CONFLICT (name) DO UPDATE SET \
         holder = excluded.holder, until_ms = excluded.until_ms, runs = job_leases.runs + 1, \
         last_run_at = excluded.last_run_at \
         WHERE job_leases.holder = excluded.holder OR job_leases.until_ms < excluded.last_run_at"
    );
    let mut query = sqlx::query(&sql)
        .bind(job.name())
        .bind(&*svc.replica_id)
        .bind(lease_for(every));
    if svc.db.binds_clock() {
        query = query.bind(now_millis());
    }
    let taken = query.execute(&svc.db.pool).await?.rows_affected();
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

/// Every periodic job's loop; aborted by the runtime at shutdown.
pub fn spawn_all(svc: &Services) -> Vec<JoinHandle<()>> {
    let mut out = vec![
        every(svc, Job::InvoiceIssuer, (30, 600), |svc| async move {
            if let Err(e) = invoices::issue_due(&svc).await {
                tracing::warn!(error = ?e, "invoice issuing failed; retrying later");
            }
        }),
        every(svc, Job::MeterSampler, (20, 3600), |svc| async move {
            if let Err(e) = meters::sample_today(&svc).await {
                tracing::warn!(error = ?e, "meter sampling failed; retrying later");
            }
        }),
        every(svc, Job::AuditRetention, (0, 3600), |svc| async move {
            retention(&svc).await
        }),
        every(svc, Job::WebhookRedelivery, (30, 30), |svc| async move {
            if let Err(e) = budgets::redeliver::run_once(&svc).await {
                tracing::warn!(error = ?e, "budget webhook redelivery failed; retrying later");
            }
        }),
        reconciler(svc.clone()),
    ];
    out.extend(checkpoints(svc.clone()));
    out
}

/// Runs `run` after `delay` seconds and then every `period` seconds, on
/// whichever replica holds the job's lease.
fn every<F, Fut>(svc: &Services, job: Job, (delay, period): (u64, u64), run: F) -> JoinHandle<()>
where
    F: Fn(Services) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let svc = svc.clone();
    let period = Duration::from_secs(period);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(delay)).await;
        loop {
            if my_turn(&svc, job, period).await {
                run(svc.clone()).await;
            }
            tokio::time::sleep(period).await;
        }
    })
}

async fn retention(svc: &Services) {
    match audit_retention::purge_expired(svc).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(events = n, "audit events past retention purged"),
        Err(e) => tracing::error!(error = %e, "audit retention purge failed"),
    }
    match compliance::request_log::purge_expired(svc).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "request log rows past retention purged"),
        Err(e) => tracing::error!(error = %e, "request log retention purge failed"),
    }
}

/// Adapters' use times are this replica's own and are written by every
/// replica; the pass over the pools runs on one, on every tick or when a
/// change wakes it.
fn reconciler(svc: Services) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = custom_models::reconciler::flush_use_times(&svc).await {
                tracing::warn!(error = ?e, "writing adapter use times failed; retrying");
            }
            let period = Duration::from_millis(svc.config.reconcile_ms.max(100));
            if my_turn(&svc, Job::CustomModelReconciler, period).await {
                if let Err(e) = custom_models::reconciler::tick(&svc).await {
                    tracing::warn!(error = ?e, "custom model reconcile failed; retrying");
                }
            } else if let Err(e) = custom_models::reconciler::follow(&svc).await {
                tracing::warn!(error = ?e, "reading engine states failed; retrying");
            }
            custom_models::reconciler::wait(&svc, period).await;
        }
    })
}

/// Checkpoints on an interval whenever a chain has grown, when an anchor
/// is configured.
fn checkpoints(svc: Services) -> Option<JoinHandle<()>> {
    svc.config.audit_anchor.as_ref()?;
    let period = Duration::from_secs(svc.config.audit_anchor_secs.max(1));
    Some(tokio::spawn(async move {
        let mut last = Vec::new();
        loop {
            tokio::time::sleep(period).await;
            if !my_turn(&svc, Job::AuditCheckpoints, period).await {
                continue;
            }
            match audit_anchor::heads(&svc).await {
                Ok(now) if now == last => continue,
                Ok(now) => match audit_anchor::anchor_now(&svc).await {
                    Ok(_) => last = now,
                    Err(e) => tracing::error!(error = %e, "audit checkpoint failed; retrying"),
                },
                Err(e) => tracing::error!(error = %e, "reading audit chain heads failed"),
            }
        }
    }))
}
