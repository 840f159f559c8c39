//! When each version was served (deployed or deprecated): a stretch opens
//! in the transaction that makes it servable and closes in the one that
//! ends it, so billing by the hour (`domain::meter::served_samples`) sees
//! every deploy and undeploy, whenever they happen and on whichever replica.

use crate::domain::custom_model::{CustomModel, Status};
use crate::domain::meter::{served_samples, Sample, Served};
use crate::domain::tenant::TenantId;
use crate::domain::time::{now_millis, Millis};

const HOUR_MS: Millis = 3_600_000;
use crate::server::services::{Result, Services};

/// Opens or closes `m`'s stretch as its status moves to `next`.
pub(super) async fn follow(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    m: &CustomModel,
    next: Status,
) -> Result<()> {
    let now = now_millis();
    match (m.status.servable(), next.servable()) {
        (false, true) => {
            // Billing counts each clock hour a version was served once, so a
            // stretch that closed this hour is reopened, not followed by a
            // new row: deploy/undeploy in a loop cannot grow this table
            // faster than one row per version per hour, and bills the same.
            let reopened = sqlx::query(
                "UPDATE custom_model_served SET served_to = NULL, hosting_fee_micros = $1 \
                 WHERE model_id = $2 AND served_to >= $3",
            )
            .bind(m.hosting_fee_micros)
            .bind(&m.id)
            .bind(now.div_euclid(HOUR_MS) * HOUR_MS)
            .execute(&mut **tx)
            .await?;
            if reopened.rows_affected() > 0 {
                return Ok(());
            }
            sqlx::query(
                "INSERT INTO custom_model_served (model_id, tenant_id, hosting_fee_micros, \
                 served_from, served_to) VALUES ($1, $2, $3, $4, NULL)",
            )
            .bind(&m.id)
            .bind(&m.tenant_id)
            .bind(m.hosting_fee_micros)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        (true, false) => {
            sqlx::query(
                "UPDATE custom_model_served SET served_to = $1 \
                 WHERE model_id = $2 AND served_to IS NULL",
            )
            .bind(now)
            .bind(&m.id)
            .execute(&mut **tx)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// The tenant's custom-model samples (model-hours and fee-hours) for the
/// days in `[from, to)` up to now, from the days it has existed.
pub async fn samples(
    svc: &Services,
    tenant_id: &TenantId,
    since: Millis,
    from: Millis,
    to: Millis,
) -> Result<Vec<Sample>> {
    let rows: Vec<(String, i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT model_id, hosting_fee_micros, served_from, served_to FROM custom_model_served \
         WHERE tenant_id = $1 AND served_from < $2 AND (served_to IS NULL OR served_to > $3)",
    )
    .bind(tenant_id.as_str())
    .bind(to)
    .bind(from)
    .fetch_all(&svc.db.pool)
    .await?;
    let served: Vec<Served> = rows
        .into_iter()
        .map(|(version, fee, from, to)| Served {
            version,
            fee,
            from,
            to,
        })
        .collect();
    Ok(served_samples(&served, from, to, since, now_millis()))
}
