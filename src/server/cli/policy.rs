//! `atrium policy …`: data policies (what happens to prompts with PII).

use clap::Subcommand;

use crate::domain::policy::{Action, Direction, PolicyChange, Target};
use crate::server::services::{policies, ServiceError, Services};

use super::{actor, print_json};

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
    /// Change a rule in place (its id stays): target, action or direction.
    Update {
        id: String,
        #[arg(long, conflicts_with = "classification")]
        entity: Option<String>,
        #[arg(long)]
        classification: Option<String>,
        #[arg(long)]
        action: Option<Action>,
        #[arg(long)]
        direction: Option<Direction>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a rule.
    Remove { id: String },
}

pub async fn run(svc: &Services, cmd: PolicyCmd) -> Result<(), ServiceError> {
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
            let tenant_id = super::optional_tenant(svc, &actor, tenant).await?;
            let rule =
                policies::add(svc, &actor, tenant_id.as_ref(), target, action, direction).await?;
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
            let tenant_id = super::optional_tenant(svc, &actor, tenant).await?;
            let rules = policies::list(svc, &actor, tenant_id.as_ref()).await?;
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
        PolicyCmd::Update {
            id,
            entity,
            classification,
            action,
            direction,
            json,
        } => {
            let target = match (&entity, &classification) {
                (None, None) => None,
                _ => Some(Target::parse(entity.as_deref(), classification.as_deref())?),
            };
            let change = PolicyChange {
                target,
                action,
                direction,
            };
            let rule = policies::update(svc, &actor, &id, &change).await?;
            if json {
                print_json(&rule);
            } else {
                println!("policy {}: {} → {}", rule.id, rule.target, rule.action);
            }
        }
        PolicyCmd::Remove { id } => {
            policies::remove(svc, &actor, &id).await?;
            println!("removed policy {id}");
        }
    }
    Ok(())
}
