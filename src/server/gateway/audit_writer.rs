//! Audit events for policy decisions, written behind the response in
//! batches (one transaction each), so a busy gateway appends thousands of
//! chained events a second instead of a transaction per request.

use crate::domain::tenant::TenantId;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use super::batch::{BatchQueue, Sink, Tuning};
use crate::domain::audit::{AuditAction, AuditStatus};
use crate::server::services::audit::{self, Entry};
use crate::server::services::{Actor, Services};

/// One decision to record: the request, its tenant, what happened.
pub struct Decision {
    pub action: AuditAction,
    pub request_id: String,
    pub tenant_id: TenantId,
    pub status: AuditStatus,
    pub details: Value,
}

pub type AuditWriter = BatchQueue<Decision>;

struct AuditSink {
    svc: Services,
    actor: Actor,
}

impl Sink<Decision> for AuditSink {
    /// All or nothing: the batch commits in one transaction.
    fn write<'a>(&'a self, batch: &'a [Decision]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let fail = |e: &dyn std::fmt::Display| e.to_string();
            let mut tx = self.svc.db.pool.begin().await.map_err(|e| fail(&e))?;
            for d in batch {
                let entry = Entry::success(d.action, "request", &d.request_id)
                    .tenant(&d.tenant_id)
                    .status(d.status)
                    .details(d.details.clone());
                audit::record(&mut tx, &self.actor, entry)
                    .await
                    .map_err(|e| fail(&e))?;
            }
            tx.commit().await.map_err(|e| fail(&e))
        })
    }
}

pub fn start(svc: Services, capacity: usize) -> AuditWriter {
    let tuning = Tuning {
        capacity,
        batch: 256,
        linger: Duration::from_millis(20),
        name: "policy audit",
    };
    let actor = Actor::system("gateway");
    BatchQueue::start(tuning, AuditSink { svc, actor })
}
