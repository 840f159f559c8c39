use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::catalog::{list_catalog, AddModel, AddProvider, SetServerTools};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::domain::catalog::{Model, Provider, ANY_REGION};
use crate::domain::pricing::format_usd;

const PROVIDER_COLUMNS: [Column; 6] = [
    Column::plain("Name"),
    Column::plain("Kind"),
    Column::plain("Base URL"),
    Column::plain("Region"),
    Column::plain("Timeout"),
    Column::plain("Key"),
];

const MODEL_COLUMNS: [Column; 6] = [
    Column::plain("Model"),
    Column::plain("Input / MTok"),
    Column::plain("Output / MTok"),
    Column::plain("Cache read / write"),
    Column::plain("Server-side tools"),
    Column::plain("Served by"),
];

fn provider_rows(providers: Vec<Provider>) -> Vec<AnyView> {
    providers
        .into_iter()
        .map(|p| {
            view! {
                <tr>
                    <td>{p.name}</td><td>{p.kind.as_str()}</td>
                    <td><code>{p.base_url}</code></td><td>{p.region}</td>
                    <td>{format!("{} ms", p.timeout_ms)}</td><td>{p.credential}</td>
                </tr>
            }
            .into_any()
        })
        .collect()
}

fn model_rows(models: Vec<Model>) -> Vec<AnyView> {
    models
        .into_iter()
        .map(|m| {
            let via = m
                .deployments
                .iter()
                .map(|d| format!("{} ({})", d.provider.name, d.upstream_model))
                .collect::<Vec<_>>()
                .join(", ");
            let cache = format!(
                "{} / {}",
                format_usd(m.price.cache_read_per_mtok),
                format_usd(m.price.cache_write_per_mtok)
            );
            let tools = if m.server_tools.allowed() {
                format!(
                    "≤ {} uses per tool, {} tokens held per use, {} per use",
                    m.server_tools.max_uses,
                    m.server_tools.tokens_per_use,
                    format_usd(m.price.per_server_tool_use)
                )
            } else {
                "refused".to_string()
            };
            view! {
                <tr>
                    <td><code>{m.name}</code></td>
                    <td>{format_usd(m.price.input_per_mtok)}</td>
                    <td>{format_usd(m.price.output_per_mtok)}</td>
                    <td>{cache}</td>
                    <td>{tools}</td>
                    <td>{via}</td>
                </tr>
            }
            .into_any()
        })
        .collect()
}

/// Providers and the model catalog (the price table), for platform admins.
#[component]
pub fn ModelsPage() -> impl IntoView {
    let add_provider = ServerAction::<AddProvider>::new();
    let add_model = ServerAction::<AddModel>::new();
    let server_tools = ServerAction::<SetServerTools>::new();
    let catalog = Resource::new(
        move || {
            (
                add_provider.version().get(),
                add_model.version().get(),
                server_tools.version().get(),
            )
        },
        |_| list_catalog(),
    );
    view! {
        <Title text="Providers & models"/>
        <h1>"Providers & models"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match catalog.await {
                    Ok((providers, models)) => {
                        let names: Vec<String> = providers.iter().map(|p| p.name.clone()).collect();
                        let model_names: Vec<String> = models.iter().map(|m| m.name.clone()).collect();
                        view! {
                            <h2>"Providers"</h2>
                            <DataTable columns=PROVIDER_COLUMNS.to_vec() rows=provider_rows(providers)
                                empty="No providers yet: add one below."/>
                            <h2>"Models"</h2>
                            <DataTable columns=MODEL_COLUMNS.to_vec() rows=model_rows(models)
                                empty="No models yet: add one below."/>
                            <ModelForm action=add_model providers=names/>
                            <ServerToolsForm action=server_tools models=model_names/>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <ProviderForm action=add_provider/>
    }
}

#[component]
fn ProviderForm(action: ServerAction<AddProvider>) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Add provider"</h2>
            <p class="muted">"Anthropic: https://api.anthropic.com · OpenAI or any compatible server (vLLM, Ollama): https://api.openai.com/v1. "
               "A key typed here is stored encrypted and never shown again."</p>
            {move || outcome(action.value().get(), |p| format!("Added provider {}.", p.name))}
            <ActionForm action=action attr:class="grid-form">
                <label>"Name" <input name="name" required/></label>
                <label>"Kind"
                    <select name="kind"><option value="anthropic">"anthropic"</option><option value="openai">"openai"</option></select>
                </label>
                <label>"Base URL" <input name="base_url" type="url" required/></label>
                <label>"Region" <input name="region" value=ANY_REGION/></label>
                <label>"Timeout (ms)" <input name="timeout_ms" type="number" value="60000"/></label>
                <label>"API key" <input name="api_key" type="password" autocomplete="off"/></label>
                <label>"…or environment variable" <input name="api_key_env" placeholder="e.g. ANTHROPIC_API_KEY"/></label>
                <button type="submit" class="primary">"Add provider"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn ModelForm(action: ServerAction<AddModel>, providers: Vec<String>) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Add model or deployment"</h2>
            <p class="muted">"Prices in US dollars per million tokens. Adding an existing model name with another provider adds a fallback deployment."</p>
            {move || outcome(action.value().get(), |m| format!("{} is served by {} {}.", m.name, m.deployments.len(), crate::domain::page::noun(m.deployments.len() as i64, "provider", "providers")))}
            <ActionForm action=action attr:class="grid-form">
                <label>"Model name" <input name="name" required/></label>
                <label>"Provider"
                    <select name="provider">
                        {providers.into_iter().map(|p| view! { <option value=p.clone()>{p.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Upstream model id" <input name="upstream_model" placeholder="same as name"/></label>
                <label>"Input $/MTok" <input name="input_price" required placeholder="3"/></label>
                <label>"Output $/MTok" <input name="output_price" required placeholder="15"/></label>
                <label>"Cache read $/MTok" <input name="cache_read_price" placeholder="0"/></label>
                <label>"Cache write $/MTok" <input name="cache_write_price" placeholder="0"/></label>
                <button type="submit" class="primary">"Save model"</button>
            </ActionForm>
        </section>
    }
}

/// Server-side tools (web search and fetch, run by the provider) are
/// refused until allowed here per model, with a bound on uses that hard
/// budgets hold.
#[component]
fn ServerToolsForm(action: ServerAction<SetServerTools>, models: Vec<String>) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Server-side tools"</h2>
            <p class="muted">"Web search and web fetch run on the provider and are billed per use on top of tokens. "
               "Allow them per model: at most this many uses per tool in a request (0 refuses them), each held as this many input tokens "
               "against hard budgets (web fetch is held to it with max_content_tokens). Price each use on the Billing page."</p>
            {move || outcome(action.value().get(), |(m, t)| if t.allowed() {
                format!("{m}: server-side tools allowed, at most {} uses per tool.", t.max_uses)
            } else {
                format!("{m}: server-side tools refused.")
            })}
            <ActionForm action=action attr:class="grid-form" attr:data-testid="server-tools-set">
                <label>"Model"
                    <select name="model">
                        {models.into_iter().map(|m| view! { <option value=m.clone()>{m.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Max uses per tool" <input name="max_uses" type="number" min="0" max="100" required value="0"/></label>
                <label>"Tokens held per use" <input name="tokens_per_use" type="number" min="0" placeholder="20000"/></label>
                <button type="submit" class="primary">"Save"</button>
            </ActionForm>
        </section>
    }
}
