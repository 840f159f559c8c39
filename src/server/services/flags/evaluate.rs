//! Evaluating a tenant's own flags for its applications (OFREP): from the
//! cached flag set only, so an evaluation never waits on the database.

use serde::Serialize;
use serde_json::Value;

use super::snapshot;
use crate::domain::flag::{Context, Flag, Reason};
use crate::domain::tenant::TenantId;
use crate::server::services::Services;

/// One flag's value for a context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluated {
    pub key: String,
    pub value: Value,
    pub variant: String,
    pub reason: Reason,
}

/// Why a flag has no value for a context, in OpenFeature's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalError {
    /// No such flag in this tenant (another tenant's flag is not found
    /// either: its existence is not revealed).
    NotFound,
    /// A rule places keys, and the context has none.
    TargetingKeyMissing,
}

impl EvalError {
    pub fn code(self) -> &'static str {
        match self {
            EvalError::NotFound => "FLAG_NOT_FOUND",
            EvalError::TargetingKeyMissing => "TARGETING_KEY_MISSING",
        }
    }

    pub fn details(self) -> &'static str {
        match self {
            EvalError::NotFound => "no flag with this key",
            EvalError::TargetingKeyMissing => {
                "this flag's rules need a targetingKey in the context"
            }
        }
    }
}

fn evaluate(flag: &Flag, ctx: &Context) -> Result<Evaluated, EvalError> {
    if flag.enabled && ctx.targeting_key.is_none() && flag.needs_targeting_key() {
        return Err(EvalError::TargetingKeyMissing);
    }
    let e = flag.evaluate(ctx);
    Ok(Evaluated {
        key: flag.key.to_string(),
        value: e.value.clone(),
        variant: e.variant.to_string(),
        reason: e.reason,
    })
}

/// One of the tenant's flags. Archived flags are not served.
pub fn tenant_flag(
    svc: &Services,
    tenant: &TenantId,
    key: &str,
    ctx: &Context,
) -> Result<Evaluated, EvalError> {
    let set = snapshot(svc);
    let flag = set
        .tenant(tenant, key)
        .filter(|f| !f.archived)
        .ok_or(EvalError::NotFound)?;
    evaluate(flag, ctx)
}

/// Every live flag of the tenant, by key: a value or why there is none.
pub fn tenant_flags(
    svc: &Services,
    tenant: &TenantId,
    ctx: &Context,
) -> Vec<(String, Result<Evaluated, EvalError>)> {
    let set = snapshot(svc);
    set.tenant_flags(tenant)
        .filter(|f| !f.archived)
        .map(|f| (f.key.to_string(), evaluate(f, ctx)))
        .collect()
}
