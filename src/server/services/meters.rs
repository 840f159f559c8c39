//! Daily meters (DESIGN: billing): each tenant's stored data is sampled
//! once per UTC day, and the first sample of a day stands, so replicas
//! sampling at once write it once. Invoices price the month's samples by
//! the plan in force on each day. Custom models are sampled the same way
//! once the custom-models service exists (it brings their count).

use std::time::Duration;

use crate::domain::meter::{day_of, Meter, Sample};
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::{now_millis, Millis};

use super::{Actor, Result, ServiceError, Services};

/// How often the sampler looks for tenants without today's sample.
const EVERY: Duration = Duration::from_secs(3600);

pub fn spawn_sampler(svc: Services) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(20)).await;
        loop {
            if let Err(e) = sample_today(&svc).await {
                tracing::warn!(error = ?e, "meter sampling failed; retrying later");
            }
            tokio::time::sleep(EVERY).await;
        }
    })
}

/// Samples every tenant that has no sample for today yet; returns the
/// samples written. A store whose size cannot be read gets no sample (the
/// day goes unbilled and the log says why) rather than a made-up zero.
pub async fn sample_today(svc: &Services) -> Result<Vec<(TenantId, Sample)>> {
    let day = day_of(now_millis());
    let due = unsampled(svc, Meter::StorageBytes, day).await?;
    let mut written = Vec::new();
    for id in due {
        let Ok(id) = TenantId::parse(&id) else {
            continue;
        };
        let Some(bytes) = svc.stores.size_bytes(&id).await? else {
            tracing::warn!(tenant = %id, "tenant store size unknown; no storage sample today");
            continue;
        };
        let sample = Sample {
            meter: Meter::StorageBytes,
            day,
            value: bytes,
        };
        if record(svc, &id, &sample).await? {
            written.push((id, sample));
        }
    }
    written.extend(sample_custom_models(svc, day).await?);
    Ok(written)
}

/// Deployed custom model versions (deployed or deprecated, so on the
/// engines) and their monthly hosting fees, per tenant, for one day. A
/// tenant with none samples 0: a count, not a guess.
async fn sample_custom_models(svc: &Services, day: Millis) -> Result<Vec<(TenantId, Sample)>> {
    let due = unsampled(svc, Meter::CustomModels, day).await?;
    if due.is_empty() {
        return Ok(vec![]);
    }
    let deployed: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT tenant_id, COUNT(*), CAST(COALESCE(SUM(hosting_fee_micros), 0) AS BIGINT) FROM custom_models \
         WHERE status IN ('deployed', 'deprecated') GROUP BY tenant_id",
    )
    .fetch_all(&svc.db.pool)
    .await?;
    let mut written = Vec::new();
    for id in due {
        let Ok(id) = TenantId::parse(&id) else {
            continue;
        };
        let (count, fees) = deployed
            .iter()
            .find(|(t, _, _)| *t == id.as_str())
            .map_or((0, 0), |(_, c, f)| (*c, *f));
        for (meter, value) in [(Meter::CustomModels, count), (Meter::HostingFees, fees)] {
            let sample = Sample { meter, day, value };
            if record(svc, &id, &sample).await? {
                written.push((id.clone(), sample));
            }
        }
    }
    Ok(written)
}

/// The tenants with no sample of `meter` for `day` yet.
async fn unsampled(svc: &Services, meter: Meter, day: Millis) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM tenants WHERE id NOT IN \
         (SELECT tenant_id FROM meter_samples WHERE meter = $1 AND day = $2) ORDER BY id",
    )
    .bind(meter.as_str())
    .bind(day)
    .fetch_all(&svc.db.pool)
    .await?)
}

/// Writes a sample unless the day has one; true when written.
pub async fn record(svc: &Services, tenant_id: &TenantId, s: &Sample) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO meter_samples (tenant_id, meter, day, value, sampled_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, meter, day) DO NOTHING",
    )
    .bind(tenant_id.as_str())
    .bind(s.meter.as_str())
    .bind(s.day)
    .bind(s.value)
    .bind(now_millis())
    .execute(&svc.db.pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The tenant's samples for days in [from, to), oldest first.
pub async fn samples(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    from: Millis,
    to: Millis,
) -> Result<Vec<Sample>> {
    actor.require(tenant_id.as_str(), Access::Read)?;
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT meter, day, value FROM meter_samples WHERE tenant_id = $1 AND day >= $2 \
         AND day < $3 ORDER BY day, meter",
    )
    .bind(tenant_id.as_str())
    .bind(from)
    .bind(to)
    .fetch_all(&svc.db.pool)
    .await?;
    rows.into_iter()
        .map(|(meter, day, value)| {
            let meter = meter
                .parse()
                .map_err(|e: String| ServiceError::Internal(format!("meter sample: {e}")))?;
            Ok(Sample { meter, day, value })
        })
        .collect()
}
