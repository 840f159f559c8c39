//! `atrium policy …` and `atrium audit …`: adapters over the policy and
//! audit services.

use std::io::Write;

use clap::Subcommand;
use futures::StreamExt;

use super::cli::{actor, print_json};
use crate::domain::audit::ExportFormat;
use crate::domain::policy::{Action, Direction, Target};
use crate::server::services::{audit, audit_chain, policies, tenants, ServiceError, Services};

#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Add a rule for a tenant (or, with --platform, the platform default).
    Add {
        #[arg(long, required_unless_present = "platform")]
        tenant: Option<String>,
        /// The platform default, for tenants without rules of their own.
        #[arg(long, conflicts_with = "tenant")]
        platform: bool,
        #[arg(long, required_unless_present = "classification")]
        entity: Option<String>,
        #[arg(long, conflicts_with = "entity")]
        classification: Option<String>,
        #[arg(long)]
        action: Action,
        #[arg(long, default_value = "prompt")]
        direction: Direction,
        #[arg(long)]
        json: bool,
    },
    /// List a tenant's rules (or the platform default's).
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a rule.
    Remove { id: String },
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Re-walk every hash chain; exits non-zero naming the first broken link.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Export a tenant's events (dates YYYY-MM-DD, inclusive) to stdout.
    Export {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "")]
        from: String,
        #[arg(long, default_value = "")]
        to: String,
        #[arg(long, default_value = "csv")]
        format: String,
    },
    /// Keep a tenant's audit events for N days (or --forever).
    Retention {
        #[arg(long)]
        tenant: String,
        #[arg(long, required_unless_present = "forever")]
        days: Option<i64>,
        #[arg(long, conflicts_with = "days")]
        forever: bool,
    },
    /// Purge events past each tenant's retention now (the server does this hourly).
    Purge,
    /// Seed events and time searches (`make bench`; use a scratch database).
    #[command(hide = true)]
    Bench {
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
    },
}

pub async fn policy(svc: &Services, cmd: PolicyCmd) -> Result<(), ServiceError> {
    let actor = actor();
    match cmd {
        PolicyCmd::Add {
            tenant,
            platform: _,
            entity,
            classification,
            action,
            direction,
            json,
        } => {
            let target = Target::parse(entity.as_deref(), classification.as_deref())?;
            let tenant_id = match tenant {
                Some(t) => Some(tenants::find(svc, &actor, &t).await?.id),
                None => None,
            };
            let rule =
                policies::add(svc, &actor, tenant_id.as_deref(), target, action, direction).await?;
            if json {
                print_json(&rule);
            } else {
                println!(
                    "added policy {}: {} → {} ({})",
                    rule.id,
                    rule.target,
                    rule.action,
                    rule.direction.as_str()
                );
            }
        }
        PolicyCmd::List { tenant, json } => {
            let tenant_id = match tenant {
                Some(t) => Some(tenants::find(svc, &actor, &t).await?.id),
                None => None,
            };
            let rules = policies::list(svc, &actor, tenant_id.as_deref()).await?;
            if json {
                print_json(&rules);
            } else {
                for r in rules {
                    println!(
                        "{}  {:<28} {:<7} {}",
                        r.id,
                        r.target.to_string(),
                        r.action.as_str(),
                        r.direction.as_str()
                    );
                }
            }
        }
        PolicyCmd::Remove { id } => {
            policies::remove(svc, &actor, &id).await?;
            println!("removed policy {id}");
        }
    }
    Ok(())
}

/// Returns whether every chain verified (the caller sets the exit code).
pub async fn audit_cmd(svc: &Services, cmd: AuditCmd) -> Result<bool, ServiceError> {
    let actor = actor();
    match cmd {
        AuditCmd::Verify { json } => {
            let checks = audit_chain::verify(svc).await?;
            let ok = checks.iter().all(|c| c.broken.is_none());
            if json {
                print_json(&checks);
            } else {
                for c in &checks {
                    match &c.broken {
                        None => println!("ok      {:<38} {} events", c.chain, c.events),
                        Some(why) => println!("BROKEN  {:<38} {why}", c.chain),
                    }
                }
            }
            if !ok {
                eprintln!("audit chain verification failed");
            }
            return Ok(ok);
        }
        AuditCmd::Export {
            tenant,
            from,
            to,
            format,
        } => {
            let format = ExportFormat::parse(&format).ok_or_else(|| {
                crate::domain::validation::Invalid::new("format", "must be csv or json")
            })?;
            let t = tenants::find(svc, &actor, &tenant).await?;
            let mut stream = audit::export(svc, &actor, &t.id, &from, &to, format).await?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            while let Some(chunk) = stream.next().await {
                out.write_all(chunk?.as_bytes())
                    .map_err(|e| ServiceError::Internal(format!("writing the export: {e}")))?;
            }
            out.flush()
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
        }
        AuditCmd::Retention {
            tenant,
            days,
            forever,
        } => {
            let t = tenants::find(svc, &actor, &tenant).await?;
            let days = if forever { None } else { days };
            let t = tenants::set_audit_retention(svc, &actor, &t.id, days).await?;
            match t.audit_retention_days {
                Some(d) => println!("{} keeps audit events for {d} days", t.name),
                None => println!("{} keeps audit events forever", t.name),
            }
        }
        AuditCmd::Bench { events } => {
            print_json(&crate::server::audit_bench::run(svc, events).await?);
        }
        AuditCmd::Purge => {
            let n = audit::purge_expired(svc).await?;
            println!("purged {n} audit events past retention");
        }
    }
    Ok(true)
}
