//! `atrium replica …`: the replicas serving this database and the periodic
//! jobs they share, for the operator.

use clap::Subcommand;

use crate::domain::time::format_millis;
use crate::server::services::{replicas, Services};

use super::{actor, print_json, CliError};

#[derive(Subcommand, Debug)]
pub enum ReplicaCmd {
    /// Every registered replica: live ones renewed their row within 15 s.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Which replica holds each periodic job, until when, and its runs.
    Jobs {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(svc: &Services, cmd: ReplicaCmd) -> Result<(), CliError> {
    let actor = actor();
    match cmd {
        ReplicaCmd::List { json } => {
            let fleet = replicas::list(svc, &actor).await?;
            if json {
                print_json(&fleet);
                return Ok(());
            }
            println!(
                "{:<38} {:<5} {:<22} {:<16} {:<6} SEEN",
                "ID", "LIVE", "ADDRESS", "HOST", "REDIS"
            );
            for r in fleet {
                println!(
                    "{:<38} {:<5} {:<22} {:<16} {:<6} {}",
                    r.id,
                    if r.live { "yes" } else { "no" },
                    r.addr,
                    r.host,
                    if r.redis { "yes" } else { "no" },
                    format_millis(r.seen_at)
                );
            }
        }
        ReplicaCmd::Jobs { json } => {
            let jobs = replicas::jobs(svc, &actor).await?;
            if json {
                print_json(&jobs);
                return Ok(());
            }
            println!(
                "{:<26} {:<38} {:>8} {:<25} LEASE UNTIL",
                "JOB", "HOLDER", "RUNS", "LAST RUN"
            );
            for j in jobs {
                println!(
                    "{:<26} {:<38} {:>8} {:<25} {}",
                    j.name,
                    j.holder,
                    j.runs,
                    j.last_run_at.map(format_millis).unwrap_or_default(),
                    format_millis(j.until_ms)
                );
            }
        }
    }
    Ok(())
}
