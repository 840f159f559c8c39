//! Subcommands of the `atrium` binary: thin adapters over the services,
//! printing JSON with `--json` and a short table otherwise.

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::domain::role::Role;
use crate::domain::tenant::{
    IsolationLevel, TenantSettings, TenantStatus, DEFAULT_REGION, DEFAULT_RPM, DEFAULT_TPM,
};
use crate::domain::time::{format_opt, rfc3339};

use super::config::Config;
use super::http::serve::{self, ServeError};
use super::services::users::NewUser;
use super::services::{api_keys, tenant_data, tenants, users, Actor, ServiceError, Services};

#[derive(Parser, Debug)]
#[command(
    name = "atrium",
    version,
    about = "Multi-tenant AI gateway and admin portal"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the portal and the completion API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Manage portal users.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage upstream providers.
    #[command(subcommand)]
    Provider(ProviderCmd),
    /// Manage the model catalog (the price table) and tenant aliases.
    #[command(subcommand)]
    Model(ModelCmd),
    /// Usage reports from the ledger.
    #[command(subcommand)]
    Usage(UsageCmd),
    /// Run a local provider speaking the Anthropic and OpenAI APIs (for tests and demos).
    MockUpstream(crate::server::mock_upstream::MockOptions),
    /// Generate load against an endpoint and print latency and throughput as JSON (`make bench`).
    Loadgen(crate::server::loadgen::LoadOptions),
    /// Data policies: what happens to prompts with PII or secrets.
    #[command(subcommand)]
    Policy(crate::server::cli_governance::PolicyCmd),
    /// The audit trail: verify its hash chains, export, retention.
    #[command(subcommand)]
    Audit(crate::server::cli_governance::AuditCmd),
    /// Find PII and secrets in text (no database needed).
    #[command(subcommand)]
    Pii(crate::server::pii_cli::PiiCmd),
    /// Provision, write to and erase many tenants at one level; prints JSON (`make bench`).
    #[command(hide = true)]
    StoreBench(crate::server::store_bench::StoreBenchOptions),
}

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
    /// Point a tenant's alias at a catalog model.
    Alias {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        alias: String,
        #[arg(long)]
        model: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum UsageCmd {
    /// Requests, tokens and cost for a tenant, by model.
    Report {
        #[arg(long)]
        tenant: String,
        /// RFC 3339 start (inclusive).
        #[arg(long)]
        from: Option<String>,
        /// RFC 3339 end (exclusive).
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantCmd {
    /// Create a tenant.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "row_level")]
        isolation: IsolationLevel,
        #[arg(long, default_value = DEFAULT_REGION)]
        data_location: String,
        #[arg(long, default_value_t = DEFAULT_RPM)]
        rpm: i64,
        #[arg(long, default_value_t = DEFAULT_TPM)]
        tpm: i64,
        #[arg(long)]
        json: bool,
    },
    /// List tenants.
    List {
        #[arg(long, default_value = "")]
        search: String,
        #[arg(long)]
        json: bool,
    },
    /// Suspend a tenant: its keys stop working at once.
    Suspend { tenant: String },
    /// Resume a suspended tenant.
    Resume { tenant: String },
    /// Delete a tenant and everything it owns; its data is erased at every level.
    Delete {
        tenant: String,
        /// Required: deletion cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// Move a tenant's data to another isolation level while it keeps serving.
    SetIsolation {
        tenant: String,
        level: IsolationLevel,
        #[arg(long)]
        json: bool,
    },
    /// Where a tenant's data lives, its size and row counts.
    Data {
        tenant: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Create a key; the full key is printed once.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        expires_in_days: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// List a tenant's keys.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id; it stops working at once.
    Revoke {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Create a portal user; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        tenant: Option<String>,
        /// Read the password from stdin (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// List portal users.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("{0}")]
    Service(#[from] ServiceError),
    #[error("{0}")]
    Usage(String),
    /// The command ran and reported its own failure.
    #[error("failed")]
    Failed,
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.config);
    match dispatch(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let CliError::Service(ServiceError::Db(inner)) = &e {
                tracing::error!(error = %inner, "database error");
            }
            if !matches!(e, CliError::Failed) {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn dispatch(cli: Cli) -> Result<(), CliError> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Ok(serve::run(config).await?),
        Command::Migrate => {
            let svc = serve::open(config).await?;
            println!("migrations applied ({})", svc.db.backend.as_str());
            Ok(())
        }
        Command::Tenant(cmd) => tenant(&serve::open(config).await?, cmd).await,
        Command::Key(cmd) => key(&serve::open(config).await?, cmd).await,
        Command::User(cmd) => user(&serve::open(config).await?, cmd).await,
        Command::Provider(cmd) => provider(&serve::open(config).await?, cmd).await,
        Command::Model(cmd) => model(&serve::open(config).await?, cmd).await,
        Command::Usage(cmd) => usage(&serve::open(config).await?, cmd).await,
        Command::Policy(cmd) => {
            let svc = serve::open(config).await?;
            Ok(crate::server::cli_governance::policy(&svc, cmd).await?)
        }
        Command::Audit(cmd) => {
            let svc = serve::open(config).await?;
            if crate::server::cli_governance::audit_cmd(&svc, cmd).await? {
                Ok(())
            } else {
                Err(CliError::Failed)
            }
        }
        Command::Pii(cmd) => crate::server::pii_cli::run(cmd).map_err(CliError::Usage),
        Command::StoreBench(opts) => {
            let svc = serve::open(config).await?;
            print_json(&crate::server::store_bench::run(&svc, opts).await?);
            Ok(())
        }
        Command::Loadgen(opts) => {
            print_json(&crate::server::loadgen::run(opts).await);
            Ok(())
        }
        Command::MockUpstream(opts) => crate::server::mock_upstream::run(opts)
            .await
            .map_err(|e| CliError::Usage(format!("mock upstream: {e}"))),
    }
}

pub(crate) fn actor() -> Actor {
    Actor::system("cli")
}

pub(crate) fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot encode output: {e}"),
    }
}

async fn tenant(svc: &Services, cmd: TenantCmd) -> Result<(), CliError> {
    let actor = actor();
    match cmd {
        TenantCmd::Create {
            name,
            isolation,
            data_location,
            rpm,
            tpm,
            json,
        } => {
            let settings = TenantSettings::new(&name, isolation, &data_location, rpm, tpm)
                .map_err(ServiceError::from)?;
            let t = tenants::create(svc, &actor, settings).await?;
            if json {
                print_json(&t);
            } else {
                println!("created tenant {} ({})", t.name, t.id);
            }
        }
        TenantCmd::List { search, json } => {
            let mut all = Vec::new();
            let mut page = 1;
            loop {
                let req = crate::domain::page::PageRequest::new(Some(page), Some(200));
                let p = tenants::list(svc, &actor, &search, req).await?;
                let more = p.has_next();
                all.extend(p.items);
                if !more {
                    break;
                }
                page += 1;
            }
            if json {
                print_json(&all);
            } else {
                for t in all {
                    println!(
                        "{}  {:<24} {:<10} {:<20} rpm={} tpm={}",
                        t.id,
                        t.name,
                        t.status.as_str(),
                        t.isolation.as_str(),
                        t.rpm_limit,
                        t.tpm_limit
                    );
                }
            }
        }
        TenantCmd::Suspend { tenant } => set_status(svc, &tenant, TenantStatus::Suspended).await?,
        TenantCmd::Resume { tenant } => set_status(svc, &tenant, TenantStatus::Active).await?,
        TenantCmd::Delete { tenant, yes } => {
            if !yes {
                return Err(CliError::Usage(
                    "deleting a tenant cannot be undone: add --yes".into(),
                ));
            }
            let t = tenants::find(svc, &actor, &tenant).await?;
            tenants::delete(svc, &actor, &t.id, &t.name).await?;
            println!("deleted tenant {} ({}) and erased its data", t.name, t.id);
        }
        TenantCmd::SetIsolation {
            tenant,
            level,
            json,
        } => {
            let t = tenants::find(svc, &actor, &tenant).await?;
            let report = tenant_data::set_isolation(svc, &actor, &t.id, level).await?;
            if json {
                print_json(&report);
            } else {
                println!(
                    "moved {} from {} to {}: {} rows copied and verified ({} in the new store)",
                    t.name,
                    report.from_location,
                    report.to_location,
                    report.rows_copied,
                    report.target_rows
                );
            }
        }
        TenantCmd::Data { tenant, json } => {
            let t = tenants::find(svc, &actor, &tenant).await?;
            let data = tenant_data::data(svc, &actor, &t.id).await?;
            if json {
                print_json(&data);
            } else {
                println!("{}: {} in {}", t.name, data.level.as_str(), data.location);
                if let Some(bytes) = data.bytes {
                    println!("size: {bytes} bytes");
                }
                for (table, rows) in data.rows {
                    println!("{table}: {rows} rows");
                }
            }
        }
    }
    Ok(())
}

async fn set_status(svc: &Services, tenant: &str, status: TenantStatus) -> Result<(), CliError> {
    let actor = actor();
    let t = tenants::find(svc, &actor, tenant).await?;
    let t = tenants::set_status(svc, &actor, &t.id, status).await?;
    println!("tenant {} is {}", t.name, t.status.as_str());
    Ok(())
}

async fn key(svc: &Services, cmd: KeyCmd) -> Result<(), CliError> {
    let actor = actor();
    match cmd {
        KeyCmd::Create {
            tenant,
            name,
            expires_in_days,
            json,
        } => {
            let t = tenants::find(svc, &actor, &tenant).await?;
            let created = api_keys::create(svc, &actor, &t.id, &name, expires_in_days).await?;
            if json {
                print_json(&serde_json::json!({
                    "id": created.api_key.id,
                    "key": created.key,
                    "tenant_id": created.api_key.tenant_id,
                    "name": created.api_key.name,
                    "prefix": created.api_key.prefix,
                    "created_at": rfc3339(created.api_key.created_at),
                    "expires_at": created.api_key.expires_at.map(rfc3339),
                }));
            } else {
                println!(
                    "key {} for tenant {} (shown once):\n{}",
                    created.api_key.id, t.name, created.key
                );
            }
        }
        KeyCmd::List { tenant, json } => {
            let t = tenants::find(svc, &actor, &tenant).await?;
            let keys = api_keys::list(svc, &actor, &t.id).await?;
            let now = crate::domain::time::now_millis();
            if json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "id": k.id, "name": k.name, "prefix": k.prefix,
                            "status": k.status(now).as_str(),
                            "created_at": rfc3339(k.created_at),
                            "last_used_at": k.last_used_at.map(rfc3339),
                            "expires_at": k.expires_at.map(rfc3339),
                            "revoked_at": k.revoked_at.map(rfc3339),
                        })
                    })
                    .collect();
                print_json(&rows);
            } else {
                for k in keys {
                    println!(
                        "{}  {:<20} {:<8} last used {}",
                        k.prefix,
                        k.name,
                        k.status(now).as_str(),
                        format_opt(k.last_used_at)
                    );
                }
            }
        }
        KeyCmd::Revoke { id, json } => {
            let k = api_keys::revoke(svc, &actor, &id).await?;
            if json {
                print_json(&k);
            } else {
                println!("revoked key {}", k.prefix);
            }
        }
    }
    Ok(())
}

async fn user(svc: &Services, cmd: UserCmd) -> Result<(), CliError> {
    let actor = actor();
    match cmd {
        UserCmd::Create {
            email,
            role,
            tenant,
            password_stdin: _,
            json,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| CliError::Usage(format!("cannot read password from stdin: {e}")))?;
            let password = password.trim_end_matches(['\r', '\n']);
            let tenant_id = match tenant {
                Some(t) => Some(tenants::find(svc, &actor, &t).await?.id),
                None => None,
            };
            let new = NewUser {
                email: &email,
                password,
                role,
                tenant_id: tenant_id.as_deref(),
            };
            let u = users::create(svc, &actor, new).await?;
            if json {
                print_json(&u);
            } else {
                println!("created user {} ({}, {})", u.email, u.role, u.id);
            }
        }
        UserCmd::List { json } => {
            let p = users::list(
                svc,
                &actor,
                crate::domain::page::PageRequest::new(Some(1), Some(200)),
            )
            .await?;
            if json {
                print_json(&p.items);
            } else {
                for u in p.items {
                    println!(
                        "{:<32} {:<15} {}",
                        u.email,
                        u.role.as_str(),
                        u.tenant_name.unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(())
}

fn read_stdin_line(what: &str) -> Result<String, CliError> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::Usage(format!("cannot read {what} from stdin: {e}")))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

async fn provider(svc: &Services, cmd: ProviderCmd) -> Result<(), CliError> {
    use super::services::catalog::{self, Credential, NewProvider};
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

async fn model(svc: &Services, cmd: ModelCmd) -> Result<(), CliError> {
    use super::services::catalog::{self, NewModel};
    use crate::domain::pricing::{parse_usd, Price};
    let actor = actor();
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
                input_per_mtok: parse_usd("input_price_per_mtok", &input_price_per_mtok)
                    .map_err(ServiceError::from)?,
                output_per_mtok: parse_usd("output_price_per_mtok", &output_price_per_mtok)
                    .map_err(ServiceError::from)?,
                cache_read_per_mtok: parse_usd(
                    "cache_read_price_per_mtok",
                    &cache_read_price_per_mtok,
                )
                .map_err(ServiceError::from)?,
                cache_write_per_mtok: parse_usd(
                    "cache_write_price_per_mtok",
                    &cache_write_price_per_mtok,
                )
                .map_err(ServiceError::from)?,
            };
            let m = catalog::add_model(
                svc,
                &actor,
                NewModel {
                    name,
                    provider,
                    upstream_model,
                    price,
                    priority,
                },
            )
            .await?;
            if json {
                print_json(&m);
            } else {
                println!(
                    "model {} now served by {} provider(s)",
                    m.name,
                    m.deployments.len()
                );
            }
        }
        ModelCmd::List { json } => {
            let (_, models) = catalog::list(svc, &actor).await?;
            if json {
                print_json(&models);
            } else {
                for m in models {
                    let via: Vec<String> = m
                        .deployments
                        .iter()
                        .map(|d| format!("{}:{}", d.provider.name, d.upstream_model))
                        .collect();
                    println!(
                        "{:<32} in {} out {} via {}",
                        m.name,
                        crate::domain::pricing::format_usd(m.price.input_per_mtok),
                        crate::domain::pricing::format_usd(m.price.output_per_mtok),
                        via.join(", ")
                    );
                }
            }
        }
        ModelCmd::Alias {
            tenant,
            alias,
            model,
        } => {
            let t = tenants::find(svc, &actor, &tenant).await?;
            catalog::set_alias(svc, &actor, &t.id, &alias, &model).await?;
            println!("{} → {} for tenant {}", alias, model, t.name);
        }
    }
    Ok(())
}

async fn usage(svc: &Services, cmd: UsageCmd) -> Result<(), CliError> {
    use crate::domain::pricing::{format_usd, usd};
    use crate::domain::time::parse_rfc3339;
    let actor = actor();
    let UsageCmd::Report {
        tenant,
        from,
        to,
        json,
    } = cmd;
    let parse = |field: &str, v: Option<String>| -> Result<Option<i64>, CliError> {
        v.map(|s| {
            parse_rfc3339(&s).ok_or_else(|| {
                CliError::Usage(format!(
                    "--{field} must be RFC 3339, e.g. 2026-11-01T00:00:00Z"
                ))
            })
        })
        .transpose()
    };
    let (from, to) = (parse("from", from)?, parse("to", to)?);
    let t = tenants::find(svc, &actor, &tenant).await?;
    let r = super::services::usage::report(svc, &actor, &t.id, from, to).await?;
    let totals = |u: &crate::domain::usage::UsageTotals| {
        serde_json::json!({
            "requests": u.requests, "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
            "cache_read_tokens": u.cache_read_tokens, "cache_write_tokens": u.cache_write_tokens,
            "cost_usd": usd(u.cost_micros), "cost_micros": u.cost_micros, "errors": u.errors,
        })
    };
    if json {
        let mut out = totals(&r.totals);
        out["tenant_id"] = serde_json::json!(t.id);
        out["by_model"] = r
            .by_model
            .iter()
            .map(|(k, v)| (k.clone(), totals(v)))
            .collect();
        print_json(&out);
    } else {
        println!(
            "{}: {} requests, {} in / {} out tokens, {}",
            t.name,
            r.totals.requests,
            r.totals.input_tokens,
            r.totals.output_tokens,
            format_usd(r.totals.cost_micros)
        );
        for (m, u) in &r.by_model {
            println!(
                "  {:<32} {:>8} req {:>10} in {:>10} out {}",
                m,
                u.requests,
                u.input_tokens,
                u.output_tokens,
                format_usd(u.cost_micros)
            );
        }
    }
    Ok(())
}
