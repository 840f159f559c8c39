//! `atrium usage report`: requests, tokens and cost from the ledger.

use clap::Subcommand;

use crate::server::services::{tenants, Services};

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
}

pub async fn run(svc: &Services, cmd: UsageCmd) -> Result<(), CliError> {
    use crate::domain::pricing::{format_usd, usd};
    use crate::domain::time::parse_rfc3339;
    let actor = actor();
    let UsageCmd::Report {
        tenant,
        from,
        to,
        json,
    } = cmd;
    let parse = |field: &str, v: Option<String>| -> Result<Option<i64>, CliError> {
        v.map(|s| {
            parse_rfc3339(&s).ok_or_else(|| {
                CliError::Usage(format!(
                    "--{field} must be RFC 3339, e.g. 2026-11-01T00:00:00Z"
                ))
            })
        })
        .transpose()
    };
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
