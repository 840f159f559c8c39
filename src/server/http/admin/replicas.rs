//! `/admin/v1/replicas` and `/admin/v1/jobs`: the replicas serving this
//! database and who runs each periodic job, for platform readers (the
//! portal's Operations page and `atrium replica` show the same).

use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::Caller;
use super::problem::{ApiResult, Problem};
use super::{AdminState, JobLeasePage, ReplicaPage};
use crate::server::services::replicas;

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(jobs))
}

/// Every registered replica, latest seen first; `live` when it renewed
/// its row within 15 s.
#[utoipa::path(operation_id = "list_replicas", get, path = "/replicas", tag = "operations",
    responses((status = 200, body = ReplicaPage), (status = "4XX", body = Problem)))]
async fn list(caller: Caller) -> ApiResult<Json<ReplicaPage>> {
    let data = replicas::list(&caller.svc, &caller.actor).await?;
    Ok(Json(ReplicaPage::from(data)))
}

/// Each periodic job's lease: the replica running it, until when, and
/// how many runs it has had.
#[utoipa::path(operation_id = "list_jobs", get, path = "/jobs", tag = "operations",
    responses((status = 200, body = JobLeasePage), (status = "4XX", body = Problem)))]
async fn jobs(caller: Caller) -> ApiResult<Json<JobLeasePage>> {
    let data = replicas::jobs(&caller.svc, &caller.actor).await?;
    Ok(Json(JobLeasePage::from(data)))
}
