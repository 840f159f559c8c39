//! `atrium store-bench` (hidden; `make bench`): provisions many tenants at
//! one isolation level through the service layer, writes to each, and
//! reports timings and the connections the tenant stores hold open.

use crate::domain::tenant::TenantId;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use crate::domain::tenant::{IsolationLevel, TenantSettings};
use crate::domain::time::now_millis;
use crate::domain::usage::UsageEvent;
use crate::server::db::Backend;
use crate::server::services::{tenants, usage, Actor, Result, ServiceError, Services};

#[derive(Args, Debug, Clone)]
pub struct StoreBenchOptions {
    #[arg(long)]
    pub isolation: IsolationLevel,
    #[arg(long, default_value_t = 200)]
    pub tenants: usize,
}

#[derive(Serialize)]
pub struct StoreBenchReport {
    backend: &'static str,
    isolation: IsolationLevel,
    tenants: usize,
    provision_s: f64,
    per_tenant_ms: f64,
    first_write_s: f64,
    open_tenant_pools: usize,
    /// PostgreSQL: server connections to this deployment's databases.
    server_connections: Option<i64>,
    erase_s: f64,
}

pub async fn run(svc: &Services, opts: StoreBenchOptions) -> Result<StoreBenchReport> {
    let actor = Actor::system("store-bench");
    let started = Instant::now();
    let mut ids = Vec::with_capacity(opts.tenants);
    for i in 0..opts.tenants {
        let name = format!("bench-{}-{i}-{}", opts.isolation.as_str(), now_millis());
        let settings = TenantSettings::new(&name, opts.isolation, "any", 1000, 100_000)?;
        ids.push((tenants::create(svc, &actor, settings).await?, name));
    }
    let provision_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for (t, _) in &ids {
        usage::insert_batch(svc, &[event(&t.id)]).await?;
    }
    let first_write_s = started.elapsed().as_secs_f64();
    let open_tenant_pools = svc.stores.open_pools();
    let server_connections = connections(svc).await?;
    let started = Instant::now();
    for (t, name) in &ids {
        tenants::delete(svc, &actor, &t.id, name).await?;
    }
    Ok(StoreBenchReport {
        backend: svc.db.backend.as_str(),
        isolation: opts.isolation,
        tenants: opts.tenants,
        per_tenant_ms: provision_s * 1000.0 / opts.tenants.max(1) as f64,
        provision_s,
        first_write_s,
        open_tenant_pools,
        server_connections,
        erase_s: started.elapsed().as_secs_f64(),
    })
}

async fn connections(svc: &Services) -> Result<Option<i64>> {
    if svc.db.backend != Backend::Postgres {
        return Ok(None);
    }
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
         OR datname LIKE substr(current_database(), 1, 20) || '\\_t\\_%'",
    )
    .fetch_one(&svc.db.pool)
    .await
    .map_err(ServiceError::from)?;
    Ok(Some(n))
}

fn event(tenant_id: &TenantId) -> UsageEvent {
    UsageEvent {
        request_id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant_id.clone(),
        api_key_id: None,
        kind: Default::default(),
        units: 0,
        model: "bench".into(),
        provider: None,
        dialect: Some(crate::domain::completion::Dialect::OpenAi),
        stream: false,
        input_tokens: 1,
        output_tokens: 1,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cost_micros: 0,
        latency_ms: 0,
        status: 200,
        error_type: None,
        policy_action: crate::domain::policy::Action::Allow,
        classification: crate::domain::pii::Classification::Public,
        price_from: None,
        pii_classes: Default::default(),
        provider_region: None,
        end_user: None,
        log: None,
        created_at: now_millis(),
    }
}
