//! Price versions: `set` schedules a model's new price from a moment on
//! (now by default), never before now, so usage already priced keeps its
//! price and a past month re-prices to the same money.

use serde_json::json;

use super::super::audit::Entry;
use super::super::{control, Actor, Result, ServiceError, Services};
use crate::domain::audit::AuditAction;
use crate::domain::price::{EvaluationPrices, PriceHistory, PriceVersion};
use crate::domain::pricing::{Micros, Price};
use crate::domain::time::{now_millis, Millis};
use crate::domain::validation::Invalid;

/// How far back `effective_from` may be: the clock skew between the
/// caller and this server, not a way to re-price the past.
const SKEW_MS: Millis = 5_000;

/// Writes a version in the caller's transaction; a second version at the
/// same moment replaces the first.
pub(super) async fn write(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    model_id: &str,
    v: &PriceVersion,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO model_prices (model_id, effective_from, input_micros_per_mtok, \
         output_micros_per_mtok, cache_read_micros_per_mtok, cache_write_micros_per_mtok, \
         request_micros, server_tool_use_micros, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (model_id, effective_from) DO UPDATE SET \
         input_micros_per_mtok = excluded.input_micros_per_mtok, \
         output_micros_per_mtok = excluded.output_micros_per_mtok, \
         cache_read_micros_per_mtok = excluded.cache_read_micros_per_mtok, \
         cache_write_micros_per_mtok = excluded.cache_write_micros_per_mtok, \
         request_micros = excluded.request_micros, \
         server_tool_use_micros = excluded.server_tool_use_micros",
    )
    .bind(model_id)
    .bind(v.effective_from)
    .bind(v.price.input_per_mtok)
    .bind(v.price.output_per_mtok)
    .bind(v.price.cache_read_per_mtok)
    .bind(v.price.cache_write_per_mtok)
    .bind(v.price.per_request)
    .bind(v.price.per_server_tool_use)
    .bind(now_millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The model's versions, oldest first.
pub async fn history(svc: &Services, actor: &Actor, model: &str) -> Result<PriceHistory> {
    actor.require_platform_read()?;
    let (_, history) = find(svc, model).await?;
    Ok(history)
}

async fn find(svc: &Services, model: &str) -> Result<(String, PriceHistory)> {
    // From the database, not this process's cache: the CLI acts on what
    // the server has stored.
    let m = super::load(svc)
        .await?
        .models
        .get(model.trim())
        .cloned()
        .ok_or(ServiceError::NotFound("model"))?;
    Ok((m.id.clone(), m.prices.clone()))
}

/// Schedules `price` for `model` from `effective_from` (now when absent).
/// Audited with the version it replaces from that moment.
#[tracing::instrument(level = "debug", skip_all, fields(model = %model))]
pub async fn set(
    svc: &Services,
    actor: &Actor,
    model: &str,
    price: Price,
    effective_from: Option<Millis>,
) -> Result<PriceVersion> {
    actor.require_platform_admin()?;
    price.check()?;
    let effective_from = starting(effective_from)?;
    let (model_id, history) = find(svc, model).await?;
    let version = PriceVersion {
        effective_from,
        price,
    };
    let mut tx = svc.db.pool.begin().await?;
    write(&mut tx, &model_id, &version).await?;
    let before = history.at(effective_from).copied();
    let entry = Entry::success(AuditAction::PriceSet, "model", &model_id)
        .details(json!({ "model": model.trim(), "before": before, "after": version }));
    control::commit(svc, tx, actor, entry, control::Caches::CATALOG).await?;
    Ok(version)
}

/// `effective_from`, now when absent; never in the past.
fn starting(effective_from: Option<Millis>) -> Result<Millis> {
    let now = now_millis();
    let effective_from = effective_from.unwrap_or(now);
    if effective_from < now - SKEW_MS {
        return Err(Invalid::new(
            "effective_from",
            "a price cannot change the past: usage already made keeps its price",
        )
        .into());
    }
    Ok(effective_from)
}

/// The price of one OFREP flag evaluation, by version.
pub async fn evaluation_history(svc: &Services, actor: &Actor) -> Result<EvaluationPrices> {
    actor.require_platform_read()?;
    Ok(super::load(svc).await?.evaluation_prices)
}

/// Schedules the price of one flag evaluation from `effective_from` (now
/// when absent). Audited with the version it replaces from that moment.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_evaluation(
    svc: &Services,
    actor: &Actor,
    micros_per_evaluation: Micros,
    effective_from: Option<Millis>,
) -> Result<PriceVersion<Micros>> {
    actor.require_platform_admin()?;
    if !(0..=1_000_000).contains(&micros_per_evaluation) {
        return Err(Invalid::new("evaluation", "between $0 and $1 per evaluation").into());
    }
    let effective_from = starting(effective_from)?;
    let before = evaluation_history(svc, actor)
        .await?
        .at(effective_from)
        .copied();
    let version = PriceVersion {
        effective_from,
        price: micros_per_evaluation,
    };
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO evaluation_prices (effective_from, micros_per_evaluation, created_at) \
         VALUES ($1, $2, $3) ON CONFLICT (effective_from) DO UPDATE SET \
         micros_per_evaluation = excluded.micros_per_evaluation",
    )
    .bind(version.effective_from)
    .bind(version.price)
    .bind(now_millis())
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::PriceSet, "meter", "flag_evaluation")
        .details(json!({ "meter": "flag_evaluation", "before": before, "after": version }));
    control::commit(svc, tx, actor, entry, control::Caches::CATALOG).await?;
    Ok(version)
}
