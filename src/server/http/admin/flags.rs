//! `/admin/v1/flags`: platform flags, or a tenant's with `?tenant_id=`:
//! list, create, read (with its revision as ETag), change one thing at a
//! time (enable, rollout, targets, rules, archive) under `If-Match`, and
//! the flag's history of audited changes, who a platform flag serves
//! what, and where one targeting key falls in its rollouts and splits.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::Caller;
use super::conventions::{body, expected_revision, if_match, with_etag, ApiQuery};
use super::posted::Posted;
use super::problem::{ApiResult, Problem};
use super::tenants::tenant_id;
use super::{AdminState, FlagChangePage, FlagPage};
use crate::domain::flag::{BucketCheck, Flag, FlagKey, Preview, Rule};
use crate::server::services::flags::{self, Change, Scope};
use crate::server::services::ServiceError;

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update))
        .routes(routes!(history))
        .routes(routes!(preview))
        .routes(routes!(buckets))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlagScope {
    /// A tenant's flags; absent: the platform's.
    pub tenant_id: Option<String>,
}

impl FlagScope {
    fn scope(&self) -> ApiResult<Scope> {
        Ok(match self.tenant_id.as_deref() {
            Some(t) => Scope::Tenant(tenant_id(t)?),
            None => Scope::Platform,
        })
    }
}

fn flag_key(raw: &str) -> ApiResult<FlagKey> {
    FlagKey::parse(raw).map_err(|_| ServiceError::NotFound("flag").into())
}

#[utoipa::path(operation_id = "list_flags", get, path = "/flags", tag = "flags",
    params(FlagScope),
    responses((status = 200, body = FlagPage), (status = "4XX", body = Problem)))]
async fn list(caller: Caller, ApiQuery(scope): ApiQuery<FlagScope>) -> ApiResult<Json<FlagPage>> {
    let data = flags::list(&caller.svc, &caller.actor, &scope.scope()?).await?;
    Ok(Json(FlagPage::from(data)))
}

/// Creates a flag from its whole definition (checked as the portal checks it).
#[utoipa::path(operation_id = "create_flag", post, path = "/flags", tag = "flags", request_body = Flag,
    params(FlagScope, ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Flag), (status = "4XX", body = Problem)))]
async fn create(
    caller: Caller,
    ApiQuery(scope): ApiQuery<FlagScope>,
    posted: Posted,
) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let scope = scope.scope()?;
    let scope = &scope;
    let make = |flag: Flag| async move { flags::create(svc, actor, scope, flag).await };
    posted.create(&caller, make).await
}

#[utoipa::path(operation_id = "get_flag", get, path = "/flags/{key}", tag = "flags",
    params(("key" = String, Path), FlagScope),
    responses((status = 200, body = Flag, headers(("ETag" = String))), (status = "4XX", body = Problem)))]
async fn show(
    caller: Caller,
    Path(key): Path<String>,
    ApiQuery(scope): ApiQuery<FlagScope>,
) -> ApiResult<Response> {
    let svc = &caller.svc;
    let (flag, revision) =
        flags::get_versioned(svc, &caller.actor, &scope.scope()?, &flag_key(&key)?).await?;
    Ok(with_etag(StatusCode::OK, &flag, revision))
}

/// One change to a flag: exactly one field. Each is audited on its own.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagUpdate {
    /// The kill switch: false serves the off variant to everyone.
    pub enabled: Option<bool>,
    /// The rollout rule's percentage, 0 to 100 (added if there is none).
    pub rollout: Option<u8>,
    /// The first target list's keys (tenant ids for platform flags).
    pub targets: Option<Vec<String>>,
    /// Every rule, replacing the ones there are.
    pub rules: Option<Vec<Rule>>,
    /// Archived flags keep their history but are no longer served.
    pub archived: Option<bool>,
}

impl FlagUpdate {
    fn into_change(self) -> ApiResult<Change> {
        let FlagUpdate {
            enabled,
            rollout,
            targets,
            rules,
            archived,
        } = self;
        let given = [
            enabled.is_some(),
            rollout.is_some(),
            targets.is_some(),
            rules.is_some(),
            archived.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(Problem::bad_request(
                "body",
                "give exactly one of enabled, rollout, targets, rules, archived",
            ));
        }
        let change = (enabled.map(Change::Enable))
            .or(rollout.map(Change::Rollout))
            .or(targets.map(Change::Targets))
            .or(rules.map(Change::Rules))
            .or(archived.map(Change::Archive));
        change.ok_or_else(|| Problem::bad_request("body", "no change"))
    }
}

/// Changes the flag. Send the ETag you read as `If-Match`: a stale one
/// gets 412; without it the change still applies only to the revision
/// the server read, never over a concurrent one.
#[utoipa::path(operation_id = "update_flag", patch, path = "/flags/{key}", tag = "flags", request_body = FlagUpdate,
    params(("key" = String, Path), FlagScope, ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Flag, headers(("ETag" = String))), (status = 412, body = Problem), (status = "4XX", body = Problem)))]
async fn update(
    caller: Caller,
    Path(key): Path<String>,
    ApiQuery(scope): ApiQuery<FlagScope>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let svc = &caller.svc;
    let (scope, key) = (scope.scope()?, flag_key(&key)?);
    let change = body::<FlagUpdate>(&bytes)?.into_change()?;
    let expected = match if_match(&headers)? {
        Some(tags) => {
            let (_, current) = flags::get_versioned(svc, &caller.actor, &scope, &key).await?;
            expected_revision(Some(tags), current)
        }
        None => None,
    };
    let (flag, revision) =
        flags::change_if(svc, &caller.actor, &scope, &key, change, expected).await?;
    Ok(with_etag(StatusCode::OK, &flag, revision))
}

/// The flag's audited changes, newest first.
#[utoipa::path(operation_id = "flag_history", get, path = "/flags/{key}/history", tag = "flags",
    params(("key" = String, Path), FlagScope),
    responses((status = 200, body = FlagChangePage), (status = "4XX", body = Problem)))]
async fn history(
    caller: Caller,
    Path(key): Path<String>,
    ApiQuery(scope): ApiQuery<FlagScope>,
) -> ApiResult<Json<FlagChangePage>> {
    let svc = &caller.svc;
    let data = flags::history(svc, &caller.actor, &scope.scope()?, &flag_key(&key)?).await?;
    Ok(Json(FlagChangePage::from(data)))
}

/// Who a platform flag serves what: every tenant counted by variant, the
/// tenants a rule placed listed first.
#[utoipa::path(operation_id = "preview_flag", get, path = "/flags/{key}/preview", tag = "flags",
    params(("key" = String, Path)),
    responses((status = 200, body = Preview), (status = "4XX", body = Problem)))]
async fn preview(caller: Caller, Path(key): Path<String>) -> ApiResult<Json<Preview>> {
    let key = flag_key(&key)?;
    Ok(Json(
        flags::preview(&caller.svc, &caller.actor, &key).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BucketQuery {
    /// The targeting key (for a platform flag: a tenant's id or name).
    pub targeting_key: String,
    /// A tenant's flag; absent: the platform's.
    pub tenant_id: Option<String>,
}

/// What the flag serves one targeting key, and its bucket in every
/// rollout and split: "why is this user in?".
#[utoipa::path(operation_id = "flag_buckets", get, path = "/flags/{key}/buckets", tag = "flags",
    params(("key" = String, Path), BucketQuery),
    responses((status = 200, body = BucketCheck), (status = "4XX", body = Problem)))]
async fn buckets(
    caller: Caller,
    Path(key): Path<String>,
    ApiQuery(q): ApiQuery<BucketQuery>,
) -> ApiResult<Json<BucketCheck>> {
    let scope = FlagScope {
        tenant_id: q.tenant_id,
    }
    .scope()?;
    let (svc, key) = (&caller.svc, flag_key(&key)?);
    let check = flags::bucket_check(svc, &caller.actor, &scope, &key, &q.targeting_key).await?;
    Ok(Json(check))
}
