//! Step 6, account. One `Settlement` per request gathers what the steps
//! learn, and however the request ends (answered, refused, failed, or
//! abandoned by the client mid-way) it settles the token reservation
//! against real usage and records exactly one `usage_event`: when it is
//! finished, or when it is dropped.

use std::sync::Arc;
use std::time::Instant;

use axum::response::Response;

use super::budget::Hold;
use super::error::GatewayError;
use super::log_capture::LogCapture;
use super::Gateway;
use crate::domain::completion::{Dialect, ErrorKind};
use crate::domain::pii::{Classification, EntitySet};
use crate::domain::policy::Action;
use crate::domain::price::PriceVersion;
use crate::domain::pricing::{request_cost, Price, TokenCounts};
use crate::domain::request_log::{normalise_subject, LogMode};
use crate::domain::time::now_millis;
use crate::domain::usage::{UsageEvent, UsageKind};
use crate::server::services::api_keys::Authenticated;

/// What the ledger records for a model name the catalog does not know.
pub const UNKNOWN_MODEL: &str = "(unknown model)";

pub struct Settlement {
    gw: Gateway,
    request_id: String,
    started: Instant,
    dialect: Dialect,
    auth: Option<Arc<Authenticated>>,
    model: String,
    provider: Option<String>,
    provider_region: Option<String>,
    end_user: Option<String>,
    pii: EntitySet,
    stream: bool,
    price: Price,
    /// When `price` took effect: names the version on the ledger row.
    price_from: Option<i64>,
    /// The catalog model the request resolved to: the metrics label, so a
    /// client cannot mint label values with made-up model names.
    catalog_model: Option<String>,
    /// What the ledger calls the model when not what the client asked for:
    /// a custom model's `name:version`, so usage breaks down by version.
    ledger_model: Option<String>,
    policy_action: Action,
    classification: Classification,
    /// Tokens taken from the tenant's per-minute budget at admission.
    reserved: i64,
    /// Usage known so far; a stream updates it as events arrive.
    tokens: TokenCounts,
    /// The input estimate, billed when a provider that was called reports
    /// no usage (see `billed`).
    input_floor: i64,
    /// Frames of a streamed answer that reached the client.
    delivered: i64,
    /// What the request holds against its budgets.
    hold: Option<Hold>,
    /// What the request log keeps, when the tenant's log is on.
    log: Option<LogCapture>,
    done: bool,
}

impl Settlement {
    pub fn new(gw: &Gateway, dialect: Dialect, request_id: String) -> Self {
        Self {
            gw: gw.clone(),
            request_id,
            started: Instant::now(),
            dialect,
            auth: None,
            model: String::new(),
            provider: None,
            provider_region: None,
            end_user: None,
            pii: EntitySet::default(),
            stream: false,
            price: Price::default(),
            price_from: None,
            catalog_model: None,
            ledger_model: None,
            policy_action: Action::Allow,
            classification: Classification::Public,
            reserved: 0,
            tokens: TokenCounts::default(),
            input_floor: 0,
            delivered: 0,
            hold: None,
            log: None,
            done: false,
        }
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn authenticated(&mut self, auth: Arc<Authenticated>) {
        self.auth = Some(auth);
    }

    pub fn requested(&mut self, model: &str, stream: bool, end_user: Option<&str>) {
        self.model = model.to_string();
        self.stream = stream;
        self.end_user = end_user.map(str::to_string);
    }

    pub fn governed(&mut self, action: Action, classification: Classification, pii: EntitySet) {
        self.policy_action = action;
        self.classification = classification;
        self.pii = pii;
    }

    pub fn routed(&mut self, model: &str, price: PriceVersion) {
        self.catalog_model = Some(model.to_string());
        self.price = price.price;
        self.price_from = Some(price.effective_from);
    }

    /// Records usage under `model` instead of the name the client asked for.
    pub fn record_as(&mut self, model: &str) {
        self.ledger_model = Some(model.to_string());
    }

    /// Starts the request-log capture when the tenant's log is on.
    pub fn log(&mut self, mode: LogMode) {
        self.log = mode.is_on().then(|| LogCapture::new(mode));
    }

    pub fn logging(&self) -> bool {
        self.log.is_some()
    }

    /// Indexes the identifiers found in the prompt, and the end user.
    pub fn log_subjects(&mut self, found: &[String]) {
        let (Some(log), Some(auth)) = (self.log.as_mut(), self.auth.as_ref()) else {
            return;
        };
        let end_user = self.end_user.as_deref().and_then(normalise_subject);
        let all = end_user.iter().chain(found).map(String::as_str);
        log.subjects(self.gw.svc.secrets.reports(), &auth.tenant.id, all);
    }

    /// The prompt as forwarded.
    pub fn log_prompt(&mut self, body: &serde_json::Value) {
        if let Some(log) = &mut self.log {
            log.prompt(body);
        }
    }

    /// A piece of the answer as the client received it.
    pub fn log_response(&mut self, piece: &str) {
        if let Some(log) = &mut self.log {
            log.response(piece);
        }
    }

    pub fn reserved(&mut self, tokens: i64) {
        self.reserved = tokens;
    }

    pub fn held(&mut self, hold: Hold) {
        self.hold = Some(hold);
    }

    /// A provider answered; `input_estimate` is what its input is billed
    /// at if it never says.
    pub fn called(&mut self, provider: &str, region: &str, input_estimate: i64) {
        self.provider = Some(provider.to_string());
        self.provider_region = Some(region.to_string());
        self.input_floor = input_estimate.max(1);
    }

    pub fn used(&mut self, tokens: TokenCounts) {
        self.tokens = tokens;
    }

    /// Frames of a streamed answer that have reached the client.
    pub fn delivered(&mut self, frames: i64) {
        self.delivered = frames;
    }

    /// What the request is billed for: the usage its provider reported.
    /// A provider that answered but reported no input (a stream left
    /// before its last chunk, a provider that omits usage) is billed the
    /// input estimate; output is never less than the frames delivered when
    /// the answer did not end normally or reported no output (each frame
    /// carried at most one event, most of them a token or more).
    /// Counts below zero are none: whichever path read them (a whole
    /// answer, a stream's `message_delta`), a negative count from a
    /// provider must not lower the bill or slip past the floors.
    fn billed(&self, status: u16) -> TokenCounts {
        let mut t = self.tokens;
        for n in [
            &mut t.input,
            &mut t.output,
            &mut t.cache_read,
            &mut t.cache_write,
            &mut t.server_tool_uses,
        ] {
            *n = (*n).max(0);
        }
        if self.provider.is_none() {
            return t;
        }
        if t.input == 0 && t.cache_read == 0 && t.cache_write == 0 {
            t.input = self.input_floor;
        }
        if status != 200 || t.output == 0 {
            t.output = t.output.max(self.delivered);
        }
        t
    }

    /// Ends an answered request: settles and records it, waiting for room
    /// in the ledger's queue if it is full.
    pub async fn finish(mut self, status: u16, error: Option<ErrorKind>) {
        if let Some(ev) = self.close(status, error) {
            self.gw.ledger.push(ev).await;
        }
    }

    /// Ends a refused or failed request: records it, and answers the client
    /// in its dialect.
    pub async fn refuse(mut self, e: GatewayError) -> Response {
        if let GatewayError::RateLimited { .. } = e {
            metrics::counter!("atrium_rate_limited_total").increment(1);
        }
        if let GatewayError::Internal(detail) = &e {
            tracing::error!(request_id = %self.request_id, detail = %detail, "gateway error");
        }
        if let Some(ev) = self.close(e.status().as_u16(), Some(e.kind())) {
            self.gw.ledger.push(ev).await;
        }
        e.into_dialect(self.dialect, &self.request_id)
    }

    /// Settles the reservation and makes the usage event, once. Requests
    /// refused before their key was known have no tenant to bill.
    fn close(&mut self, status: u16, error: Option<ErrorKind>) -> Option<UsageEvent> {
        if std::mem::replace(&mut self.done, true) {
            return None;
        }
        self.tokens = self.billed(status);
        self.settle_reservation();
        self.observe(status);
        let cost_micros = request_cost(&self.price, &self.tokens, status < 400);
        if let Some(hold) = self.hold.take().filter(|h| !h.is_empty()) {
            self.gw.budgets.settle(&self.gw.svc, hold, cost_micros);
        }
        let auth = self.auth.as_ref()?;
        Some(UsageEvent {
            request_id: self.request_id.clone(),
            tenant_id: auth.tenant.id.clone(),
            api_key_id: Some(auth.api_key.id.clone()),
            kind: UsageKind::Completion,
            units: self.tokens.server_tool_uses,
            model: self.ledger_name(&auth.tenant.id),
            provider: self.provider.clone(),
            dialect: Some(self.dialect),
            stream: self.stream,
            input_tokens: self.tokens.input,
            output_tokens: self.tokens.output,
            cache_read_tokens: self.tokens.cache_read,
            cache_write_tokens: self.tokens.cache_write,
            cost_micros,
            latency_ms: self.started.elapsed().as_millis() as i64,
            status,
            error_type: error,
            created_at: now_millis(),
            policy_action: self.policy_action,
            classification: self.classification,
            price_from: self.price_from,
            pii_classes: self.pii,
            provider_region: self.provider_region.clone(),
            end_user: self.end_user.clone(),
            log: self.log.take().map(|l| Box::new(l.finish())),
        })
    }

    /// The model the ledger names: the catalog model the request resolved
    /// to (a custom model's version), else what the client asked for
    /// resolved through the tenant's aliases.
    /// A name that resolves to nothing is recorded as `UNKNOWN_MODEL`, so
    /// made-up names cannot mint usage groups, rollup rows or invoice
    /// lines (the refusal itself names what was asked for).
    fn ledger_name(&self, tenant_id: &str) -> String {
        if let Some(m) = &self.ledger_model {
            return m.clone();
        }
        if self.model.is_empty() {
            return "-".into();
        }
        // Refused before routing: an alias is still recorded as the model
        // it names today, so no row carries an alias.
        let cat = crate::server::services::catalog::snapshot(&self.gw.svc);
        if let Some(m) = cat.resolve(tenant_id, &self.model) {
            m.name.clone()
        } else if cat.knows(tenant_id, &self.model) {
            self.model.clone()
        } else {
            UNKNOWN_MODEL.into()
        }
    }

    /// Gives back what was reserved but not used (or takes what was used
    /// beyond it). Off the response path: Redis settles in a task.
    fn settle_reservation(&self) {
        let delta = self.tokens.total() - self.reserved;
        let (Some(auth), true) = (self.auth.clone(), delta != 0 && self.reserved != 0) else {
            return;
        };
        let limiter = self.gw.limiter.clone();
        if limiter.is_shared() {
            tokio::spawn(async move { limiter.settle(&auth.tenant, delta).await });
        } else {
            limiter.settle_local(&auth.tenant, delta);
        }
    }

    fn observe(&self, status: u16) {
        let tenant = self
            .auth
            .as_ref()
            .map_or_else(String::new, |a| a.tenant.id.to_string());
        metrics::counter!("atrium_requests_total", "tenant" => tenant, "model" => self.catalog_model.clone().unwrap_or_else(|| "unknown".into()),
            "status" => status.to_string())
        .increment(1);
        metrics::histogram!("atrium_gateway_seconds").record(self.started.elapsed().as_secs_f64());
        metrics::counter!("atrium_tokens_total", "kind" => "input")
            .increment(self.tokens.input.max(0) as u64);
        metrics::counter!("atrium_tokens_total", "kind" => "output")
            .increment(self.tokens.output.max(0) as u64);
    }
}

/// A client that hangs up drops the request's future, and with it this
/// value: the request is still settled and recorded, as closed by the
/// client (499).
impl Drop for Settlement {
    fn drop(&mut self) {
        if let Some(ev) = self.close(499, Some(ErrorKind::ClientClosed)) {
            self.gw.ledger.push_detached(ev);
        }
    }
}
