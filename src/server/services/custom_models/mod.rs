//! Custom models (issue 13): a tenant's LoRA adapters, registered and
//! validated here, deployed to serving pools (`pools`), kept loaded on
//! every engine by the reconciler (`reconcile`), routed by the gateway
//! from the catalog snapshot (`routes`), and moved through their
//! lifecycle (`lifecycle`). Every change is audited.

mod admission;
pub mod engine;
pub mod lifecycle;
pub mod pool_edit;
pub mod pools;
pub mod reconcile;
pub mod reconciler;
mod retirement;
pub mod routes;
pub mod runtime;
pub mod served;
mod status;
mod validate;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::FromRow;

use crate::domain::audit::AuditAction;
use crate::domain::custom_model::{self as cm, AdapterSource, CustomModel, Status};
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::now_millis;

use super::audit::Entry;
use super::{control, new_id, Actor, Result, ServiceError, Services};

pub use admission::{MAX_DEPLOYED_PER_POOL, MAX_VERSION};
pub use runtime::PoolRuntime;

pub(super) const COLUMNS: &str = "c.id, c.tenant_id, c.name, c.version, c.base_model, c.adapter, \
     c.lora_rank, c.lora_alpha, c.target_modules, c.fine_tune_config, c.status, c.status_reason, \
     c.pinned, c.input_micros_per_mtok, c.output_micros_per_mtok, c.markup_percent, \
     c.hosting_fee_micros, c.deprecated_until, c.last_used_at, c.created_at, c.updated_at, \
     (SELECT r.version FROM custom_model_routes r WHERE r.tenant_id = c.tenant_id \
      AND r.name = c.name) AS active_version";

#[derive(FromRow)]
pub(super) struct Row {
    id: String,
    tenant_id: String,
    name: String,
    version: i64,
    base_model: String,
    adapter: String,
    lora_rank: Option<i64>,
    lora_alpha: Option<String>,
    target_modules: String,
    fine_tune_config: String,
    status: String,
    status_reason: Option<String>,
    pinned: i64,
    input_micros_per_mtok: Option<i64>,
    output_micros_per_mtok: Option<i64>,
    markup_percent: i64,
    hosting_fee_micros: i64,
    deprecated_until: Option<i64>,
    last_used_at: i64,
    created_at: i64,
    updated_at: i64,
    active_version: Option<i64>,
}

impl Row {
    /// Everything read back is checked again: a hand-edited row is an
    /// error, not a guess.
    pub(super) fn into_model(self) -> Result<CustomModel> {
        let bad =
            |what: &str| ServiceError::Internal(format!("custom model {}: bad {what}", self.id));
        Ok(CustomModel {
            adapter: AdapterSource::parse(&self.adapter).map_err(|_| bad("adapter"))?,
            status: self.status.parse::<Status>().map_err(|_| bad("status"))?,
            target_modules: serde_json::from_str(&self.target_modules)
                .map_err(|_| bad("target_modules"))?,
            fine_tune_config: serde_json::from_str(&self.fine_tune_config)
                .map_err(|_| bad("fine_tune_config"))?,
            alpha: match &self.lora_alpha {
                Some(a) => Some(a.parse::<f64>().map_err(|_| bad("alpha"))?),
                None => None,
            },
            version: u32::try_from(self.version).map_err(|_| bad("version"))?,
            rank: self.lora_rank.and_then(|r| u32::try_from(r).ok()),
            active: self.active_version == Some(self.version),
            id: self.id,
            tenant_id: self.tenant_id,
            name: self.name,
            base_model: self.base_model,
            status_reason: self.status_reason,
            pinned: self.pinned != 0,
            input_per_mtok: self.input_micros_per_mtok,
            output_per_mtok: self.output_micros_per_mtok,
            markup_percent: self.markup_percent,
            hosting_fee_micros: self.hosting_fee_micros,
            deprecated_until: self.deprecated_until,
            last_used_at: self.last_used_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// What a tenant admin (or an external training job) registers.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomModel {
    pub tenant_id: TenantId,
    pub name: String,
    pub base_model: String,
    /// A directory both Atrium and the engines see, or an `s3://` or
    /// `https://` URI.
    pub adapter: String,
    #[serde(default)]
    pub version: Option<u32>,
    #[serde(default)]
    pub fine_tune_config: Option<Value>,
    /// Registered by a training job that has not finished: not validated
    /// until `validate` is called.
    #[serde(default)]
    pub training: bool,
    #[serde(default)]
    pub input_per_mtok: Option<i64>,
    #[serde(default)]
    pub output_per_mtok: Option<i64>,
    #[serde(default)]
    pub markup_percent: Option<i64>,
    #[serde(default)]
    pub hosting_fee_micros: i64,
}

/// Versions (not retired) one tenant may keep, so the catalog and the
/// reconciler stay small whatever a tenant admin does.
pub const MAX_VERSIONS_PER_TENANT: i64 = 1000;

/// Versions one tenant may have registered in all, retired ones included:
/// registering and retiring in a loop cannot grow the table without bound.
pub const MAX_ROWS_PER_TENANT: i64 = 10_000;

/// Default markup on the base model's prices when a custom model has none.
pub const DEFAULT_MARKUP_PERCENT: i64 = 20;

/// Registers a version and, unless it is still training, validates it.
#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %new.tenant_id))]
pub async fn register(svc: &Services, actor: &Actor, new: NewCustomModel) -> Result<CustomModel> {
    actor.require(&new.tenant_id, Access::Manage)?;
    let tenant = super::tenants::get(svc, actor, &new.tenant_id).await?;
    admission::require_enabled(svc, &tenant).await?;
    admission::check_pricing(actor, &new)?;
    let name = cm::name(&new.name)?;
    let version = match new.version {
        Some(v) if !(1..=MAX_VERSION).contains(&i64::from(v)) => {
            return Err(crate::domain::validation::Invalid::new(
                "version",
                format!("must be 1 to {MAX_VERSION}"),
            )
            .into())
        }
        Some(v) => i64::from(v),
        None => next_version(svc, &new.tenant_id, &name).await?,
    };
    let mut adapter = AdapterSource::parse(&new.adapter)?;
    adapter.check_remote(&svc.config.adapter_remote_prefixes, new.tenant_id.as_str())?;
    if let AdapterSource::Local(dir) = &adapter {
        // The real path is kept: engines are sent what was checked.
        let real = validate::within_roots(svc, &new.tenant_id, dir).await?;
        adapter = AdapterSource::Local(real.display().to_string());
    }
    let markup = cm::markup_percent(new.markup_percent.unwrap_or(DEFAULT_MARKUP_PERCENT))?;
    let base = new.base_model.trim().to_string();
    // The database, not the snapshot: a CLI process has no warm caches.
    let known: Option<String> = sqlx::query_scalar("SELECT id FROM models WHERE name = $1")
        .bind(&base)
        .fetch_optional(&svc.db.pool)
        .await?;
    if known.is_none() {
        return Err(ServiceError::NotFound("base model"));
    }
    let config = new.fine_tune_config.unwrap_or_else(|| json!({}));
    if !config.is_object() || config.to_string().len() > 64 * 1024 {
        return Err(crate::domain::validation::Invalid::new(
            "config",
            "must be a JSON object of at most 64 KiB",
        )
        .into());
    }
    let id = new_id().replace('-', "");
    let now = now_millis();
    let status = if new.training {
        Status::Training
    } else {
        Status::Validating
    };
    let mut tx = svc.db.pool.begin().await?;
    control::lock_tenant(&mut tx, new.tenant_id.as_str()).await?;
    let (live, all): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN status <> 'retired' THEN 1 ELSE 0 END), 0), COUNT(*) \
         FROM custom_models WHERE tenant_id = $1",
    )
    .bind(new.tenant_id.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if live >= MAX_VERSIONS_PER_TENANT || all >= MAX_ROWS_PER_TENANT {
        return Err(ServiceError::Conflict(format!(
            "a tenant keeps at most {MAX_VERSIONS_PER_TENANT} custom model versions that are not retired \
             (and {MAX_ROWS_PER_TENANT} in all); retire or delete old ones first"
        )));
    }
    sqlx::query(
        "INSERT INTO custom_models (id, tenant_id, name, version, base_model, adapter, \
         target_modules, fine_tune_config, status, input_micros_per_mtok, output_micros_per_mtok, \
         markup_percent, hosting_fee_micros, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, '[]', $7, $8, $9, $10, $11, $12, $13, $13)",
    )
    .bind(&id)
    .bind(new.tenant_id.as_str())
    .bind(&name)
    .bind(version)
    .bind(&base)
    .bind(adapter.as_str())
    .bind(config.to_string())
    .bind(status.as_str())
    .bind(new.input_per_mtok)
    .bind(new.output_per_mtok)
    .bind(markup)
    .bind(new.hosting_fee_micros.max(0))
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(ServiceError::conflict_on(
        "this version of the custom model",
    ))?;
    let entry = Entry::success(AuditAction::CustomModelRegister, "custom_model", &id)
        .tenant(&new.tenant_id)
        .details(
            json!({ "name": name, "version": version, "base_model": base,
                         "adapter": adapter.as_str(), "status": status }),
        );
    control::commit(svc, tx, actor, entry, control::Caches::CATALOG).await?;
    if new.training {
        return get(svc, actor, &new.tenant_id, &id).await;
    }
    validate::run(svc, actor, &new.tenant_id, &id).await
}

/// Checks a training (or failed) version's adapter again: `validating`,
/// then `ready` or `failed` with the reason.
pub async fn validate(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    id: &str,
) -> Result<CustomModel> {
    actor.require(tenant_id, Access::Manage)?;
    let m = get(svc, actor, tenant_id, id).await?;
    status::set_status(
        svc,
        actor,
        &m,
        Status::Validating,
        None,
        AuditAction::CustomModelValidate,
    )
    .await?;
    validate::run(svc, actor, tenant_id, id).await
}

async fn next_version(svc: &Services, tenant_id: &TenantId, name: &str) -> Result<i64> {
    let max: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(version) FROM custom_models WHERE tenant_id = $1 AND name = $2",
    )
    .bind(tenant_id.as_str())
    .bind(name)
    .fetch_one(&svc.db.pool)
    .await?;
    let next = max.unwrap_or(0).saturating_add(1);
    if next > MAX_VERSION {
        return Err(ServiceError::Conflict(format!(
            "{name} has reached version {MAX_VERSION}; register it under a new name"
        )));
    }
    Ok(next)
}

/// One version, in the tenant's scope (another tenant's id is "not found").
pub async fn get(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    id: &str,
) -> Result<CustomModel> {
    actor.require(tenant_id, Access::Read)?;
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM custom_models c WHERE c.tenant_id = $1 AND c.id = $2"
    ))
    .bind(tenant_id.as_str())
    .bind(id)
    .fetch_optional(&svc.db.pool)
    .await?;
    row.ok_or(ServiceError::NotFound("custom model"))?
        .into_model()
}

/// A version by name: `name:version`, or the bare name for its active
/// version (else its newest).
pub async fn find(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    model: &str,
) -> Result<CustomModel> {
    let (name, version) = cm::requested(model.trim());
    let all = list(svc, actor, tenant_id).await?;
    let of_name = all.into_iter().filter(|m| m.name == name);
    let found = match version {
        Some(v) => of_name.into_iter().find(|m| m.version == v),
        None => {
            let mut versions: Vec<CustomModel> = of_name.collect();
            versions.sort_by_key(|m| (m.active, m.version));
            versions.pop()
        }
    };
    found.ok_or(ServiceError::NotFound("custom model"))
}

/// Every version of the tenant's custom models, by name then version.
pub async fn list(svc: &Services, actor: &Actor, tenant_id: &TenantId) -> Result<Vec<CustomModel>> {
    actor.require(tenant_id, Access::Read)?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM custom_models c WHERE c.tenant_id = $1 ORDER BY c.name, c.version"
    ))
    .bind(tenant_id.as_str())
    .fetch_all(&svc.db.pool)
    .await?;
    rows.into_iter().map(Row::into_model).collect()
}

/// Every version on engines or headed there, across tenants (the
/// reconciler's view).
pub(super) async fn on_engines(svc: &Services) -> Result<Vec<CustomModel>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM custom_models c WHERE c.status IN ('deploying', 'deployed', 'deprecated')"
    ))
    .fetch_all(&svc.db.pool)
    .await?;
    rows.into_iter().map(Row::into_model).collect()
}

/// A version as the portal and CLI show it, with where it is loaded.
#[derive(Debug, Clone, Serialize)]
pub struct CustomModelView {
    #[serde(flatten)]
    pub model: CustomModel,
    pub engine_name: String,
    pub endpoints: Vec<reconcile::Presence>,
    /// This month's usage of this version (the ledger's `name:version`).
    pub usage: crate::domain::usage::UsageTotals,
}

pub async fn views(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
) -> Result<Vec<CustomModelView>> {
    let models = list(svc, actor, tenant_id).await?;
    let (from, _) = crate::domain::invoice::Month::of(now_millis()).window();
    let mut by_model = super::usage::report(svc, actor, tenant_id, Some(from), None)
        .await?
        .by_model;
    Ok(models
        .into_iter()
        .map(|m| {
            let engine_name = m.engine_name();
            let endpoints = svc.pools.presence(&engine_name);
            let usage = by_model.remove(&m.versioned_name()).unwrap_or_default();
            CustomModelView {
                model: m,
                engine_name,
                endpoints,
                usage,
            }
        })
        .collect())
}
