//! `atrium breach …`: the breach register (GDPR Art. 33 and 34).

use clap::Subcommand;

use crate::domain::breach::{Art34Decision, NewBreach};
use crate::domain::time::{now_millis, parse_day_or_time};
use crate::server::services::compliance::breaches::{self, Step};
use crate::server::services::{tenants, ServiceError, Services};

use super::{actor, print_json, CliError};

#[derive(Subcommand, Debug)]
pub enum BreachCmd {
    /// Record a breach (every breach, notified or not: Art. 33(5)).
    Record {
        /// The tenant it concerns; without it, the platform.
        #[arg(long)]
        tenant: Option<String>,
        /// When it was detected (RFC 3339 or YYYY-MM-DD); now by default.
        #[arg(long)]
        detected_at: Option<String>,
        #[arg(long)]
        nature: String,
        /// Categories of data concerned, comma separated.
        #[arg(long)]
        categories: String,
        #[arg(long)]
        subjects: i64,
        #[arg(long)]
        records: i64,
        #[arg(long)]
        consequences: String,
        #[arg(long)]
        measures: String,
        #[arg(long)]
        dpo: String,
    },
    /// Record the notification to the supervisory authority, the tenants
    /// informed, or the Art. 34 decision.
    Notify {
        id: String,
        /// When the authority was notified (RFC 3339); now by default.
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        reference: Option<String>,
        /// A tenant informed as controller (repeatable).
        #[arg(long)]
        inform_tenant: Vec<String>,
        /// notify_subjects or not_required, with --reason.
        #[arg(long, requires = "reason")]
        art34: Option<Art34Decision>,
        #[arg(long)]
        reason: Option<String>,
        /// Only the tenants or the Art. 34 decision: no notification yet.
        #[arg(long)]
        no_authority: bool,
    },
    /// The register, newest first, with each deadline.
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn time(field: &'static str, raw: Option<&str>) -> Result<i64, CliError> {
    match raw {
        None => Ok(now_millis()),
        Some(s) => parse_day_or_time(s.trim())
            .ok_or_else(|| CliError::Usage(format!("--{field}: a time (RFC 3339) or YYYY-MM-DD"))),
    }
}

pub async fn run(svc: &Services, cmd: BreachCmd) -> Result<(), CliError> {
    let actor = actor();
    match cmd {
        BreachCmd::Record {
            tenant,
            detected_at,
            nature,
            categories,
            subjects,
            records,
            consequences,
            measures,
            dpo,
        } => {
            let at = time("detected-at", detected_at.as_deref())?;
            let new = NewBreach::new(
                at,
                &nature,
                &categories,
                (subjects, records),
                &consequences,
                &measures,
                &dpo,
                now_millis(),
            )
            .map_err(ServiceError::from)?;
            let t = super::optional_tenant(svc, &actor, tenant).await?;
            print_json(&breaches::record(svc, &actor, t.as_ref(), new).await?);
        }
        BreachCmd::Notify {
            id,
            at,
            reference,
            inform_tenant,
            art34,
            reason,
            no_authority,
        } => {
            let mut last = None;
            if !no_authority {
                let at = time("at", at.as_deref())?;
                let step = Step::Notified {
                    at,
                    reference: reference.as_deref(),
                };
                last = Some(breaches::step(svc, &actor, &id, step).await?);
            }
            for t in inform_tenant {
                let t = tenants::find(svc, &actor, &t).await?.id;
                last = Some(breaches::step(svc, &actor, &id, Step::Informed(&t)).await?);
            }
            if let Some(decision) = art34 {
                let step = Step::Art34(decision, reason.as_deref().unwrap_or_default());
                last = Some(breaches::step(svc, &actor, &id, step).await?);
            }
            match last {
                Some(b) => print_json(&b),
                None => return Err(CliError::Usage("nothing to record".into())),
            }
        }
        BreachCmd::List { tenant, json } => {
            let t = super::optional_tenant(svc, &actor, tenant).await?;
            let all = breaches::list(svc, &actor, t.as_ref()).await?;
            if json {
                print_json(&all);
                return Ok(());
            }
            let now = now_millis();
            for b in all {
                println!(
                    "{}  {}  {}  {}",
                    b.id,
                    crate::domain::time::rfc3339(b.facts.detected_at),
                    b.countdown(now),
                    b.facts.nature
                );
            }
        }
    }
    Ok(())
}
