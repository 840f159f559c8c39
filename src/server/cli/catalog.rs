//! `atrium provider …` and `atrium model …`: the providers and the model
//! catalog (the price table) the gateway routes to.

use clap::Subcommand;

use crate::domain::catalog::ProviderPatch;
use crate::domain::completion::ServerTools;
use crate::domain::pricing::{format_usd, parse_usd, Price};
use crate::server::services::catalog::{self, Credential, NewModel, NewProvider};
use crate::server::services::{tenants, ServiceError, Services};

use super::{actor, print_json, read_stdin_line, CliError};

#[derive(Subcommand, Debug)]
pub enum ProviderCmd {
    /// Add a provider. Base URLs follow the vendor: `https://api.anthropic.com`
    /// for anthropic, `https://api.openai.com/v1` for openai (and any compatible server).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        kind: crate::domain::catalog::ProviderKind,
        #[arg(long)]
        base_url: String,
        /// Read the API key from this environment variable at call time.
        #[arg(long, conflicts_with = "api_key_stdin")]
        api_key_env: Option<String>,
        /// Read the API key from stdin; it is stored encrypted and never shown again.
        #[arg(long)]
        api_key_stdin: bool,
        /// Data location served; `any` serves every tenant.
        #[arg(long, default_value = "any")]
        region: String,
        #[arg(long, default_value_t = 60_000)]
        timeout_ms: i64,
        #[arg(long)]
        json: bool,
    },
    /// List providers (secrets are never shown).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a provider's address, region, timeout or key source.
    Update {
        #[arg(long)]
        name: String,
        #[arg(long)]
        base_url: Option<String>,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        timeout_ms: Option<i64>,
        #[arg(long, conflicts_with = "api_key_stdin")]
        api_key_env: Option<String>,
        /// Read a new API key from stdin (stored encrypted).
        #[arg(long)]
        api_key_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// Remove a provider no model is deployed on.
    Remove {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ModelCmd {
    /// Add a model, or another provider (deployment) for an existing one.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        provider: String,
        /// The provider's own model id; defaults to --name.
        #[arg(long)]
        upstream_model: Option<String>,
        #[arg(long)]
        input_price_per_mtok: String,
        #[arg(long)]
        output_price_per_mtok: String,
        #[arg(long, default_value = "0")]
        cache_read_price_per_mtok: String,
        #[arg(long, default_value = "0")]
        cache_write_price_per_mtok: String,
        /// Lower is tried first when a model has several providers.
        #[arg(long, default_value_t = 0)]
        priority: i64,
        #[arg(long)]
        json: bool,
    },
    /// List the catalog.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Allow a model's server-side tools (web search and fetch, run by the
    /// provider): at most --max-uses uses per tool in a request, each held
    /// as --tokens-per-use input tokens against hard budgets. --max-uses 0
    /// refuses them again (the default). Price each use with
    /// `price set --per-server-tool-use`.
    ServerTools {
        #[arg(long)]
        model: String,
        #[arg(long)]
        max_uses: i64,
        #[arg(long, default_value_t = 0)]
        tokens_per_use: i64,
        #[arg(long)]
        json: bool,
    },
    /// Point a tenant's alias at a catalog model.
    Alias {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        alias: String,
        #[arg(long)]
        model: String,
    },
    /// Remove a tenant's alias.
    Unalias {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        alias: String,
    },
    /// Remove a model (its deployments and prices) no alias or pool points at.
    Remove {
        #[arg(long)]
        name: String,
    },
}

pub async fn provider(svc: &Services, cmd: ProviderCmd) -> Result<(), CliError> {
    let actor = actor();
    match cmd {
        ProviderCmd::Add {
            name,
            kind,
            base_url,
            api_key_env,
            api_key_stdin,
            region,
            timeout_ms,
            json,
        } => {
            let credential = match (api_key_env, api_key_stdin) {
                (Some(var), _) => Credential::Env(var),
                (None, true) => Credential::Stored(read_stdin_line("the API key")?),
                (None, false) => Credential::None,
            };
            let new = NewProvider {
                name,
                kind,
                base_url,
                region,
                timeout_ms,
                credential,
            };
            let p = catalog::add_provider(svc, &actor, new).await?;
            if json {
                print_json(&p);
            } else {
                println!("added provider {} ({} at {})", p.name, p.kind, p.base_url);
            }
        }
        ProviderCmd::Update {
            name,
            base_url,
            region,
            timeout_ms,
            api_key_env,
            api_key_stdin,
            json,
        } => {
            let credential = match (api_key_env, api_key_stdin) {
                (Some(var), _) => Some(Credential::Env(var)),
                (None, true) => Some(Credential::Stored(read_stdin_line("the API key")?)),
                (None, false) => None,
            };
            let patch = ProviderPatch {
                base_url,
                region,
                timeout_ms,
                credential,
            };
            let p = catalog::update_provider(svc, &actor, &name, patch).await?;
            if json {
                print_json(&p);
            } else {
                println!(
                    "updated provider {} ({} region={})",
                    p.name, p.base_url, p.region
                );
            }
        }
        ProviderCmd::Remove { name } => {
            let p = catalog::remove_provider(svc, &actor, &name).await?;
            println!("removed provider {}", p.name);
        }
        ProviderCmd::List { json } => {
            let (providers, _) = catalog::list(svc, &actor).await?;
            if json {
                print_json(&providers);
            } else {
                for p in providers {
                    println!(
                        "{:<20} {:<10} {:<40} region={} key={}",
                        p.name,
                        p.kind.as_str(),
                        p.base_url,
                        p.region,
                        p.credential
                    );
                }
            }
        }
    }
    Ok(())
}

pub async fn model(svc: &Services, cmd: ModelCmd) -> Result<(), CliError> {
    match cmd {
        ModelCmd::Add {
            name,
            provider,
            upstream_model,
            input_price_per_mtok,
            output_price_per_mtok,
            cache_read_price_per_mtok,
            cache_write_price_per_mtok,
            priority,
            json,
        } => {
            let price = Price {
                input_per_mtok: usd("input_price_per_mtok", &input_price_per_mtok)?,
                output_per_mtok: usd("output_price_per_mtok", &output_price_per_mtok)?,
                cache_read_per_mtok: usd("cache_read_price_per_mtok", &cache_read_price_per_mtok)?,
                cache_write_per_mtok: usd(
                    "cache_write_price_per_mtok",
                    &cache_write_price_per_mtok,
                )?,
                // Per-request and per-use charges are a price version: `price set`.
                per_request: 0,
                per_server_tool_use: 0,
            };
            let new = NewModel {
                name,
                provider,
                upstream_model,
                price,
                priority,
            };
            let m = catalog::add_model(svc, &actor(), new).await?;
            if json {
                print_json(&m);
            } else {
                let n = m.deployments.len();
                println!("model {} now served by {n} provider(s)", m.name);
            }
        }
        ModelCmd::List { json } => list_models(svc, json).await?,
        ModelCmd::ServerTools {
            model,
            max_uses,
            tokens_per_use,
            json,
        } => {
            let tools = ServerTools::new(max_uses, tokens_per_use).map_err(ServiceError::from)?;
            let t = catalog::set_server_tools(svc, &actor(), &model, tools).await?;
            if json {
                print_json(&t);
            } else if t.allowed() {
                println!(
                    "{model}: server-side tools allowed, at most {} uses per tool, {} tokens held per use",
                    t.max_uses, t.tokens_per_use
                );
            } else {
                println!("{model}: server-side tools refused");
            }
        }
        ModelCmd::Alias {
            tenant,
            alias,
            model,
        } => {
            let t = tenants::find(svc, &actor(), &tenant).await?;
            catalog::set_alias(svc, &actor(), &t.id, &alias, &model).await?;
            println!("{} → {} for tenant {}", alias, model, t.name);
        }
        ModelCmd::Unalias { tenant, alias } => {
            let t = tenants::find(svc, &actor(), &tenant).await?;
            catalog::remove_alias(svc, &actor(), &t.id, &alias).await?;
            println!("removed alias {alias} of tenant {}", t.name);
        }
        ModelCmd::Remove { name } => {
            catalog::remove_model(svc, &actor(), &name).await?;
            println!("removed model {name}");
        }
    }
    Ok(())
}

/// A price typed in dollars, as micro-dollars.
fn usd(field: &'static str, raw: &str) -> Result<i64, CliError> {
    Ok(parse_usd(field, raw).map_err(ServiceError::from)?)
}

async fn list_models(svc: &Services, json: bool) -> Result<(), CliError> {
    let (_, models) = catalog::list(svc, &actor()).await?;
    if json {
        print_json(&models);
        return Ok(());
    }
    for m in models {
        let via: Vec<String> = m
            .deployments
            .iter()
            .map(|d| format!("{}:{}", d.provider.name, d.upstream_model))
            .collect();
        println!(
            "{:<32} in {} out {} via {}",
            m.name,
            format_usd(m.price.input_per_mtok),
            format_usd(m.price.output_per_mtok),
            via.join(", ")
        );
    }
    Ok(())
}
