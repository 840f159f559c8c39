//! The admin REST API, `/admin/v1/…`: one module per resource, each a thin
//! adapter over the same services as the portal and the CLI. Calls carry
//! an admin token; errors are RFC 9457 problem+json; lists page by cursor;
//! creates honour `Idempotency-Key`; revisions travel as ETags. The
//! OpenAPI 3.1 document is generated from the handlers themselves.

mod access_reviews;
mod admin_tokens;
mod api_keys;
mod audit;
mod billing;
mod breaches;
mod budgets;
pub mod caller;
mod catalog;
mod compliance;
mod conventions;
mod custom_models;
mod flags;
mod limit;
mod plans;
mod policies;
mod posted;
pub mod problem;
mod replicas;
mod tenants;
mod users;

use std::sync::Arc;

use axum::extract::FromRef;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::domain::access_review::AccessReview;
use crate::domain::admin_token::AdminToken;
use crate::domain::api_key::ApiKey;
use crate::domain::audit::AuditEvent;
use crate::domain::breach::Breach;
use crate::domain::budget::Budget;
use crate::domain::catalog::{Model, ModelAlias, Provider};
use crate::domain::compliance::ReportSummary;
use crate::domain::cursor::CursorPage;
use crate::domain::custom_model::CustomModel;
use crate::domain::flag::{Flag, FlagChange};
use crate::domain::invoice::Invoice;
use crate::domain::plan::Plan;
use crate::domain::policy::PolicyRule;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::server::services::custom_models::pools::Pool;
use crate::server::services::plans::Subscription;
use crate::server::services::{ServiceError, Services};

pub use limit::TokenLimiter;

pub const BASE: &str = "/admin/v1";

#[derive(Clone, FromRef)]
pub struct AdminState {
    pub services: Services,
    pub limiter: Arc<TokenLimiter>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Atrium admin API", version = "1",
         description = "Everything the portal and the CLI do, over HTTP. \
Authenticate with `Authorization: Bearer atr_adm_…`. Errors are RFC 9457 \
`application/problem+json`. Lists answer `{\"data\": [...], \"next_cursor\": …}`."),
    servers((url = "/admin/v1")),
    modifiers(&BearerAuth),
    security(("admin_token" = [])),
    tags((name = "tenants"), (name = "api-keys"), (name = "budgets"), (name = "admin-tokens"), (name = "users"), (name = "audit"), (name = "catalog"), (name = "policies"), (name = "flags"), (name = "billing"), (name = "plans"), (name = "custom-models"), (name = "compliance"), (name = "operations"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn api() -> OpenApiRouter<AdminState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(tenants::routes())
        .merge(api_keys::routes())
        .merge(budgets::routes())
        .merge(admin_tokens::routes())
        .merge(users::routes())
        .merge(audit::routes())
        .merge(catalog::routes())
        .merge(policies::routes())
        .merge(flags::routes())
        .merge(billing::routes())
        .merge(plans::routes())
        .merge(custom_models::routes())
        .merge(compliance::routes())
        .merge(breaches::routes())
        .merge(access_reviews::routes())
        .merge(replicas::routes())
}

/// The OpenAPI document, as served and as checked into the repository.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

/// The router mounted at `/admin/v1`.
pub fn router(services: Services, limiter: Arc<TokenLimiter>) -> Router {
    let (routes, doc) = api().split_for_parts();
    let doc = Arc::new(doc);
    routes
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route("/docs", get(reference))
        .fallback(|| async {
            problem::Problem::from(ServiceError::NotFound("endpoint")).into_response()
        })
        .layer(axum::middleware::from_fn(refuse_nul))
        .with_state(AdminState { services, limiter })
}

/// A NUL in the path or query (`%00`) can never name anything here, and
/// PostgreSQL refuses it in text: answered 400 before any handler runs.
pub async fn refuse_nul(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let uri = req.uri().to_string();
    if uri.contains("%00") || uri.contains('\0') {
        return problem::Problem::bad_request("path", "must not contain NUL").into_response();
    }
    next.run(req).await
}

/// The interactive reference: Swagger UI, served with the site's own
/// files (`make tools` fetches it from npm), reading `openapi.json`.
async fn reference() -> impl IntoResponse {
    const PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Atrium admin API</title><link rel=\"stylesheet\" href=\"/swagger/swagger-ui.css\"></head>\
<body><div id=\"reference\"></div><script src=\"/swagger/swagger-ui-bundle.js\"></script>\
<script src=\"/swagger-init.js\"></script></body></html>";
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                 img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; object-src 'none'",
            ),
        ],
        PAGE,
    )
}

macro_rules! page_type {
    ($name:ident, $item:ty) => {
        /// One page of a list; pass `next_cursor` back as `cursor`.
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub data: Vec<$item>,
            pub next_cursor: Option<String>,
        }

        /// A whole list, in one page.
        impl From<Vec<$item>> for $name {
            fn from(data: Vec<$item>) -> Self {
                $name {
                    data,
                    next_cursor: None,
                }
            }
        }

        impl From<CursorPage<$item>> for $name {
            fn from(p: CursorPage<$item>) -> Self {
                $name {
                    data: p.data,
                    next_cursor: p.next_cursor,
                }
            }
        }
    };
}

page_type!(TenantPage, Tenant);
page_type!(ApiKeyPage, ApiKey);
page_type!(BudgetPage, Budget);
page_type!(AdminTokenPage, AdminToken);
page_type!(UserPage, User);
page_type!(ProviderPage, Provider);
page_type!(ModelPage, Model);
page_type!(AliasPage, ModelAlias);
page_type!(PolicyPage, PolicyRule);
page_type!(FlagPage, Flag);
page_type!(AuditEventPage, AuditEvent);
page_type!(InvoicePage, Invoice);
page_type!(PlanPage, Plan);
page_type!(SubscriptionPage, Subscription);
page_type!(CustomModelPage, CustomModel);
page_type!(PoolPage, Pool);
page_type!(ReportPage, ReportSummary);
page_type!(FlagChangePage, FlagChange);
page_type!(BreachPage, Breach);
page_type!(AccessReviewPage, AccessReview);
page_type!(ReplicaPage, crate::server::services::replicas::Replica);
page_type!(JobLeasePage, crate::server::services::replicas::JobLease);

#[cfg(test)]
mod tests {
    /// The document in the repository is the one the code generates: a
    /// change to the API shows in review as a change to this file.
    /// `ATRIUM_UPDATE_OPENAPI=1 cargo test …` rewrites it.
    #[test]
    fn the_checked_in_openapi_document_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/public/openapi.json");
        let generated = super::openapi().to_pretty_json().expect("serializes") + "\n";
        if std::env::var_os("ATRIUM_UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &generated).expect("write public/openapi.json");
        }
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "public/openapi.json is stale; rerun with ATRIUM_UPDATE_OPENAPI=1"
        );
        let doc: serde_json::Value = serde_json::from_str(&generated).expect("json");
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"]["/tenants/{id}"]["patch"].is_object());
    }
}
