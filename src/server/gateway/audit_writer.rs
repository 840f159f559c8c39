//! Audit events for policy decisions, written behind the response in
//! batches (one transaction each), so a busy gateway appends thousands of
//! chained events a second instead of a transaction per request. A
//! decision written behind its response (redact, flag) is first appended
//! to the local spool, as usage events are, so a killed process loses
//! none; a block is written before its refusal leaves, so it needs none.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::batch::{BatchQueue, Sink, Tuning, WriteError};
use super::spool::{Line, Mark, Spool};
use crate::domain::audit::{AuditAction, AuditStatus};
use crate::domain::tenant::TenantId;
use crate::server::services::audit::{self, Entry};
use crate::server::services::{dead_letters, new_id, Actor, ServiceError, Services};

/// One decision to record: the request, its tenant, what happened.
#[derive(Serialize, Deserialize)]
pub struct Decision {
    pub action: AuditAction,
    pub request_id: String,
    pub tenant_id: TenantId,
    pub status: AuditStatus,
    pub details: Value,
}

/// A decision as spooled: with the id its audit event will have, so a
/// replay can tell whether the killed process had already stored it (one
/// request may make two decisions of one action: on its prompt and on its
/// answer).
#[derive(Serialize, Deserialize)]
struct Spooled {
    id: String,
    decision: Decision,
}

/// A queued decision, where it is spooled, and whether it is a replay
/// (stored only if the audit log does not already hold it).
pub struct Pending {
    spooled: Spooled,
    mark: Option<Mark>,
    replayed: bool,
}

pub struct AuditWriter {
    queue: BatchQueue<Pending>,
    spool: Option<Arc<Spool>>,
}

struct AuditSink {
    svc: Services,
    actor: Actor,
    spool: Option<Arc<Spool>>,
}

impl Sink<Pending> for AuditSink {
    /// All or nothing: the batch commits in one transaction.
    fn write<'a>(&'a self, batch: &'a [Pending]) -> BoxFuture<'a, Result<(), WriteError>> {
        Box::pin(async move {
            self.record(batch).await?;
            self.drained(batch);
            Ok(())
        })
    }

    fn dead_letter<'a>(
        &'a self,
        item: &'a Pending,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), WriteError>> {
        Box::pin(async move {
            dead_letters::record(&self.svc, QUEUE, &item.spooled.decision, error).await?;
            self.drained(std::slice::from_ref(item));
            Ok(())
        })
    }
}

impl AuditSink {
    async fn record(&self, batch: &[Pending]) -> Result<(), ServiceError> {
        let mut tx = self.svc.db.pool.begin().await?;
        let mut entries = Vec::with_capacity(batch.len());
        for p in batch {
            let d = &p.spooled.decision;
            if p.replayed && recorded(&mut tx, &p.spooled.id).await? {
                continue;
            }
            entries.push(
                Entry::success(d.action, "request", &d.request_id)
                    .with_id(&p.spooled.id)
                    .tenant(&d.tenant_id)
                    .status(d.status)
                    .details(d.details.clone()),
            );
        }
        audit::record_all(&self.svc, &mut tx, &self.actor, entries).await?;
        Ok(tx.commit().await?)
    }

    fn drained(&self, items: &[Pending]) {
        if let Some(spool) = &self.spool {
            spool.stored_all(items.iter().filter_map(|i| i.mark));
        }
    }
}

/// Whether the audit log already holds this decision (the killed process
/// stored it before its spool was drained): looked up by the event id it
/// was spooled with (unique, indexed). One the database refused earlier
/// (a dead letter) is tried again.
async fn recorded(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
) -> Result<bool, ServiceError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM audit_events WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(found.is_some())
}

const QUEUE: &str = "policy audit";

/// Starts the writer and its spool in the data directory; returns what a
/// previous process left there, for `replay`.
pub fn start(svc: Services, capacity: usize) -> std::io::Result<(AuditWriter, Vec<Line>)> {
    let tuning = Tuning {
        capacity,
        batch: 256,
        linger: Duration::from_millis(20),
        name: QUEUE,
    };
    let (spool, leftovers) = Spool::open(&svc.config.data_dir.join("spool"), "audit")?;
    let sink = AuditSink {
        svc,
        actor: Actor::gateway(),
        spool: Some(spool.clone()),
    };
    let writer = AuditWriter {
        queue: BatchQueue::start(tuning, sink),
        spool: Some(spool),
    };
    Ok((writer, leftovers.lines))
}

impl AuditWriter {
    /// A decision written behind the response: spooled first, then queued,
    /// waiting for room when the queue is full: a writer that falls behind
    /// (PostgreSQL under sustained load) slows the requests that make
    /// decisions instead of holding an ever longer backlog in memory. A
    /// caller cancelled while it waits (the client hung up) hands the
    /// decision on detached: it is spooled.
    pub async fn push(&self, decision: Decision) {
        self.queue.push_or_detach(self.spooled(decision)).await;
    }

    fn spooled(&self, decision: Decision) -> Pending {
        let spooled = Spooled {
            id: new_id(),
            decision,
        };
        let mark = self
            .spool
            .as_ref()
            .and_then(|s| match s.append_json(&spooled) {
                Ok(mark) => Some(mark),
                Err(e) => {
                    metrics::counter!("atrium_spool_errors_total").increment(1);
                    tracing::error!(error = %e, "audit decision not spooled; it is only queued");
                    None
                }
            });
        Pending {
            spooled,
            mark,
            replayed: false,
        }
    }

    /// A decision stored before the caller goes on (a block, before its
    /// refusal is sent): nothing to spool.
    pub async fn push_and_wait(&self, decision: Decision) {
        let spooled = Spooled {
            id: new_id(),
            decision,
        };
        self.queue
            .push_and_wait(Pending {
                spooled,
                mark: None,
                replayed: false,
            })
            .await;
    }

    pub async fn flush(&self) {
        self.queue.flush().await;
    }

    /// At a clean stop, once flushed: the spool's drained files go.
    pub fn close(&self) {
        if let Some(spool) = &self.spool {
            spool.close();
        }
    }

    /// Queues what a previous process spooled; each is stored unless the
    /// audit log already holds it.
    pub async fn replay(&self, lines: Vec<Line>) {
        if lines.is_empty() {
            return;
        }
        tracing::info!(events = lines.len(), "replaying the audit spool");
        for (mark, line) in lines {
            match serde_json::from_slice::<Spooled>(&line) {
                Ok(spooled) => {
                    self.queue
                        .push(Pending {
                            spooled,
                            mark: Some(mark),
                            replayed: true,
                        })
                        .await
                }
                Err(e) => {
                    tracing::error!(error = %e, "a spooled audit decision is unreadable; skipped");
                    if let Some(spool) = &self.spool {
                        spool.stored(mark, 1);
                    }
                }
            }
        }
    }
}
