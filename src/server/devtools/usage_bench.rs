//! `atrium seed-usage` and `atrium dashboard-bench` (`make bench`): a
//! tenant's ledger filled with synthetic events through the same writer as
//! the gateway's (so the hourly rollups are written too), then the server
//! time of its dashboards, p50 and p95.

use std::time::Instant;

use serde_json::{json, Value};

use crate::domain::completion::Dialect;
use crate::domain::dashboard::Span;
use crate::domain::pii::Classification;
use crate::domain::policy::Action;
use crate::domain::time::{now_millis, DAY};
use crate::domain::usage::{UsageEvent, UsageKind};
use crate::server::services::{dashboards, tenants, Actor, ServiceError, Services};

#[derive(Debug, Clone, clap::Args)]
pub struct SeedOptions {
    #[arg(long)]
    pub tenant: String,
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Spread evenly over this many days up to now.
    #[arg(long, default_value_t = 90)]
    pub days: i64,
    /// Events per transaction.
    #[arg(long, default_value_t = 5_000)]
    pub batch: usize,
}

const MODELS: [&str; 5] = [
    "claude-large",
    "claude-small",
    "gpt-large",
    "gpt-small",
    "local-lora",
];

pub async fn seed(svc: &Services, opts: SeedOptions) -> Result<Value, ServiceError> {
    let actor = Actor::system("bench");
    let tenant = tenants::find(svc, &actor, &opts.tenant).await?;
    let keys: Vec<String> = (0..4).map(|k| format!("seed-key-{k}")).collect();
    let start = now_millis() - opts.days * DAY;
    let step = (opts.days * DAY) / opts.events.max(1) as i64;
    let began = Instant::now();
    let mut batch = Vec::with_capacity(opts.batch);
    for n in 0..opts.events {
        let i = n as usize;
        batch.push(UsageEvent {
            request_id: format!("seed-{:012}", n),
            tenant_id: tenant.id.clone(),
            api_key_id: Some(keys[i % keys.len()].clone()),
            kind: UsageKind::Completion,
            units: 0,
            model: MODELS[i % MODELS.len()].into(),
            provider: Some("seed".into()),
            dialect: Some(Dialect::OpenAi),
            stream: i.is_multiple_of(7),
            input_tokens: 200 + (i % 800) as i64,
            output_tokens: 50 + (i % 300) as i64,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            cost_micros: 900 + (i % 5000) as i64,
            latency_ms: 300,
            status: if i.is_multiple_of(53) { 500 } else { 200 },
            error_type: None,
            created_at: start + n as i64 * step,
            policy_action: Action::Allow,
            classification: Classification::Public,
            price_from: None,
            pii_classes: Default::default(),
            provider_region: None,
            end_user: None,
            log: None,
        });
        if batch.len() == opts.batch {
            svc.stores.write_usage(&tenant.id, &batch).await?;
            batch.clear();
        }
    }
    svc.stores.write_usage(&tenant.id, &batch).await?;
    let secs = began.elapsed().as_secs_f64();
    Ok(json!({ "events": opts.events, "seconds": secs, "events_per_s": opts.events as f64 / secs }))
}

#[derive(Debug, Clone, clap::Args)]
pub struct DashboardBenchOptions {
    #[arg(long)]
    pub tenant: String,
    #[arg(long, default_value_t = 50)]
    pub iterations: usize,
}

/// Server time of the tenant Usage page (30 and 90 days) and the platform
/// overview, each run `iterations` times.
pub async fn dashboards(
    svc: &Services,
    opts: DashboardBenchOptions,
) -> Result<Value, ServiceError> {
    let actor = Actor::system("bench");
    let tenant = tenants::find(svc, &actor, &opts.tenant).await?;
    let mut out = json!({});
    for (name, span) in [
        ("tenant_30d", Span::Days(30)),
        ("tenant_90d", Span::Days(90)),
    ] {
        let mut ms = Vec::new();
        for _ in 0..opts.iterations {
            let t = Instant::now();
            dashboards::tenant(svc, &actor, &tenant.id, span, None, None).await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        out[name] = percentiles(ms);
    }
    let mut ms = Vec::new();
    for _ in 0..opts.iterations {
        let t = Instant::now();
        dashboards::platform(svc, &actor).await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    out["platform"] = percentiles(ms);
    Ok(out)
}

fn percentiles(mut ms: Vec<f64>) -> Value {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| {
        ms.get(((ms.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    json!({ "p50_ms": at(0.5), "p95_ms": at(0.95) })
}
