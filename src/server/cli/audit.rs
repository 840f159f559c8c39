//! `atrium audit …`: verify the hash chains, export, retention and purge.

use std::io::Write;

use clap::Subcommand;
use futures::StreamExt;

use crate::domain::audit::ExportFormat;
use crate::domain::validation::Invalid;
use crate::server::services::{
    audit_anchor, audit_chain, audit_export, audit_retention, tenants, ServiceError, Services,
};

use super::{actor, print_json};

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Re-walk every hash chain; exits non-zero naming the first broken
    /// link. With `--anchor FILE…`, also prove every chain still passes
    /// through the last signed checkpoint in each FILE: give every
    /// replica's anchor file (or a directory holding them) to check a
    /// fleet's checkpoints together.
    Verify {
        #[arg(long)]
        json: bool,
        #[arg(long, num_args = 1..)]
        anchor: Vec<std::path::PathBuf>,
    },
    /// Write a signed checkpoint of the chain heads now, to
    /// `ATRIUM_AUDIT_ANCHOR` (or `--to file:///…` / `https://…`).
    Anchor {
        #[arg(long)]
        to: Option<String>,
    },
    /// Export a tenant's events, or the platform chain's with --platform
    /// (dates YYYY-MM-DD, inclusive), to stdout.
    Export {
        #[arg(long, required_unless_present = "platform")]
        tenant: Option<String>,
        #[arg(long, conflicts_with = "tenant")]
        platform: bool,
        #[arg(long, default_value = "")]
        from: String,
        #[arg(long, default_value = "")]
        to: String,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
    },
    /// Keep a tenant's audit events for N days (or --forever).
    Retention {
        #[arg(long)]
        tenant: String,
        #[arg(long, required_unless_present = "forever")]
        days: Option<i64>,
        #[arg(long, conflicts_with = "days")]
        forever: bool,
    },
    /// Purge events past each tenant's retention now (the server does this hourly).
    Purge,
    /// The Ed25519 public key that signs compliance reports, with its id.
    PublicKey,
    /// Seed events and time searches (`make bench`; use a scratch database).
    #[cfg(feature = "devtools")]
    #[command(hide = true)]
    Bench {
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
    },
}

/// Returns whether every chain verified (the caller sets the exit code).
pub async fn run(svc: &Services, cmd: AuditCmd) -> Result<bool, ServiceError> {
    let actor = actor();
    match cmd {
        AuditCmd::Verify { json, anchor } => return verify(svc, json, anchor).await,
        AuditCmd::PublicKey => {
            let (key_id, public_key) = svc.secrets.reports().public_key();
            print_json(
                &serde_json::json!({ "algorithm": "Ed25519", "key_id": key_id,
                                            "public_key": public_key }),
            );
        }
        AuditCmd::Anchor { to } => {
            let Some(sink) = to.or_else(|| svc.config.audit_anchor.clone()) else {
                return Err(Invalid::new("to", "set ATRIUM_AUDIT_ANCHOR or pass --to").into());
            };
            let cp = audit_anchor::checkpoint(svc).await?;
            audit_anchor::write(svc, &sink, &cp).await?;
            println!("checkpoint of {} chains written to {sink}", cp.heads.len());
        }
        AuditCmd::Export {
            tenant,
            platform: _,
            from,
            to,
            format,
        } => {
            let t = super::optional_tenant(svc, &actor, tenant).await?;
            let mut stream =
                audit_export::export(svc, &actor, t.as_ref(), &from, &to, format).await?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            while let Some(chunk) = stream.next().await {
                out.write_all(chunk?.as_bytes())
                    .map_err(|e| ServiceError::Internal(format!("writing the export: {e}")))?;
            }
            out.flush()
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
        }
        AuditCmd::Retention {
            tenant,
            days,
            forever,
        } => {
            let t = tenants::find(svc, &actor, &tenant).await?;
            let days = if forever { None } else { days };
            let t = tenants::set_audit_retention(svc, &actor, &t.id, days).await?;
            match t.audit_retention_days {
                Some(d) => println!("{} keeps audit events for {d} days", t.name),
                None => println!("{} keeps audit events forever", t.name),
            }
        }
        #[cfg(feature = "devtools")]
        AuditCmd::Bench { events } => {
            print_json(&crate::server::devtools::audit_bench::run(svc, events).await?);
        }
        AuditCmd::Purge => {
            let n = audit_retention::purge_expired(svc).await?;
            println!("purged {n} audit events past retention");
        }
    }
    Ok(true)
}

/// Every chain, then (with an anchor file) the last checkpoint; whether all held.
async fn verify(
    svc: &Services,
    json: bool,
    anchor: Vec<std::path::PathBuf>,
) -> Result<bool, ServiceError> {
    let checks = audit_chain::verify(svc).await?;
    let mut ok = checks.iter().all(|c| c.broken.is_none());
    let against = match anchor.is_empty() {
        false => Some(audit_anchor::verify_files(svc, &anchor).await?),
        true => None,
    };
    ok &= against.as_ref().is_none_or(Vec::is_empty);
    if json {
        match &against {
            None => print_json(&checks),
            Some(p) => {
                print_json(&serde_json::json!({ "chains": checks, "checkpoint_problems": p }))
            }
        }
    } else {
        for c in &checks {
            match &c.broken {
                None => println!("ok      {:<38} {} events", c.chain, c.events),
                Some(why) => println!("BROKEN  {:<38} {why}", c.chain),
            }
            for note in &c.notes {
                println!("NOTE    {:<38} {note}", c.chain);
            }
        }
        match &against {
            Some(p) if p.is_empty() => {
                println!("ok      every chain extends the last checkpoint of each anchor")
            }
            Some(p) => p
                .iter()
                .for_each(|why| println!("BROKEN  checkpoint: {why}")),
            None => {}
        }
    }
    if !ok {
        eprintln!("audit chain verification failed");
    }
    Ok(ok)
}
