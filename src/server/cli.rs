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
use super::services::{api_keys, tenants, users, Actor, ServiceError, Services};

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
    /// Delete a tenant and everything it owns.
    Delete {
        tenant: String,
        /// Required: deletion cannot be undone.
        #[arg(long)]
        yes: bool,
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
            eprintln!("error: {e}");
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
    }
}

fn actor() -> Actor {
    Actor::system("cli")
}

fn print_json<T: Serialize>(value: &T) {
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
            println!("deleted tenant {} ({})", t.name, t.id);
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
