//! `atrium usage report`: requests, tokens and cost from the ledger;
//! `atrium usage export`: the ledger as CloudEvents for other billing tools.

use clap::Subcommand;

use crate::server::services::{tenants, ServiceError, Services};

use super::{actor, print_json, CliError};

#[derive(Subcommand, Debug)]
pub enum UsageCmd {
    /// Requests, tokens and cost for a tenant, by model.
    Report {
        #[arg(long)]
        tenant: String,
        /// RFC 3339 start (inclusive).
        #[arg(long)]
        from: Option<String>,
        /// RFC 3339 end (exclusive).
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Every usage event of a period as CloudEvents 1.0, one JSON object
    /// per line (id = request id, so OpenMeter and Lago deduplicate).
    Export {
        /// Only this tenant (name or id); all tenants otherwise.
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, value_parser = ["cloudevents"], default_value = "cloudevents")]
        format: String,
        /// RFC 3339 start (inclusive).
        #[arg(long)]
        from: String,
        /// RFC 3339 end (exclusive).
        #[arg(long)]
        to: String,
    },
    /// Recomputes the hourly rollups the dashboards read from the events
    /// (of one tenant, or all); they are normally kept by the ledger writer.
    RebuildRollups {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Samples today's meters (stored data) for every tenant without a
    /// sample yet; the server does this on its own every hour.
    SampleMeters {
        #[arg(long)]
        json: bool,
    },
    /// A tenant's daily meter samples for a month (YYYY-MM, UTC).
    Meters {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        month: String,
        #[arg(long)]
        json: bool,
    },
}

async fn meters(svc: &Services, cmd: UsageCmd) -> Result<(), CliError> {
    use crate::domain::invoice::Month;
    use crate::domain::time::rfc3339;
    use crate::server::services::meters;
    let (tenant, rows, json) = match cmd {
        UsageCmd::SampleMeters { json } => (None, meters::sample_today(svc).await?, json),
        UsageCmd::Meters {
            tenant,
            month,
            json,
        } => {
            let actor = actor();
            let t = tenants::find(svc, &actor, &tenant).await?;
            let month: Month = month.parse().map_err(ServiceError::from)?;
            let (from, to) = month.window();
            let samples = meters::samples(svc, &actor, &t.id, from, to).await?;
            let rows = samples.into_iter().map(|s| (t.id.clone(), s)).collect();
            (Some(t.name), rows, json)
        }
        _ => return Ok(()),
    };
    if json {
        let out: Vec<_> = rows
            .iter()
            .map(|(t, s)| {
                serde_json::json!({ "tenant_id": t, "meter": s.meter,
                "day": rfc3339(s.day), "value": s.value })
            })
            .collect();
        print_json(&out);
        return Ok(());
    }
    if tenant.is_none() {
        println!("{} samples written", rows.len());
    }
    for (t, s) in &rows {
        println!(
            "{t}  {}  {:<14} {}",
            rfc3339(s.day),
            s.meter.as_str(),
            s.value
        );
    }
    Ok(())
}

/// `--from` / `--to` as milliseconds.
fn instant(field: &str, raw: &str) -> Result<i64, CliError> {
    crate::domain::time::parse_rfc3339(raw).ok_or_else(|| {
        CliError::Usage(format!(
            "--{field} must be RFC 3339, e.g. 2026-11-01T00:00:00Z"
        ))
    })
}

async fn export(
    svc: &Services,
    tenant: Option<String>,
    from: &str,
    to: &str,
) -> Result<(), CliError> {
    use std::io::Write;
    let actor = actor();
    let period = (instant("from", from)?, instant("to", to)?);
    let tenant = super::optional_tenant(svc, &actor, tenant).await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written =
        crate::server::services::usage_export::export(svc, &actor, tenant.as_ref(), period, |e| {
            writeln!(out, "{}", e.to_cloud_event())
        })
        .await?;
    out.flush()
        .map_err(|e| CliError::Usage(format!("writing the export: {e}")))?;
    eprintln!("{written} events");
    Ok(())
}

pub async fn run(svc: &Services, cmd: UsageCmd) -> Result<(), CliError> {
    use crate::domain::pricing::{format_usd, usd};
    let actor = actor();
    let (tenant, from, to, json) = match cmd {
        UsageCmd::Export {
            tenant, from, to, ..
        } => return export(svc, tenant, &from, &to).await,
        cmd @ (UsageCmd::SampleMeters { .. } | UsageCmd::Meters { .. }) => {
            return meters(svc, cmd).await
        }
        UsageCmd::RebuildRollups { tenant } => {
            let tenant = super::optional_tenant(svc, &actor, tenant).await?;
            let (tenants, rows) =
                crate::server::services::dashboards::rebuild_rollups(svc, &actor, tenant.as_ref())
                    .await?;
            println!("rebuilt {rows} hourly rollups for {tenants} tenants");
            return Ok(());
        }
        UsageCmd::Report {
            tenant,
            from,
            to,
            json,
        } => (tenant, from, to, json),
    };
    let parse = |field: &str, v: Option<String>| v.map(|raw| instant(field, &raw)).transpose();
    let (from, to) = (parse("from", from)?, parse("to", to)?);
    let t = tenants::find(svc, &actor, &tenant).await?;
    let r = crate::server::services::usage::report(svc, &actor, &t.id, from, to).await?;
    let totals = |u: &crate::domain::usage::UsageTotals| {
        serde_json::json!({
            "requests": u.requests, "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
            "cache_read_tokens": u.cache_read_tokens, "cache_write_tokens": u.cache_write_tokens,
            "cost_usd": usd(u.cost_micros), "cost_micros": u.cost_micros, "errors": u.errors,
            "flag_evaluations": u.evaluations,
        })
    };
    if json {
        let mut out = totals(&r.totals);
        out["tenant_id"] = serde_json::json!(t.id);
        out["by_model"] = r
            .by_model
            .iter()
            .map(|(k, v)| (k.clone(), totals(v)))
            .collect();
        print_json(&out);
    } else {
        println!(
            "{}: {} requests, {} in / {} out tokens, {}, {} flag evaluations",
            t.name,
            r.totals.requests,
            r.totals.input_tokens,
            r.totals.output_tokens,
            format_usd(r.totals.cost_micros),
            r.totals.evaluations
        );
        for (m, u) in &r.by_model {
            println!(
                "  {:<32} {:>8} req {:>10} in {:>10} out {}",
                m,
                u.requests,
                u.input_tokens,
                u.output_tokens,
                format_usd(u.cost_micros)
            );
        }
    }
    Ok(())
}
