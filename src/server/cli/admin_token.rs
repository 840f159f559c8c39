//! `atrium admin-token …`: tokens for the admin REST API, shown once.

use clap::Subcommand;

use crate::domain::admin_token::{NewAdminToken, Scope};
use crate::domain::cursor::CursorRequest;
use crate::domain::time::{format_opt, now_millis, rfc3339};
use crate::server::services::{admin_tokens, ServiceError, Services};

use super::{actor, print_json, CliError};

#[derive(Subcommand, Debug)]
pub enum AdminTokenCmd {
    /// Create a token; the full token is printed once.
    Create {
        /// platform:read, platform:write, tenant:read or tenant:write.
        #[arg(long)]
        scope: Scope,
        /// The tenant (id or name) of a tenant scope.
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, default_value = "admin token")]
        name: String,
        #[arg(long)]
        expires_in_days: Option<i64>,
        /// Requests per minute (default 600).
        #[arg(long)]
        rate_per_minute: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// List every token, oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id; it stops working at once.
    Revoke {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(svc: &Services, cmd: AdminTokenCmd) -> Result<(), CliError> {
    match cmd {
        AdminTokenCmd::Create {
            scope,
            tenant,
            name,
            expires_in_days,
            rate_per_minute,
            json,
        } => {
            let new = NewAdminToken {
                name,
                scope,
                tenant,
                expires_in_days,
                rate_per_minute,
            };
            let created = admin_tokens::create(svc, &actor(), new).await?;
            if json {
                print_json(&created);
            } else {
                let t = &created.admin_token;
                println!(
                    "admin token {} ({}), shown once:\n{}",
                    t.id, t.scope, created.token
                );
            }
            Ok(())
        }
        AdminTokenCmd::List { json } => list(svc, json).await,
        AdminTokenCmd::Revoke { id, json } => {
            let t = admin_tokens::revoke(svc, &actor(), &id).await?;
            if json {
                print_json(&t);
            } else {
                println!("revoked admin token {}", t.prefix);
            }
            Ok(())
        }
    }
}

async fn list(svc: &Services, json: bool) -> Result<(), CliError> {
    let mut all = Vec::new();
    let mut page = CursorRequest::first(200);
    loop {
        let got = admin_tokens::list(svc, &actor(), &page).await?;
        all.extend(got.data);
        match got.next_cursor {
            Some(c) => {
                page = CursorRequest::new(Some(200), Some(&c)).map_err(ServiceError::from)?
            }
            None => break,
        }
    }
    if json {
        print_json(&all);
        return Ok(());
    }
    let now = now_millis();
    println!(
        "{:<18} {:<15} {:<8} {:<24} LAST USED",
        "ID", "SCOPE", "STATUS", "CREATED"
    );
    for t in all {
        println!(
            "{:<18} {:<15} {:<8} {:<24} {}",
            t.id,
            t.scope.as_str(),
            format!("{:?}", t.status(now)).to_lowercase(),
            rfc3339(t.created_at),
            format_opt(t.last_used_at)
        );
    }
    Ok(())
}
