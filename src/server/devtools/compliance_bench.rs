//! `atrium compliance-bench` (hidden; `make bench`): a tenant with many
//! request-log rows and audit events, and how long each report and an
//! access lookup by subject take through the service layer.

use std::time::Instant;

use serde::Serialize;

use crate::domain::compliance::{Period, ReportKind};
use crate::domain::pii::{EntitySet, EntityType};
use crate::domain::request_log::{LogEntry, LogMode, LogSettings};
use crate::domain::tenant::{IsolationLevel, TenantId, TenantSettings};
use crate::domain::time::{now_millis, rfc3339, DAY};
use crate::domain::usage::UsageEvent;
use crate::server::db::Backend;
use crate::server::services::compliance::{self, request_log};
use crate::server::services::{tenants, Actor, Result, Services};

const BATCH: usize = 1_000;
const SUBJECTS: usize = 10_000;

#[derive(clap::Args, Debug)]
pub struct ComplianceBenchOptions {
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    #[arg(long, default_value_t = 1_000_000)]
    audit_events: usize,
}

#[derive(Serialize)]
pub struct ComplianceBenchReport {
    backend: &'static str,
    rows: usize,
    audit_events: usize,
    seed_s: f64,
    ropa_s: f64,
    access_lookup_ms: f64,
    access_rows: usize,
    access_report_s: f64,
    soc2_s: f64,
}

fn event(t: &TenantId, i: usize, hash: String, now: i64, rows: usize) -> UsageEvent {
    let prompt = format!("{{\"messages\":[{{\"role\":\"user\",\"content\":\"please write to user{}@example.com about order {i}\"}}]}}", i % SUBJECTS);
    UsageEvent {
        request_id: format!("req_bench{i:012}"),
        tenant_id: t.clone(),
        api_key_id: None,
        kind: Default::default(),
        units: 0,
        model: "bench".into(),
        provider: Some("mock".into()),
        dialect: Some(crate::domain::completion::Dialect::OpenAi),
        stream: false,
        input_tokens: 30,
        output_tokens: 20,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cost_micros: 1,
        latency_ms: 5,
        status: if i.is_multiple_of(97) { 429 } else { 200 },
        error_type: None,
        policy_action: crate::domain::policy::Action::Allow,
        classification: crate::domain::pii::Classification::Confidential,
        price_from: None,
        pii_classes: EntitySet::default().with(EntityType::EmailAddress),
        provider_region: Some("eu-west".into()),
        end_user: None,
        log: Some(Box::new(LogEntry {
            mode: LogMode::Full,
            prompt_bytes: prompt.len() as i64,
            prompt,
            response: "{\"choices\":[{\"message\":{\"content\":\"done\"}}]}".into(),
            response_bytes: 45,
            subjects: vec![hash],
        })),
        created_at: now - (i as i64 * 25 * DAY / rows.max(1) as i64),
    }
}

async fn seed_audit(svc: &Services, t: &TenantId, n: usize, now: i64) -> Result<()> {
    let mut written = 0;
    while written < n {
        let k = 500.min(n - written);
        let mark = |i: usize| match svc.db.backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${i}"),
        };
        let tuples: Vec<String> = (0..k)
            .map(|r| format!("({}, {}, 'user:bench', 'tenant.update', 'tenant', $0, $0, 'success', NULL, '{{}}', $0, 0, '', '')",
                mark(r * 2 + 1), mark(r * 2 + 2)))
            .collect();
        let sql = format!(
            "INSERT INTO audit_events (id, at, actor, action, resource_type, resource_id, tenant_id, \
             status, client_ip, details, chain, chain_seq, prev_hash, hash) VALUES {}",
            tuples.join(", ")
        ).replace("$0", &format!("'{t}'"));
        let mut q = sqlx::query(&sql);
        for i in written..written + k {
            q = q
                .bind(format!("cbench-{t}-{i:09}"))
                .bind(now - (i as i64 * 25 * DAY / n.max(1) as i64));
        }
        q.execute(&svc.db.pool).await?;
        written += k;
    }
    Ok(())
}

pub async fn run(svc: &Services, o: ComplianceBenchOptions) -> Result<ComplianceBenchReport> {
    let actor = Actor::system("bench");
    let name = format!("compliance-bench-{}", now_millis() % 1_000_000);
    let settings = TenantSettings::new(&name, IsolationLevel::RowLevel, "eu-west", 1000, 1000)?;
    let t = tenants::create(svc, &actor, settings).await?;
    request_log::set(svc, &actor, &t.id, LogSettings::new(LogMode::Full, None)?).await?;
    let keys = svc.secrets.reports();
    let hashes: Vec<String> = (0..SUBJECTS)
        .map(|s| keys.subject_hash(&t.id, &format!("user{s}@example.com")))
        .collect();
    let now = now_millis();
    let started = Instant::now();
    let mut i = 0;
    while i < o.rows {
        let batch: Vec<UsageEvent> = (i..(i + BATCH).min(o.rows))
            .map(|j| event(&t.id, j, hashes[j % SUBJECTS].clone(), now, o.rows))
            .collect();
        svc.stores.write_usage(&t.id, &batch).await?;
        i += BATCH;
    }
    seed_audit(svc, &t.id, o.audit_events, now).await?;
    let seed_s = started.elapsed().as_secs_f64();
    let day = |ms: i64| rfc3339(ms).chars().take(10).collect::<String>();
    let period = Period::days(&day(now - 30 * DAY), &day(now))?;
    let timed = |kind, subject: Option<&'static str>| {
        let (svc, actor, t, period) = (svc.clone(), actor.clone(), t.id.clone(), period.clone());
        async move {
            let started = Instant::now();
            let req = compliance::Request {
                kind,
                tenant: Some(&t),
                period,
                subject,
            };
            let doc = compliance::generate(&svc, &actor, req).await?;
            Ok::<_, crate::server::services::ServiceError>((started.elapsed().as_secs_f64(), doc))
        }
    };
    let (ropa_s, _) = timed(ReportKind::Ropa, None).await?;
    let store = svc.stores.open(&t.id).await?;
    // The median of lookups for 21 different subjects.
    let mut times = Vec::new();
    let mut found = 0;
    for n in 0..21 {
        let hashes = keys.subject_hashes(&t.id, &format!("user{}@example.com", n * 37));
        let lookup = Instant::now();
        let (rows, _) = store.logged_for(&hashes, (period.from, period.to)).await?;
        times.push(lookup.elapsed().as_secs_f64() * 1000.0);
        found = rows.len();
    }
    times.sort_by(f64::total_cmp);
    let access_lookup_ms = times[times.len() / 2];
    let rows = vec![(); found];
    let (access_report_s, _) = timed(ReportKind::Access, Some("user7@example.com")).await?;
    let (soc2_s, _) = timed(ReportKind::Soc2, None).await?;
    Ok(ComplianceBenchReport {
        backend: svc.db.backend.as_str(),
        rows: o.rows,
        audit_events: o.audit_events,
        seed_s,
        ropa_s,
        access_lookup_ms,
        access_rows: rows.len(),
        access_report_s,
        soc2_s,
    })
}
