//! `atrium invoice …`: a tenant's invoices: drafts live, issued ones as stored.

use clap::Subcommand;

use crate::domain::invoice::{Invoice, Month};
use crate::domain::pricing::format_money;
use crate::server::services::{invoices, tenants, ServiceError, Services};

use super::{actor, print_json};

#[derive(Subcommand, Debug)]
pub enum InvoiceCmd {
    /// Issued invoices, newest first, after the open months' drafts.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// One month's invoice (`--month 2026-11`) with its lines.
    Show {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        month: String,
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        #[arg(long)]
        csv: bool,
    },
    /// Issues a closed month's invoice (after the grace period); it never
    /// changes afterwards. Issuing again shows the issued invoice.
    Issue {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        month: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(svc: &Services, cmd: InvoiceCmd) -> Result<(), ServiceError> {
    let actor = actor();
    match cmd {
        InvoiceCmd::List { tenant, json } => {
            let t = tenants::find(svc, &actor, &tenant).await?;
            let list = invoices::list(svc, &actor, &t.id).await?;
            if json {
                print_json(&list);
            } else {
                for i in &list {
                    println!(
                        "{} {:<18} {:<7} {}",
                        i.month,
                        i.number.as_deref().unwrap_or("-"),
                        i.status.as_str(),
                        format_money(i.total_micros)
                    );
                }
            }
        }
        InvoiceCmd::Show {
            tenant,
            month,
            json,
            csv,
        } => {
            let t = tenants::find(svc, &actor, &tenant).await?;
            let inv = invoices::get(svc, &actor, &t.id, month.parse::<Month>()?).await?;
            show(&inv, json, csv);
        }
        InvoiceCmd::Issue {
            tenant,
            month,
            json,
        } => {
            let t = tenants::find(svc, &actor, &tenant).await?;
            let inv = invoices::issue(svc, &actor, &t.id, month.parse::<Month>()?).await?;
            show(&inv, json, false);
        }
    }
    Ok(())
}

fn show(inv: &Invoice, json: bool, csv: bool) {
    if json {
        print_json(inv);
        return;
    }
    if csv {
        print!("{}", inv.to_csv());
        return;
    }
    println!(
        "{} {} {} ({})",
        inv.tenant_name,
        inv.month,
        inv.number.as_deref().unwrap_or("draft"),
        inv.status.as_str()
    );
    for l in &inv.lines {
        println!(
            "  {:<80} {:>16}",
            l.description,
            format_money(l.amount_micros)
        );
    }
    println!("  {:<80} {:>16}", "Total", format_money(inv.total_micros));
}
