//! `atrium audit bench` (hidden; `make bench`): seeds many audit events and
//! times the portal's searches through the service layer.

use std::time::Instant;

use serde::Serialize;

use crate::domain::audit::{AuditAction, AuditQuery};
use crate::domain::page::PageRequest;
use crate::domain::time::{now_millis, DAY};
use crate::server::db::Backend;
use crate::server::services::actor::GATEWAY;
use crate::server::services::{audit, Actor, Result, Services};

const TENANTS: usize = 50;
const ACTIONS: [AuditAction; 8] = [
    AuditAction::TenantUpdate,
    AuditAction::ApiKeyCreate,
    AuditAction::ApiKeyRevoke,
    AuditAction::PolicyBlock,
    AuditAction::PolicyRedact,
    AuditAction::PolicyFlag,
    AuditAction::AuthSignIn,
    AuditAction::UserCreate,
];
const ROWS_PER_STATEMENT: usize = 500;

#[derive(Serialize)]
pub struct AuditBenchReport {
    backend: &'static str,
    events: usize,
    seed_s: f64,
    queries: Vec<QueryTiming>,
}

#[derive(Serialize)]
struct QueryTiming {
    name: &'static str,
    p50_ms: f64,
    p95_ms: f64,
}

pub async fn run(svc: &Services, events: usize) -> Result<AuditBenchReport> {
    let started = Instant::now();
    seed(svc, events).await?;
    let seed_s = started.elapsed().as_secs_f64();
    let actor = Actor::system("bench");
    let mut queries = Vec::new();
    for (name, q, page) in cases() {
        queries.push(time(svc, &actor, name, &q, page).await?);
    }
    Ok(AuditBenchReport {
        backend: svc.db.backend.as_str(),
        events,
        seed_s,
        queries,
    })
}

/// Seeded tenants get ids of the real shape, so searches parse them.
fn bench_tenant(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// The searches people run: by tenant, page, date, action, actor, text.
fn cases() -> Vec<(&'static str, AuditQuery, u32)> {
    let day = |d: i64| {
        chrono::DateTime::from_timestamp_millis(now_millis() - d * DAY)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let tenant = bench_tenant(7);
    vec![
        ("newest, no filter", AuditQuery::default(), 1),
        (
            "one tenant",
            AuditQuery {
                tenant_id: tenant.clone(),
                ..Default::default()
            },
            1,
        ),
        (
            "one tenant, page 20",
            AuditQuery {
                tenant_id: tenant.clone(),
                ..Default::default()
            },
            20,
        ),
        (
            "one tenant, last 7 days",
            AuditQuery {
                tenant_id: tenant.clone(),
                from: day(7),
                ..Default::default()
            },
            1,
        ),
        (
            "action",
            AuditQuery {
                action: AuditAction::PolicyBlock.as_str().into(),
                ..Default::default()
            },
            1,
        ),
        (
            "actor",
            AuditQuery {
                actor: "user-3@example.com".into(),
                ..Default::default()
            },
            1,
        ),
        (
            "status denied, 3 days",
            AuditQuery {
                status: "denied".into(),
                from: day(3),
                ..Default::default()
            },
            1,
        ),
        (
            "text within a tenant",
            AuditQuery {
                tenant_id: tenant.clone(),
                text: "CREDIT_CARD".into(),
                ..Default::default()
            },
            1,
        ),
        (
            "text, everything",
            AuditQuery {
                text: "req-0000777".into(),
                ..Default::default()
            },
            1,
        ),
    ]
}

async fn time(
    svc: &Services,
    actor: &Actor,
    name: &'static str,
    q: &AuditQuery,
    page: u32,
) -> Result<QueryTiming> {
    let mut times = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        audit::search(svc, actor, q, PageRequest::new(Some(page), None)).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(QueryTiming {
        name,
        p50_ms: times[times.len() / 2],
        p95_ms: times[(times.len() * 95 / 100).min(times.len() - 1)],
    })
}

/// Policy decisions are the gateway's, as in a real trail; the rest are
/// twenty users'.
fn seeded_actor(action: AuditAction, i: usize) -> String {
    match action {
        AuditAction::PolicyBlock | AuditAction::PolicyRedact | AuditAction::PolicyFlag => {
            GATEWAY.to_string()
        }
        _ => format!("user-{}@example.com", i % 20),
    }
}

/// Bulk rows over 30 days, 50 tenants, a few actions and actors. They are
/// written directly (not chained): this measures search, not appends.
async fn seed(svc: &Services, events: usize) -> Result<()> {
    let now = now_millis();
    let mut written = 0;
    while written < events {
        let n = ROWS_PER_STATEMENT.min(events - written);
        let marker = |i: usize| match svc.db.backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${i}"),
        };
        let tuples: Vec<String> = (0..n)
            .map(|r| {
                let p: Vec<String> = (1..=10).map(|c| marker(r * 10 + c)).collect();
                format!("({}, 'bench', 0, '', '')", p.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO audit_events (id, at, actor, action, resource_type, resource_id, tenant_id, \
             status, client_ip, details, chain, chain_seq, prev_hash, hash) VALUES {}",
            tuples.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for i in written..written + n {
            let action = ACTIONS[i % ACTIONS.len()];
            let status = if action == AuditAction::PolicyBlock {
                "denied"
            } else {
                "success"
            };
            q = q
                .bind(format!("bench-{i:08}"))
                .bind(now - (i as i64 * 2_592_000_000 / events.max(1) as i64))
                .bind(seeded_actor(action, i))
                .bind(action.as_str())
                .bind("request")
                .bind(format!("req-{i:08}"))
                .bind(bench_tenant(i % TENANTS))
                .bind(status)
                .bind("10.0.0.1")
                .bind(format!(
                    "{{\"entity_types\":[\"{}\"],\"rules\":[\"r{}\"]}}",
                    if i % 3 == 0 {
                        "CREDIT_CARD"
                    } else {
                        "EMAIL_ADDRESS"
                    },
                    i % 7
                ));
        }
        q.execute(&svc.db.pool).await?;
        written += n;
    }
    if svc.db.backend == Backend::Postgres {
        sqlx::query("ANALYZE audit_events")
            .execute(&svc.db.pool)
            .await?;
    } else {
        sqlx::query("ANALYZE").execute(&svc.db.pool).await?;
    }
    Ok(())
}
