//! Subcommands of the `atrium` binary: thin adapters over the services,
//! one file per command group, printing JSON with `--json` and a short
//! table otherwise.

pub mod access_review;
pub mod admin_token;
pub mod audit;
pub mod breach;
pub mod budget;
pub mod catalog;
pub mod compliance;
pub mod custom_model;
pub mod flag;
pub mod invoice;
pub mod key;
pub mod pii;
pub mod plan;
pub mod policy;
pub mod price;
pub mod replica;
pub mod tenant;
pub mod usage;
pub mod user;

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

use super::config::{Config, LogFormat};
use super::runtime::{self, ServeError};
use super::services::{tenants, Actor, ServiceError, Services};
use crate::domain::tenant::TenantId;

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
    Tenant(tenant::TenantCmd),
    /// Manage API keys.
    #[command(subcommand)]
    Key(key::KeyCmd),
    /// Manage tokens for the admin REST API (/admin/v1).
    #[command(subcommand)]
    AdminToken(admin_token::AdminTokenCmd),
    /// Manage portal users.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Manage upstream providers.
    #[command(subcommand)]
    Provider(catalog::ProviderCmd),
    /// Manage the model catalog (the price table) and tenant aliases.
    #[command(subcommand)]
    Model(catalog::ModelCmd),
    /// Plans: base fee, included credit, markups, default limits.
    #[command(subcommand)]
    Plan(plan::PlanCmd),
    /// Budgets: hard (refuse) or soft (alert) spending limits.
    #[command(subcommand)]
    Budget(budget::BudgetCmd),
    /// Monthly invoices: drafts, issuing, CSV and JSON.
    #[command(subcommand)]
    Invoice(invoice::InvoiceCmd),
    /// Model prices with history (`price set` schedules a new version).
    #[command(subcommand)]
    Price(price::PriceCmd),
    /// Usage reports from the ledger.
    #[command(subcommand)]
    Usage(usage::UsageCmd),
    /// Data policies: what happens to prompts with PII or secrets.
    #[command(subcommand)]
    Policy(policy::PolicyCmd),
    /// Feature flags: platform capabilities per tenant, and tenants' own flags.
    #[command(subcommand)]
    Flag(flag::FlagCmd),
    /// Tenants' custom (LoRA) models: register, validate, deploy, roll back, retire.
    #[command(subcommand)]
    CustomModel(custom_model::CustomModelCmd),
    /// Serving pools of vLLM-compatible engines for custom models.
    #[command(subcommand)]
    Pool(custom_model::PoolCmd),
    /// The audit trail: verify its hash chains, export, retention.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Access reviews: attest each user and key as still needed, or revoke it.
    #[command(subcommand)]
    AccessReview(access_review::AccessReviewCmd),
    /// The replicas serving this database and the periodic jobs they share.
    #[command(subcommand)]
    Replica(replica::ReplicaCmd),
    /// The breach register (GDPR Art. 33 and 34).
    #[command(subcommand)]
    Breach(breach::BreachCmd),
    /// Compliance evidence: signed reports, erasure with receipts.
    #[command(subcommand)]
    Compliance(compliance::ComplianceCmd),
    /// Find PII and secrets in text (no database needed).
    #[command(subcommand)]
    Pii(pii::PiiCmd),
    /// Run a local provider speaking the Anthropic and OpenAI APIs (for tests and demos).
    #[cfg(feature = "devtools")]
    MockUpstream(super::devtools::mock_upstream::MockOptions),
    /// Generate load against an endpoint and print latency and throughput as JSON (`make bench`).
    #[cfg(feature = "devtools")]
    Loadgen(super::devtools::loadgen::LoadOptions),
    /// Provision, write to and erase many tenants at one level; prints JSON (`make bench`).
    #[cfg(feature = "devtools")]
    #[command(hide = true)]
    StoreBench(super::devtools::store_bench::StoreBenchOptions),
    /// In-process flag evaluations per second on one thread (`make bench`).
    #[cfg(feature = "devtools")]
    #[command(hide = true)]
    FlagBench(super::devtools::flag_bench::FlagBenchOptions),
    /// Fills a tenant's ledger with synthetic events (`make bench`).
    #[cfg(feature = "devtools")]
    #[command(hide = true)]
    SeedUsage(super::devtools::usage_bench::SeedOptions),
    /// Report generation and subject lookup over many log rows (`make bench`).
    #[cfg(feature = "devtools")]
    #[command(hide = true)]
    ComplianceBench(super::devtools::compliance_bench::ComplianceBenchOptions),
    /// Server time of the usage dashboards, p50/p95 (`make bench`).
    #[cfg(feature = "devtools")]
    #[command(hide = true)]
    DashboardBench(super::devtools::usage_bench::DashboardBenchOptions),
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
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

/// The process entry point: a multi-thread runtime running [`run`]. It is
/// here, not in `main.rs`, so the state machines of every command's async
/// code are compiled in this crate once rather than again in the binary's
/// (a cold release build spent over a minute on the binary crate alone).
pub fn main() -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
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
    let installed = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if let Err(e) = installed {
        eprintln!("warning: logging was already set up: {e}");
    }
}

async fn dispatch(cli: Cli) -> Result<(), CliError> {
    let config = cli.config;
    let command = cli.command.unwrap_or(Command::Serve);
    // Commands that need no database.
    match command {
        Command::Serve => return Ok(runtime::run(config).await?),
        Command::Pii(cmd) => return pii::run(cmd).map_err(CliError::Usage),
        #[cfg(feature = "devtools")]
        Command::Loadgen(opts) => {
            print_json(&super::devtools::loadgen::run(opts).await);
            return Ok(());
        }
        #[cfg(feature = "devtools")]
        Command::FlagBench(opts) => {
            return super::devtools::flag_bench::run(opts).map_err(CliError::Usage)
        }
        #[cfg(feature = "devtools")]
        Command::MockUpstream(opts) => {
            return super::devtools::mock_upstream::run(opts)
                .await
                .map_err(|e| CliError::Usage(format!("mock upstream: {e}")))
        }
        _ => {}
    }
    let svc = runtime::open(config).await?;
    on_database(&svc, command).await
}

async fn on_database(svc: &Services, command: Command) -> Result<(), CliError> {
    match command {
        Command::Migrate => {
            println!("migrations applied ({})", svc.db.backend.as_str());
            Ok(())
        }
        Command::Tenant(cmd) => tenant::run(svc, cmd).await,
        Command::Key(cmd) => key::run(svc, cmd).await,
        Command::AdminToken(cmd) => admin_token::run(svc, cmd).await,
        Command::User(cmd) => user::run(svc, cmd).await,
        Command::Provider(cmd) => catalog::provider(svc, cmd).await,
        Command::Model(cmd) => catalog::model(svc, cmd).await,
        Command::Plan(cmd) => Ok(plan::run(svc, cmd).await?),
        Command::Budget(cmd) => Ok(budget::run(svc, cmd).await?),
        Command::Invoice(cmd) => Ok(invoice::run(svc, cmd).await?),
        Command::Price(cmd) => Ok(price::run(svc, cmd).await?),
        Command::Usage(cmd) => usage::run(svc, cmd).await,
        Command::Policy(cmd) => Ok(policy::run(svc, cmd).await?),
        Command::Flag(cmd) => Ok(flag::run(svc, cmd).await?),
        Command::CustomModel(cmd) => Ok(custom_model::run(svc, cmd).await?),
        Command::Pool(cmd) => Ok(custom_model::pool(svc, cmd).await?),
        Command::Compliance(cmd) => compliance::run(svc, cmd).await,
        Command::Breach(cmd) => breach::run(svc, cmd).await,
        Command::Replica(cmd) => replica::run(svc, cmd).await,
        Command::AccessReview(cmd) => access_review::run(svc, cmd).await,
        Command::Audit(cmd) => match audit::run(svc, cmd).await? {
            true => Ok(()),
            false => Err(CliError::Failed),
        },
        #[cfg(feature = "devtools")]
        Command::StoreBench(opts) => {
            print_json(&super::devtools::store_bench::run(svc, opts).await?);
            Ok(())
        }
        #[cfg(feature = "devtools")]
        Command::SeedUsage(opts) => {
            print_json(&super::devtools::usage_bench::seed(svc, opts).await?);
            Ok(())
        }
        #[cfg(feature = "devtools")]
        Command::ComplianceBench(opts) => {
            print_json(&super::devtools::compliance_bench::run(svc, opts).await?);
            Ok(())
        }
        #[cfg(feature = "devtools")]
        Command::DashboardBench(opts) => {
            print_json(&super::devtools::usage_bench::dashboards(svc, opts).await?);
            Ok(())
        }
        // Handled before the database was opened.
        other => Err(CliError::Usage(format!("{other:?} needs no database"))),
    }
}

/// The operator at the command line: full access, named `cli` in the audit trail.
pub(crate) fn actor() -> Actor {
    Actor::system(&cli_name())
}

/// `cli:alice@ops-1`: the operating-system user and host, so a change
/// made at the command line names who made it. Both are bounded and kept
/// to plain characters, as they come from the environment.
fn cli_name() -> String {
    let clean = |s: &str| -> String {
        s.trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .take(64)
            .collect()
    };
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .map(|u| clean(&u))
        .unwrap_or_default();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .map(|h| clean(&h))
        .unwrap_or_default();
    let or = |s: String, d: &str| if s.is_empty() { d.to_string() } else { s };
    format!("cli:{}@{}", or(user, "unknown"), or(host, "localhost"))
}

/// The tenant a command names, by name or id; `None` when it names none.
pub(crate) async fn optional_tenant(
    svc: &Services,
    actor: &Actor,
    tenant: Option<String>,
) -> Result<Option<TenantId>, ServiceError> {
    match tenant {
        Some(t) => Ok(Some(tenants::find(svc, actor, &t).await?.id)),
        None => Ok(None),
    }
}

pub(crate) fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot encode output: {e}"),
    }
}

/// Standard input without its trailing newline: passwords and API keys
/// never go on the command line.
pub(crate) fn read_stdin_line(what: &str) -> Result<String, CliError> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::Usage(format!("cannot read {what} from stdin: {e}")))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}
