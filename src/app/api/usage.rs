//! The usage dashboards: thin adapters over `services::dashboards`.

use leptos::prelude::*;

use crate::domain::dashboard::{PlatformUsage, TenantUsage};

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, invalid, parse_tenant};

/// `period`: 7d, 30d or 90d; `model` and `key` empty for all.
#[server(endpoint = "usage_dashboard")]
pub async fn usage_dashboard(
    id: String,
    period: String,
    model: String,
    key: String,
) -> Result<TenantUsage, ServerFnError> {
    use crate::domain::dashboard::Span;
    use crate::server::services::dashboards;
    let (svc, actor) = actor().await?;
    let span = Span::parse(&period).map_err(invalid)?;
    let some = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    dashboards::tenant(
        &svc,
        &actor,
        &parse_tenant(&id)?,
        span,
        some(model),
        some(key),
    )
    .await
    .map_err(fail)
}

#[server(endpoint = "platform_overview")]
pub async fn platform_overview() -> Result<PlatformUsage, ServerFnError> {
    use crate::server::services::dashboards;
    let (svc, actor) = actor().await?;
    dashboards::platform(&svc, &actor).await.map_err(fail)
}
