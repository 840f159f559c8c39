//! `atrium access-review …`: attest each user and key as still needed, or revoke it.

use clap::Subcommand;

use crate::domain::access_review::{Decision, SubjectKind};
use crate::server::services::{access_reviews, Services};

use super::{actor, print_json, CliError};

#[derive(Subcommand, Debug)]
pub enum AccessReviewCmd {
    /// Start a review of a tenant's users and keys (or the platform's admins).
    Start {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Attest one item: keep, or revoke (disables the user, revokes the key).
    Attest {
        review: String,
        /// user or api_key
        #[arg(long)]
        kind: SubjectKind,
        #[arg(long)]
        id: String,
        #[arg(long)]
        decision: Decision,
    },
    /// Reviews, newest first, with what is still waiting.
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
}

pub async fn run(svc: &Services, cmd: AccessReviewCmd) -> Result<(), CliError> {
    let actor = actor();
    match cmd {
        AccessReviewCmd::Start { tenant } => {
            let t = super::optional_tenant(svc, &actor, tenant).await?;
            print_json(&access_reviews::start(svc, &actor, t.as_ref()).await?);
        }
        AccessReviewCmd::Attest {
            review,
            kind,
            id,
            decision,
        } => {
            let r = access_reviews::attest(svc, &actor, &review, (kind, &id), decision).await?;
            print_json(&r);
        }
        AccessReviewCmd::List { tenant } => {
            let t = super::optional_tenant(svc, &actor, tenant).await?;
            print_json(&access_reviews::list(svc, &actor, t.as_ref()).await?);
        }
    }
    Ok(())
}
