//! Audit events for policy decisions, written after the response: a
//! bounded queue (callers wait when full, nothing is dropped) and one
//! transaction per batch, so a busy gateway appends thousands of chained
//! events a second instead of one transaction each. Shutdown flushes it.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::domain::audit::AuditStatus;
use crate::server::services::audit::{self, Entry};
use crate::server::services::{Actor, Services};

const BATCH: usize = 256;
const LINGER: Duration = Duration::from_millis(20);

/// One decision to record: the request, its tenant, what happened.
pub struct Decision {
    pub action: String,
    pub request_id: String,
    pub tenant_id: String,
    pub status: AuditStatus,
    pub details: Value,
}

enum Msg {
    Record(Box<Decision>),
    Flush(oneshot::Sender<()>),
}

pub struct AuditWriter {
    tx: mpsc::Sender<Msg>,
}

impl AuditWriter {
    pub fn start(svc: Services, capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        tokio::spawn(worker(svc, rx));
        Self { tx }
    }

    /// Queues without making the caller wait; a full queue hands the wait to a task.
    pub fn record(&self, d: Decision) {
        match self.tx.try_send(Msg::Record(Box::new(d))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(msg)) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(msg).await;
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("audit writer stopped; policy decision not recorded");
            }
        }
    }

    /// Returns once everything queued before the call is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn worker(svc: Services, mut rx: mpsc::Receiver<Msg>) {
    let actor = Actor::system("gateway");
    let mut batch: Vec<Decision> = Vec::with_capacity(BATCH);
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        take(first, &mut batch, &mut waiting);
        let until = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH && waiting.is_empty() {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(msg)) => take(msg, &mut batch, &mut waiting),
                _ => break,
            }
        }
        write(&svc, &actor, &mut batch).await;
        for w in waiting.drain(..) {
            let _ = w.send(());
        }
    }
    write(&svc, &actor, &mut batch).await;
}

fn take(msg: Msg, batch: &mut Vec<Decision>, waiting: &mut Vec<oneshot::Sender<()>>) {
    match msg {
        Msg::Record(d) => batch.push(*d),
        Msg::Flush(done) => waiting.push(done),
    }
}

/// Retries with backoff until the batch is stored.
async fn write(svc: &Services, actor: &Actor, batch: &mut Vec<Decision>) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(50);
    loop {
        match write_once(svc, actor, batch).await {
            Ok(()) => break,
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), "audit write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    batch.clear();
}

async fn write_once(
    svc: &Services,
    actor: &Actor,
    batch: &[Decision],
) -> Result<(), crate::server::services::ServiceError> {
    let mut tx = svc.db.pool.begin().await?;
    for d in batch {
        let entry = Entry::success(&d.action, "request", &d.request_id)
            .tenant(&d.tenant_id)
            .status(d.status)
            .details(d.details.clone());
        audit::record(&mut tx, actor, entry).await?;
    }
    tx.commit().await?;
    Ok(())
}
