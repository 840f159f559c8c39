//! Meters (DESIGN: billing): each tenant's stored data is sampled once per
//! UTC day, and the first sample of a day stands, so replicas sampling at
//! once write it once. Custom models are not sampled: their days are
//! counted from the hours each version was served (`custom_models::served`),
//! so no schedule around a sampling moment dodges them. Invoices price the
//! month's days by the plan in force on each.

use crate::domain::meter::{day_of, Meter, Sample};
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::{now_millis, Millis};

use super::{custom_models, Actor, Result, ServiceError, Services};

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
    let since = super::tenants::get(svc, actor, tenant_id).await?.created_at;
    let mut out = stored(svc, tenant_id, from, to).await?;
    out.extend(custom_models::served::samples(svc, tenant_id, since, from, to).await?);
    out.sort_by_key(|s| (s.day, s.meter));
    Ok(out)
}

/// The sampled meters (stored data): custom models are not sampled but
/// billed from the hours they were served.
async fn stored(
    svc: &Services,
    tenant_id: &TenantId,
    from: Millis,
    to: Millis,
) -> Result<Vec<Sample>> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT meter, day, value FROM meter_samples WHERE tenant_id = $1 AND day >= $2 \
         AND day < $3 AND meter = $4 ORDER BY day, meter",
    )
    .bind(tenant_id.as_str())
    .bind(from)
    .bind(to)
    .bind(Meter::StorageBytes.as_str())
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
