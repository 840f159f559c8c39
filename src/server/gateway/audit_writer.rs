//! Audit events for policy decisions, written behind the response in
//! batches (one transaction each), so a busy gateway appends thousands of
//! chained events a second instead of a transaction per request.

use crate::domain::tenant::TenantId;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use super::batch::{BatchQueue, Sink, Tuning, WriteError};
use crate::domain::audit::{AuditAction, AuditStatus};
use crate::server::services::audit::{self, Entry};
use crate::server::services::{dead_letters, Actor, ServiceError, Services};

/// One decision to record: the request, its tenant, what happened.
#[derive(serde::Serialize)]
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
    fn write<'a>(&'a self, batch: &'a [Decision]) -> BoxFuture<'a, Result<(), WriteError>> {
        Box::pin(async move { Ok(self.record(batch).await?) })
    }

    fn dead_letter<'a>(
        &'a self,
        item: &'a Decision,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), WriteError>> {
        Box::pin(async move { Ok(dead_letters::record(&self.svc, QUEUE, item, error).await?) })
    }
}

impl AuditSink {
    async fn record(&self, batch: &[Decision]) -> Result<(), ServiceError> {
        let mut tx = self.svc.db.pool.begin().await?;
        for d in batch {
            let entry = Entry::success(d.action, "request", &d.request_id)
                .tenant(&d.tenant_id)
                .status(d.status)
                .details(d.details.clone());
            audit::record(&self.svc, &mut tx, &self.actor, entry).await?;
        }
        Ok(tx.commit().await?)
    }
}

const QUEUE: &str = "policy audit";

pub fn start(svc: Services, capacity: usize) -> AuditWriter {
    let tuning = Tuning {
        capacity,
        batch: 256,
        linger: Duration::from_millis(20),
        name: QUEUE,
    };
    let actor = Actor::system("gateway");
    BatchQueue::start(tuning, AuditSink { svc, actor })
}
