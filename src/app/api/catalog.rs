use leptos::prelude::*;

use crate::domain::catalog::{Model, Provider};
use crate::domain::completion::ServerTools;
use crate::domain::usage::UsageReport;

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, invalid, parse_tenant};

#[server(endpoint = "list_catalog")]
pub async fn list_catalog() -> Result<(Vec<Provider>, Vec<Model>), ServerFnError> {
    use crate::server::services::catalog;
    let (svc, actor) = actor().await?;
    catalog::list(&svc, &actor).await.map_err(fail)
}

#[server(endpoint = "add_provider")]
pub async fn add_provider(
    name: String,
    kind: String,
    base_url: String,
    region: String,
    timeout_ms: String,
    api_key: String,
    api_key_env: String,
) -> Result<Provider, ServerFnError> {
    use crate::domain::validation::whole_number;
    use crate::server::services::catalog::{self, Credential, NewProvider};
    let (svc, actor) = actor().await?;
    let credential = match (api_key.trim(), api_key_env.trim()) {
        ("", "") => Credential::None,
        ("", var) => Credential::Env(var.to_string()),
        (key, _) => Credential::Stored(key.to_string()),
    };
    let new = NewProvider {
        name,
        kind: kind.parse().map_err(invalid)?,
        base_url,
        region,
        timeout_ms: whole_number("timeout_ms", &timeout_ms).map_err(invalid)?,
        credential,
    };
    catalog::add_provider(&svc, &actor, new).await.map_err(fail)
}

#[server(endpoint = "add_model")]
pub async fn add_model(
    name: String,
    provider: String,
    upstream_model: String,
    input_price: String,
    output_price: String,
    cache_read_price: String,
    cache_write_price: String,
) -> Result<Model, ServerFnError> {
    use crate::domain::pricing::{parse_usd, parse_usd_or_zero, Price};
    use crate::server::services::catalog::{self, NewModel};
    let (svc, actor) = actor().await?;
    let price = Price {
        input_per_mtok: parse_usd("input_price", &input_price).map_err(invalid)?,
        output_per_mtok: parse_usd("output_price", &output_price).map_err(invalid)?,
        cache_read_per_mtok: parse_usd_or_zero("cache_read_price", &cache_read_price)
            .map_err(invalid)?,
        cache_write_per_mtok: parse_usd_or_zero("cache_write_price", &cache_write_price)
            .map_err(invalid)?,
        // Per-request and per-use charges are a price version, set on the Billing page.
        per_request: 0,
        per_server_tool_use: 0,
    };
    let new = NewModel {
        name,
        provider,
        upstream_model: Some(upstream_model),
        price,
        priority: 0,
    };
    catalog::add_model(&svc, &actor, new).await.map_err(fail)
}

/// This calendar month's usage for one tenant.
#[server(endpoint = "tenant_usage")]
pub async fn tenant_usage(tenant_id: String) -> Result<UsageReport, ServerFnError> {
    use crate::server::services::usage;
    let (svc, actor) = actor().await?;
    usage::month_to_date(&svc, &actor, &parse_tenant(&tenant_id)?)
        .await
        .map_err(fail)
}

/// Allows a model's server-side tools (or refuses them, with 0 uses).
#[server(endpoint = "set_server_tools")]
pub async fn set_server_tools(
    model: String,
    max_uses: String,
    #[server(default)] tokens_per_use: String,
) -> Result<(String, ServerTools), ServerFnError> {
    use crate::domain::validation::{optional_whole_number, whole_number};
    use crate::server::services::catalog;
    let (svc, actor) = actor().await?;
    let tools = ServerTools::new(
        whole_number("max_uses", &max_uses).map_err(invalid)?,
        optional_whole_number("tokens_per_use", &tokens_per_use)
            .map_err(invalid)?
            .unwrap_or(0),
    )
    .map_err(invalid)?;
    let set = catalog::set_server_tools(&svc, &actor, &model, tools)
        .await
        .map_err(fail)?;
    Ok((model, set))
}
