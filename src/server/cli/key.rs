//! `atrium key …`: API keys, shown once at creation.

use clap::Subcommand;

use crate::domain::time::{format_opt, now_millis, rfc3339};
use crate::server::services::{api_keys, tenants, Services};

use super::{actor, print_json, CliError};

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

pub async fn run(svc: &Services, cmd: KeyCmd) -> Result<(), CliError> {
    match cmd {
        KeyCmd::Create {
            tenant,
            name,
            expires_in_days,
            json,
        } => create(svc, &tenant, &name, expires_in_days, json).await,
        KeyCmd::List { tenant, json } => list(svc, &tenant, json).await,
        KeyCmd::Revoke { id, json } => {
            let k = api_keys::revoke(svc, &actor(), &id).await?;
            if json {
                print_json(&k);
            } else {
                println!("revoked key {}", k.prefix);
            }
            Ok(())
        }
    }
}

/// Prints the full key: the only time anyone sees it.
async fn create(
    svc: &Services,
    tenant: &str,
    name: &str,
    expires_in_days: Option<i64>,
    json: bool,
) -> Result<(), CliError> {
    let t = tenants::find(svc, &actor(), tenant).await?;
    let created = api_keys::create(svc, &actor(), &t.id, name, expires_in_days).await?;
    let k = &created.api_key;
    if json {
        print_json(&serde_json::json!({
            "id": k.id,
            "key": created.key,
            "tenant_id": k.tenant_id,
            "name": k.name,
            "prefix": k.prefix,
            "created_at": rfc3339(k.created_at),
            "expires_at": k.expires_at.map(rfc3339),
        }));
    } else {
        println!(
            "key {} for tenant {} (shown once):\n{}",
            k.id, t.name, created.key
        );
    }
    Ok(())
}

async fn list(svc: &Services, tenant: &str, json: bool) -> Result<(), CliError> {
    let t = tenants::find(svc, &actor(), tenant).await?;
    let keys = api_keys::list(svc, &actor(), &t.id).await?;
    let now = now_millis();
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
        return Ok(());
    }
    for k in keys {
        let status = k.status(now).as_str();
        let used = format_opt(k.last_used_at);
        println!("{}  {:<20} {status:<8} last used {used}", k.prefix, k.name);
    }
    Ok(())
}
