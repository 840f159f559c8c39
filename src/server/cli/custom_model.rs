//! `atrium custom-model …` (a tenant's LoRA adapters and their lifecycle)
//! and `atrium pool …` (vLLM-compatible serving pools).

use clap::Subcommand;

use crate::domain::custom_model::CustomModel;
use crate::domain::pricing::{parse_usd, Price};
use crate::domain::validation::Invalid;
use crate::server::services::custom_models::{self, lifecycle, pool_edit, pools, NewCustomModel};
use crate::server::services::{tenants, ServiceError, Services};

use super::{actor, print_json};

#[derive(Subcommand, Debug)]
pub enum CustomModelCmd {
    /// Register an adapter: a local PEFT directory inside the tenant's own
    /// folder of the adapter roots (ATRIUM_ADAPTER_ROOTS/<tenant id>/…),
    /// validated at once, or an s3:// or https:// URI under a prefix the
    /// operator allows the tenant (ATRIUM_ADAPTER_REMOTE_PREFIXES).
    Register(Box<RegisterArgs>),
    /// Validate a training or failed version again.
    Validate(Target),
    /// Load a version on every endpoint of its pool; its name then serves it.
    Deploy(Target),
    /// Take a version off the engines (it can be deployed again).
    Undeploy(Target),
    /// Switch the name back to the version it served before.
    Rollback(Target),
    /// Keep serving a version for a grace period, with a deprecation header.
    Deprecate {
        #[command(flatten)]
        target: Target,
        /// Hours until it stops being served (default 168, a week).
        #[arg(long)]
        grace_hours: Option<f64>,
    },
    /// End a version for good.
    Retire(Target),
    /// Never evict this version from a full pool (or --off to allow it).
    Pin {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        off: bool,
    },
    /// Every version of the tenant's custom models.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct Target {
    /// `NAME` (its active or newest version) or `NAME:VERSION`.
    model: String,
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub struct RegisterArgs {
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    base_model: String,
    #[arg(long)]
    adapter: String,
    #[arg(long)]
    version: Option<u32>,
    /// The fine-tuning job's settings, as a JSON object.
    #[arg(long)]
    config: Option<String>,
    /// Registered by a training job still running: validate later.
    #[arg(long)]
    training: bool,
    /// Own prices in dollars per million tokens (default: the base model's plus the markup).
    #[arg(long)]
    input_price_per_mtok: Option<String>,
    #[arg(long)]
    output_price_per_mtok: Option<String>,
    #[arg(long)]
    markup_percent: Option<i64>,
    /// A monthly hosting fee in dollars.
    #[arg(long)]
    hosting_fee: Option<String>,
    #[arg(long)]
    json: bool,
}

fn usd(field: &'static str, raw: Option<&String>) -> Result<Option<i64>, ServiceError> {
    Ok(raw.map(|r| parse_usd(field, r)).transpose()?)
}

pub async fn run(svc: &Services, cmd: CustomModelCmd) -> Result<(), ServiceError> {
    let a = actor();
    let (m, json) = match cmd {
        CustomModelCmd::Register(r) => {
            let t = tenants::find(svc, &a, &r.tenant).await?;
            let config = match &r.config {
                Some(c) => Some(
                    serde_json::from_str(c)
                        .map_err(|e| Invalid::new("config", format!("is not JSON: {e}")))?,
                ),
                None => None,
            };
            let new = NewCustomModel {
                tenant_id: t.id,
                name: r.name.clone(),
                base_model: r.base_model.clone(),
                adapter: r.adapter.clone(),
                version: r.version,
                fine_tune_config: config,
                training: r.training,
                input_per_mtok: usd("input_price_per_mtok", r.input_price_per_mtok.as_ref())?,
                output_per_mtok: usd("output_price_per_mtok", r.output_price_per_mtok.as_ref())?,
                markup_percent: r.markup_percent,
                hosting_fee_micros: usd("hosting_fee", r.hosting_fee.as_ref())?.unwrap_or(0),
            };
            (custom_models::register(svc, &a, new).await?, r.json)
        }
        CustomModelCmd::List { tenant, json } => {
            let t = tenants::find(svc, &a, &tenant).await?;
            let views = custom_models::views(svc, &a, &t.id).await?;
            if json {
                print_json(&views);
            } else {
                for v in views {
                    print_line(&v.model);
                }
            }
            return Ok(());
        }
        CustomModelCmd::Validate(t) => {
            let tenant = tenants::find(svc, &a, &t.tenant).await?.id;
            let m = custom_models::find(svc, &a, &tenant, &t.model).await?;
            (
                custom_models::validate(svc, &a, &tenant, &m.id).await?,
                t.json,
            )
        }
        CustomModelCmd::Deploy(t) => {
            let tenant = tenant_of(svc, &t).await?;
            (lifecycle::deploy(svc, &a, &tenant, &t.model).await?, t.json)
        }
        CustomModelCmd::Undeploy(t) => {
            let tenant = tenant_of(svc, &t).await?;
            (
                lifecycle::undeploy(svc, &a, &tenant, &t.model).await?,
                t.json,
            )
        }
        CustomModelCmd::Rollback(t) => {
            let tenant = tenant_of(svc, &t).await?;
            (
                lifecycle::rollback(svc, &a, &tenant, &t.model).await?,
                t.json,
            )
        }
        CustomModelCmd::Retire(t) => {
            let tenant = tenant_of(svc, &t).await?;
            (lifecycle::retire(svc, &a, &tenant, &t.model).await?, t.json)
        }
        CustomModelCmd::Deprecate {
            target,
            grace_hours,
        } => {
            let tenant = tenants::find(svc, &a, &target.tenant).await?.id;
            let grace = grace_hours.map(|h| (h * 3_600_000.0) as i64);
            let m = lifecycle::deprecate(svc, &a, &tenant, &target.model, grace).await?;
            (m, target.json)
        }
        CustomModelCmd::Pin { target, off } => {
            let tenant = tenants::find(svc, &a, &target.tenant).await?.id;
            let m = lifecycle::pin(svc, &a, &tenant, &target.model, !off).await?;
            (m, target.json)
        }
    };
    if json {
        print_json(&m);
    } else {
        print_line(&m);
    }
    Ok(())
}

async fn tenant_of(
    svc: &Services,
    t: &Target,
) -> Result<crate::domain::tenant::TenantId, ServiceError> {
    Ok(tenants::find(svc, &actor(), &t.tenant).await?.id)
}

fn print_line(m: &CustomModel) {
    let active = if m.active { " (active)" } else { "" };
    let reason = m.status_reason.as_deref().unwrap_or("");
    println!(
        "{:<24} v{:<3} {:<11}{active} base {} {}",
        m.name, m.version, m.status, m.base_model, reason
    );
}

#[derive(Subcommand, Debug)]
pub enum PoolCmd {
    /// Add a pool of vLLM-compatible endpoints for one base model (named as
    /// the engines list it); the base model joins the catalog.
    Add(Box<PoolArgs>),
    /// Another engine joins a pool; the reconciler loads the pool's adapters onto it.
    AddEndpoint {
        pool: String,
        #[arg(long)]
        endpoint: String,
        #[arg(long, default_value_t = 60_000)]
        timeout_ms: i64,
        #[arg(long)]
        json: bool,
    },
    /// Remove a pool (nothing of its base model may be deployed); its
    /// engines stay providers of the base model.
    Remove { pool: String },
    /// Pools with each endpoint's loaded adapters and drift, as this
    /// process last saw them (one reconcile pass runs first).
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct PoolArgs {
    #[arg(long)]
    name: String,
    #[arg(long)]
    base_model: String,
    /// An engine's base URL, repeatable.
    #[arg(long = "endpoint", required = true)]
    endpoints: Vec<String>,
    /// How many adapters each engine holds at once (vLLM's --max-loras,
    /// whose default is 1).
    #[arg(long, default_value_t = pools::DEFAULT_MAX_LORAS)]
    max_loras: i64,
    /// Where the engines are: a region code (tenants reach them under the
    /// data-location rule), or `any`.
    #[arg(long)]
    region: String,
    #[arg(long, default_value_t = 64)]
    max_lora_rank: i64,
    /// Another name adapters may give for the base model, repeatable.
    #[arg(long = "alias")]
    aliases: Vec<String>,
    #[arg(long, default_value = "0")]
    input_price_per_mtok: String,
    #[arg(long, default_value = "0")]
    output_price_per_mtok: String,
    #[arg(long, default_value_t = 60_000)]
    timeout_ms: i64,
    #[arg(long)]
    json: bool,
}

pub async fn pool(svc: &Services, cmd: PoolCmd) -> Result<(), ServiceError> {
    let a = actor();
    match cmd {
        PoolCmd::Add(p) => {
            let new = pools::NewPool {
                name: p.name.clone(),
                base_model: p.base_model.clone(),
                endpoints: p.endpoints.clone(),
                max_loras: p.max_loras,
                max_lora_rank: p.max_lora_rank,
                aliases: p.aliases.clone(),
                price: Price {
                    input_per_mtok: parse_usd("input_price_per_mtok", &p.input_price_per_mtok)?,
                    output_per_mtok: parse_usd("output_price_per_mtok", &p.output_price_per_mtok)?,
                    ..Price::default()
                },
                timeout_ms: p.timeout_ms,
                region: p.region.clone(),
            };
            let pool = pools::add(svc, &a, new).await?;
            if p.json {
                print_json(&pool);
            } else {
                println!(
                    "pool {} for {} with {} endpoints",
                    pool.name,
                    pool.base_model,
                    pool.endpoints.len()
                );
            }
        }
        PoolCmd::AddEndpoint {
            pool,
            endpoint,
            timeout_ms,
            json,
        } => {
            let p = pool_edit::add_endpoint(svc, &a, &pool, &endpoint, timeout_ms).await?;
            if json {
                print_json(&p);
            } else {
                println!("pool {} now has {} endpoints", p.name, p.endpoints.len());
            }
        }
        PoolCmd::Remove { pool } => {
            pool_edit::remove(svc, &a, &pool).await?;
            println!("pool {pool} removed");
        }
        PoolCmd::List { json } => {
            let view = custom_models::reconcile::overview(svc, &a, true).await?;
            if json {
                print_json(&view);
            } else {
                for e in view.endpoints {
                    let state = if e.reachable { "up" } else { "down" };
                    println!(
                        "{:<16} {:<32} {state:<5} {} loaded {}",
                        e.pool,
                        e.base_url,
                        e.loaded.len(),
                        e.error.unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(())
}
