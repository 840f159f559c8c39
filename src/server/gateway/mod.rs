//! The completion path of DESIGN §1, one module per step: `authenticate`,
//! `govern`, `route`, `admit`, `upstream` (call, with `forward` building
//! the provider's body), `whole`/`streamed` (respond) and `settle`
//! (account, into the `ledger`). `handler` strings them together. Steps
//! before the call read only caches.

pub mod admit;
pub mod answer;
pub mod audit_writer;
pub mod authenticate;
pub mod batch;
pub mod budget;
pub mod dialect;
pub mod error;
pub mod forward;
mod gather;
pub mod govern;
pub mod handler;
pub mod ledger;
mod log_capture;
pub mod metrics;
pub mod ofrep;
mod raw_json;
mod relay;
pub mod route;
pub mod settle;
mod spool;
pub mod sse;
pub mod stream_guard;
pub mod streamed;
#[cfg(test)]
mod tests;
pub mod translate;
pub mod upstream;
mod vocabulary;
pub mod whole;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::server::net::provider::ProviderClient;
use crate::server::services::Services;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot connect to Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("cannot build the upstream HTTP client: {0}")]
    Http(#[from] crate::server::net::provider::BuildError),
    #[error("cannot open the ledger spool in the data directory: {0}")]
    Spool(std::io::Error),
}

/// Everything a completion request needs, shared by all of them. It is
/// cloned several times per request (axum's `State`, the detached task,
/// the settlement), so it is one shared pointer: cloning the fields
/// themselves was an atomic increment and decrement per `Arc` inside
/// (`Services` alone holds a dozen), on counters both cores contend for.
#[derive(Clone)]
pub struct Gateway(Arc<GatewayParts>);

impl std::ops::Deref for Gateway {
    type Target = GatewayParts;
    fn deref(&self) -> &GatewayParts {
        &self.0
    }
}

pub struct GatewayParts {
    pub svc: Services,
    pub limiter: Arc<admit::Limiter>,
    pub ledger: Arc<ledger::Ledger>,
    pub http: ProviderClient,
    /// Audit events of policy decisions, written after the response in batches.
    pub audit: Arc<audit_writer::AuditWriter>,
    /// Hard budgets' reservations and every budget's running spend.
    pub budgets: Arc<budget::BudgetGuard>,
}

impl Gateway {
    pub async fn start(svc: Services) -> Result<Self, StartError> {
        metrics::spawn_upkeep();
        let limiter = admit::Limiter::connect(svc.config.redis_url.as_deref()).await?;
        // No redirects, and only addresses the provider check allows.
        let http = ProviderClient::new(&svc.config.allow_private_upstreams)?
            .per_thread(svc.config.serve_shards > 0);
        let (ledger, left) =
            ledger::start(svc.clone(), svc.config.ledger_queue).map_err(StartError::Spool)?;
        let ledger = Arc::new(ledger);
        let (audit, audit_left) =
            audit_writer::start(svc.clone(), svc.config.ledger_queue).map_err(StartError::Spool)?;
        let audit = Arc::new(audit);
        // What a killed process spooled is stored again (idempotently).
        tokio::spawn({
            let (ledger, audit) = (ledger.clone(), audit.clone());
            async move {
                ledger.replay(left).await;
                audit.replay(audit_left).await;
            }
        });
        let budgets = Arc::new(budget::BudgetGuard::new(limiter.redis()));
        budgets.start(&svc);
        Ok(Self(Arc::new(GatewayParts {
            budgets,
            ledger: ledger.clone(),
            limiter: Arc::new(limiter),
            http,
            audit,
            svc,
        })))
    }
}

pub fn routes<S: Clone + Send + Sync + 'static>(gw: Gateway) -> Router<S> {
    Router::new()
        .route("/v1/messages", post(handler::messages))
        .route("/v1/chat/completions", post(handler::chat_completions))
        .route("/v1/models", get(handler::models))
        .route("/ofrep/v1/evaluate/flags", post(ofrep::evaluate_all))
        .route("/ofrep/v1/evaluate/flags/{key}", post(ofrep::evaluate_one))
        // The handlers enforce the configured limit themselves, so an
        // oversize body gets a 413 in the caller's dialect.
        .layer(DefaultBodyLimit::disable())
        .with_state(gw)
}
