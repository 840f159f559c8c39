//! `atrium user …`: portal users; passwords only ever from stdin.

use clap::Subcommand;

use crate::domain::role::Role;
use crate::server::services::users::{self, NewUser};
use crate::server::services::{tenants, Services};

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
            let tenant_id = match tenant {
                Some(t) => Some(tenants::find(svc, &actor, &t).await?.id),
                None => None,
            };
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
