//! `atrium user …`: portal users; passwords only ever from stdin.

use clap::Subcommand;

use crate::domain::role::Role;
use crate::server::services::users::{self, NewUser};
use crate::server::services::{mfa, Services};

use super::{actor, print_json, read_stdin_line, CliError};

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Create a portal user; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        tenant: Option<String>,
        /// Read the password from stdin (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// List portal users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a user for good (audit events keep naming them `user:<id>`).
    Delete {
        email: String,
        #[arg(long)]
        yes: bool,
    },
    /// Disable a user who left, recording when they left (evidence checks
    /// their access ended within 24 hours).
    Leave {
        email: String,
        /// When they left (RFC 3339 or YYYY-MM-DD); now by default.
        #[arg(long)]
        left_at: Option<String>,
    },
    /// Multi-factor sign-in: reset a user's device, or require it per role.
    #[command(subcommand)]
    Mfa(MfaCmd),
}

#[derive(Subcommand, Debug)]
pub enum MfaCmd {
    /// Turn a user's MFA off (a lost device); they enrol again.
    Reset { email: String },
    /// Require MFA for a role (or stop requiring it with --off).
    Require {
        #[arg(long)]
        role: Role,
        #[arg(long)]
        off: bool,
    },
}

/// A user's id from their e-mail.
async fn by_email(svc: &Services, email: &str) -> Result<String, CliError> {
    users::id_by_email(svc, email)
        .await?
        .ok_or_else(|| CliError::Usage(format!("no user {email}")))
}

pub async fn run(svc: &Services, cmd: UserCmd) -> Result<(), CliError> {
    let actor = actor();
    match cmd {
        UserCmd::Create {
            email,
            role,
            tenant,
            password_stdin: _,
            json,
        } => {
            let password = read_stdin_line("the password")?;
            let password = password.as_str();
            let tenant_id = super::optional_tenant(svc, &actor, tenant).await?;
            let new = NewUser {
                email: &email,
                password,
                role,
                tenant_id: tenant_id.as_deref(),
            };
            let u = users::create(svc, &actor, new).await?;
            if json {
                print_json(&u);
            } else {
                println!("created user {} ({}, {})", u.email, u.role, u.id);
            }
        }
        UserCmd::Delete { email, yes } => {
            if !yes {
                return Err(CliError::Usage(
                    "deleting a user cannot be undone: add --yes".into(),
                ));
            }
            users::delete(svc, &actor, &by_email(svc, &email).await?).await?;
            println!("deleted user {email}");
        }
        UserCmd::Leave { email, left_at } => {
            let at = match left_at {
                Some(s) => crate::domain::time::parse_day_or_time(s.trim())
                    .ok_or_else(|| CliError::Usage("--left-at: a time or YYYY-MM-DD".into()))?,
                None => crate::domain::time::now_millis(),
            };
            users::mark_leaver(svc, &actor, &by_email(svc, &email).await?, at).await?;
            println!("{email} left; access ended now");
        }
        UserCmd::Mfa(MfaCmd::Reset { email }) => {
            mfa::reset(svc, &actor, &by_email(svc, &email).await?).await?;
            println!("MFA of {email} reset: they enrol again at their next sign-in");
        }
        UserCmd::Mfa(MfaCmd::Require { role, off }) => {
            mfa::require(svc, &actor, role, !off).await?;
            let state = if off {
                "no longer required"
            } else {
                "required"
            };
            println!("MFA is {state} for {}", role.as_str());
        }
        UserCmd::List { json } => {
            let p = users::list(
                svc,
                &actor,
                crate::domain::page::PageRequest::new(Some(1), Some(200)),
            )
            .await?;
            if json {
                print_json(&p.items);
            } else {
                for u in p.items {
                    println!(
                        "{:<32} {:<15} {}",
                        u.email,
                        u.role.as_str(),
                        u.tenant_name.unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(())
}
