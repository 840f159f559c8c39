//! `atrium plan …`: plans (base fee, included credit, markups, default
//! limits) and `atrium tenant set-plan` (which lives with the tenant
//! commands but runs here).

use clap::Subcommand;
use serde_json::json;

use crate::domain::budget::Enforcement;
use crate::domain::plan::{parse_markup, Plan, PlanBudget};
use crate::domain::pricing::{format_usd, parse_usd};
use crate::domain::time::rfc3339;
use crate::server::services::plans::{self, NewPlan};
use crate::server::services::{tenants, ServiceError, Services};

use super::{actor, print_json};

#[derive(Subcommand, Debug)]
pub enum PlanCmd {
    /// Create a plan. Money in dollars; --markup MODEL=PERCENT, repeatable
    /// (`*` for every other model; negative for a discount).
    Create(Box<CreateArgs>),
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop a plan taking new subscribers; tenants on it keep it.
    Archive {
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    #[arg(long)]
    name: String,
    #[arg(long, default_value = "0")]
    base_fee: String,
    #[arg(long, default_value = "0")]
    included_credit: String,
    #[arg(long = "markup")]
    markups: Vec<String>,
    #[arg(long)]
    rpm: Option<i64>,
    #[arg(long)]
    tpm: Option<i64>,
    /// A monthly budget each tenant on the plan gets (hard, or soft
    /// with --budget-soft).
    #[arg(long)]
    budget_usd: Option<String>,
    #[arg(long, requires = "budget_usd")]
    budget_soft: bool,
    /// Price of one GB of stored data for a month, sampled daily.
    #[arg(long, default_value = "0")]
    storage_gb_month: String,
    /// Price of one deployed custom model for a month, sampled daily.
    #[arg(long, default_value = "0")]
    custom_model_month: String,
    #[arg(long)]
    json: bool,
}

pub async fn run(svc: &Services, cmd: PlanCmd) -> Result<(), ServiceError> {
    match cmd {
        PlanCmd::Create(args) => {
            let CreateArgs {
                name,
                base_fee,
                included_credit,
                markups,
                rpm,
                tpm,
                budget_usd,
                budget_soft,
                storage_gb_month,
                custom_model_month,
                json,
            } = *args;
            let new = NewPlan {
                name,
                base_fee_micros: parse_usd("base_fee", &base_fee)?,
                included_credit_micros: parse_usd("included_credit", &included_credit)?,
                markup_percent: markups
                    .iter()
                    .map(|m| parse_markup(m))
                    .collect::<Result<_, _>>()?,
                rpm,
                tpm,
                monthly_budget: budget_usd
                    .map(|b| parse_usd("budget", &b))
                    .transpose()?
                    .map(|limit_micros| PlanBudget {
                        limit_micros,
                        enforcement: if budget_soft {
                            Enforcement::Soft
                        } else {
                            Enforcement::Hard
                        },
                    }),
                storage_gb_month_micros: parse_usd("storage_gb_month", &storage_gb_month)?,
                custom_model_month_micros: parse_usd("custom_model_month", &custom_model_month)?,
            };
            let plan = plans::create(svc, &actor(), new).await?;
            show(&[plan], json);
        }
        PlanCmd::List { json } => show(&plans::list(svc, &actor()).await?, json),
        PlanCmd::Archive { name, json } => {
            let plan = plans::archive(svc, &actor(), &name).await?;
            if json {
                super::print_json(&plan);
            } else {
                println!("plan {} archived: no new subscribers", plan.name);
            }
        }
    }
    Ok(())
}

fn show(list: &[Plan], json: bool) {
    if json {
        print_json(&list);
        return;
    }
    for p in list {
        println!(
            "{:<24} base {} credit {} markups {:?} storage {}/GB-month custom models {}/month",
            p.name,
            format_usd(p.base_fee_micros),
            format_usd(p.included_credit_micros),
            p.markup_percent,
            format_usd(p.storage_gb_month_micros),
            format_usd(p.custom_model_month_micros)
        );
    }
}

/// `atrium tenant set-plan TENANT PLAN`: the plan applies from now.
pub async fn set_plan(
    svc: &Services,
    tenant: &str,
    plan: &str,
    json: bool,
) -> Result<(), ServiceError> {
    let actor = actor();
    let t = tenants::find(svc, &actor, tenant).await?;
    let s = plans::subscribe(svc, &actor, &t.id, plan).await?;
    if json {
        print_json(&json!({ "tenant_id": s.tenant_id, "plan": s.plan.name,
            "effective_from": rfc3339(s.effective_from) }));
    } else {
        println!(
            "{} is on plan {} from {}",
            t.name,
            s.plan.name,
            rfc3339(s.effective_from)
        );
    }
    Ok(())
}
