//! The Operations page's server function, over the replica registry.

use leptos::prelude::*;

use crate::domain::replica::Operations;

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail};

/// The replicas serving this database and who runs each periodic job;
/// platform readers only.
#[server(endpoint = "operations")]
pub async fn fleet() -> Result<Operations, ServerFnError> {
    use crate::server::services::replicas;
    let (svc, actor) = actor().await?;
    replicas::operations(&svc, &actor).await.map_err(fail)
}
