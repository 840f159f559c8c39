//! `atrium key …`: API keys, shown once at creation.

use clap::Subcommand;

use crate::domain::time::{format_opt, rfc3339};
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
