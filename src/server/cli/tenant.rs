//! `atrium tenant …`: create, list, suspend, delete, move and inspect tenants.

use clap::Subcommand;

use crate::domain::page::{PageRequest, SortDir};
use crate::domain::request_log::{LogMode, LogSettings};
use crate::domain::tenant::{
    IsolationLevel, TenantSettings, TenantSort, TenantStatus, DEFAULT_REGION, DEFAULT_RPM,
    DEFAULT_TPM,
};
use crate::server::services::compliance::request_log;
use crate::server::services::{tenant_data, tenants, ServiceError, Services};

use super::{actor, print_json, CliError};

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
    /// Put a tenant on a plan from now on (the previous plan ends; a
    /// month's base fee is prorated by day).
    SetPlan {
        tenant: String,
        plan: String,
        #[arg(long)]
        json: bool,
    },
    /// The opt-in request log: full text after redaction, hashes only, or off.
    RequestLog {
        tenant: String,
        #[arg(long)]
        mode: LogMode,
        /// Purge rows older than this many days (kept forever without it).
        #[arg(long)]
        retention_days: Option<i64>,
    },
    /// The controller's contact and its DPO, named in the record of processing.
    Contacts {
        tenant: String,
        #[arg(long)]
        controller: Option<String>,
        #[arg(long)]
        dpo: Option<String>,
    },
    /// Where a tenant's data lives, its size and row counts.
    Data {
        tenant: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(svc: &Services, cmd: TenantCmd) -> Result<(), CliError> {
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
            let t = tenants::create(svc, &actor(), settings).await?;
            if json {
                print_json(&t);
            } else {
                println!("created tenant {} ({})", t.name, t.id);
            }
        }
        TenantCmd::List { search, json } => list(svc, &search, json).await?,
        TenantCmd::SetPlan { tenant, plan, json } => {
            super::plan::set_plan(svc, &tenant, &plan, json).await?
        }
        TenantCmd::Suspend { tenant } => set_status(svc, &tenant, TenantStatus::Suspended).await?,
        TenantCmd::Resume { tenant } => set_status(svc, &tenant, TenantStatus::Active).await?,
        TenantCmd::Delete { tenant, yes } => delete(svc, &tenant, yes).await?,
        TenantCmd::SetIsolation {
            tenant,
            level,
            json,
        } => set_isolation(svc, &tenant, level, json).await?,
        TenantCmd::Data { tenant, json } => data(svc, &tenant, json).await?,
        TenantCmd::RequestLog {
            tenant,
            mode,
            retention_days,
        } => {
            let settings = LogSettings::new(mode, retention_days).map_err(ServiceError::from)?;
            let t = tenants::find(svc, &actor(), &tenant).await?;
            let t = request_log::set(svc, &actor(), &t.id, settings).await?;
            let days = t
                .request_log
                .retention_days
                .map_or_else(|| "kept until erased".into(), |d| format!("{d} days"));
            println!("request log of {}: {} ({days})", t.name, t.request_log.mode);
        }
        TenantCmd::Contacts {
            tenant,
            controller,
            dpo,
        } => {
            let t = tenants::find(svc, &actor(), &tenant).await?;
            let (c, d) = (controller.as_deref(), dpo.as_deref());
            let t = request_log::set_contacts(svc, &actor(), &t.id, c, d).await?;
            println!("contacts of {} set", t.name);
        }
    }
    Ok(())
}

/// Every tenant, a page of 200 at a time.
async fn list(svc: &Services, search: &str, json: bool) -> Result<(), CliError> {
    let mut all = Vec::new();
    for page in 1.. {
        let req = PageRequest::new(Some(page), Some(200));
        let order = (TenantSort::Name, SortDir::Asc);
        let p = tenants::list(svc, &actor(), search, order, req).await?;
        let more = p.has_next();
        all.extend(p.items);
        if !more {
            break;
        }
    }
    if json {
        print_json(&all);
        return Ok(());
    }
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
    Ok(())
}

async fn delete(svc: &Services, tenant: &str, yes: bool) -> Result<(), CliError> {
    if !yes {
        return Err(CliError::Usage(
            "deleting a tenant cannot be undone: add --yes".into(),
        ));
    }
    let t = tenants::find(svc, &actor(), tenant).await?;
    tenants::delete(svc, &actor(), &t.id, &t.name).await?;
    println!("deleted tenant {} ({}) and erased its data", t.name, t.id);
    Ok(())
}

async fn set_isolation(
    svc: &Services,
    tenant: &str,
    level: IsolationLevel,
    json: bool,
) -> Result<(), CliError> {
    let t = tenants::find(svc, &actor(), tenant).await?;
    let report = tenant_data::set_isolation(svc, &actor(), &t.id, level).await?;
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
    Ok(())
}

async fn data(svc: &Services, tenant: &str, json: bool) -> Result<(), CliError> {
    let t = tenants::find(svc, &actor(), tenant).await?;
    let data = tenant_data::data(svc, &actor(), &t.id).await?;
    if json {
        print_json(&data);
        return Ok(());
    }
    println!("{}: {} in {}", t.name, data.level.as_str(), data.location);
    if let Some(bytes) = data.bytes {
        println!("size: {bytes} bytes");
    }
    for (table, rows) in data.rows {
        println!("{table}: {rows} rows");
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
