//! `atrium budget …`: spending limits for a tenant or one of its keys.

use clap::{Args, Subcommand};
use serde_json::json;

use crate::domain::budget::{BudgetStatus, Enforcement, Period};
use crate::domain::pricing::{format_money, parse_usd};
use crate::server::services::budgets::{self, BudgetSpec};
use crate::server::services::{tenants, ServiceError, Services};

use super::{actor, print_json};

#[derive(Subcommand, Debug)]
pub enum BudgetCmd {
    /// Create or replace a budget: --hard refuses requests that could cross
    /// it, --soft alerts at 50/80/100% (and POSTs to --webhook, signed).
    Set {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        limit_usd: String,
        /// `month` (calendar month, UTC) or a rolling number of days: `7d`.
        #[arg(long, default_value = "month")]
        period: String,
        #[arg(long)]
        webhook: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The tenant's budgets with their spend this period.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    Remove {
        #[command(flatten)]
        target: Target,
    },
}

/// Whose budget, and which kind.
#[derive(Args, Debug)]
pub struct Target {
    #[arg(long)]
    tenant: String,
    /// An API key's id or name: that key's budget instead of the tenant's.
    #[arg(long)]
    key: Option<String>,
    #[arg(long, conflicts_with = "soft", required_unless_present = "soft")]
    hard: bool,
    #[arg(long)]
    soft: bool,
}

impl Target {
    fn enforcement(&self) -> Enforcement {
        if self.hard {
            Enforcement::Hard
        } else {
            Enforcement::Soft
        }
    }
}

pub async fn run(svc: &Services, cmd: BudgetCmd) -> Result<(), ServiceError> {
    let actor = actor();
    match cmd {
        BudgetCmd::Set {
            target,
            limit_usd,
            period,
            webhook,
            json,
        } => {
            let spec = BudgetSpec {
                enforcement: target.enforcement(),
                tenant: target.tenant,
                api_key: target.key,
                limit_micros: parse_usd("limit", &limit_usd)?,
                period: period.parse::<Period>()?,
                webhook_url: webhook,
            };
            let set = budgets::set(svc, &actor, spec).await?;
            if json {
                print_json(&json!({ "budget": set.budget, "webhook_secret": set.webhook_secret }));
            } else {
                println!("{} set ({})", set.budget.describe(), set.budget.id);
                if let Some(secret) = set.webhook_secret {
                    println!("webhook signing secret (shown once): {secret}");
                }
            }
        }
        BudgetCmd::List { tenant, json } => {
            let t = tenants::find(svc, &actor, &tenant).await?;
            let list = budgets::status::of_tenant(svc, &actor, &t.id).await?;
            show(&list, json);
        }
        BudgetCmd::Remove { target } => {
            let enforcement = target.enforcement();
            let b = budgets::remove(
                svc,
                &actor,
                &target.tenant,
                target.key.as_deref(),
                enforcement,
            )
            .await?;
            println!("removed {}", b.describe());
        }
    }
    Ok(())
}

fn show(list: &[BudgetStatus], json: bool) {
    if json {
        print_json(&list);
        return;
    }
    for s in list {
        println!(
            "{:<70} spent {} ({}%)",
            s.budget.describe(),
            format_money(s.spent_micros),
            s.percent()
        );
    }
}
