//! `atrium price …`: model prices with history. A new price takes effect
//! now or at a later moment, never earlier.

use clap::Subcommand;
use serde_json::json;

use crate::domain::price::PriceVersion;
use crate::domain::pricing::{format_usd, parse_usd, Micros, Price};
use crate::domain::time::{now_millis, parse_rfc3339, rfc3339};
use crate::domain::validation::Invalid;
use crate::server::services::catalog::prices;
use crate::server::services::{ServiceError, Services};

use super::{actor, print_json};

#[derive(Subcommand, Debug)]
pub enum PriceCmd {
    /// Set a model's price per million tokens (dollars), from now or from
    /// --effective-from (RFC 3339, not in the past).
    Set {
        #[arg(long)]
        model: String,
        #[arg(long)]
        input: String,
        #[arg(long)]
        output: String,
        #[arg(long, default_value = "0")]
        cache_read: String,
        #[arg(long, default_value = "0")]
        cache_write: String,
        /// A flat charge per answered request, on top of its tokens.
        #[arg(long, default_value = "0")]
        per_request: String,
        /// A charge per server-side tool use (a web search or fetch run by
        /// the provider); such tools are allowed per model with
        /// `model server-tools`.
        #[arg(long, default_value = "0")]
        per_server_tool_use: String,
        #[arg(long)]
        effective_from: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Set the price of one OFREP flag evaluation (dollars, e.g. 0.00001),
    /// from now or from --effective-from.
    SetEvaluation {
        #[arg(long)]
        usd: String,
        #[arg(long)]
        effective_from: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The flag evaluation price's versions, oldest first.
    Evaluations {
        #[arg(long)]
        json: bool,
    },
    /// A model's price versions, oldest first, and which is in force.
    List {
        #[arg(long)]
        model: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(svc: &Services, cmd: PriceCmd) -> Result<(), ServiceError> {
    match cmd {
        PriceCmd::Set {
            model,
            input,
            output,
            cache_read,
            cache_write,
            per_request,
            per_server_tool_use,
            effective_from,
            json,
        } => {
            let price = Price {
                input_per_mtok: parse_usd("input", &input)?,
                output_per_mtok: parse_usd("output", &output)?,
                cache_read_per_mtok: parse_usd("cache_read", &cache_read)?,
                cache_write_per_mtok: parse_usd("cache_write", &cache_write)?,
                per_request: parse_usd("per_request", &per_request)?,
                per_server_tool_use: parse_usd("per_server_tool_use", &per_server_tool_use)?,
            };
            let from = moment(effective_from)?;
            let v = prices::set(svc, &actor(), &model, price, from).await?;
            show(&[v], json, now_millis(), model_price);
        }
        PriceCmd::List { model, json } => {
            let history = prices::history(svc, &actor(), &model).await?;
            show(history.versions(), json, now_millis(), model_price);
        }
        PriceCmd::SetEvaluation {
            usd,
            effective_from,
            json,
        } => {
            let micros = parse_usd("usd", &usd)?;
            let v = prices::set_evaluation(svc, &actor(), micros, moment(effective_from)?).await?;
            show(&[v], json, now_millis(), evaluation_price);
        }
        PriceCmd::Evaluations { json } => {
            let history = prices::evaluation_history(svc, &actor()).await?;
            show(history.versions(), json, now_millis(), evaluation_price);
        }
    }
    Ok(())
}

fn moment(raw: Option<String>) -> Result<Option<i64>, Invalid> {
    raw.map(|raw| {
        parse_rfc3339(&raw)
            .ok_or_else(|| Invalid::new("effective_from", "RFC 3339, e.g. 2026-12-01T00:00:00Z"))
    })
    .transpose()
}

/// Versions oldest first, the one in force marked; `line` says a price.
fn show<P: serde::Serialize>(
    versions: &[PriceVersion<P>],
    json: bool,
    now: i64,
    line: impl Fn(&P) -> String,
) {
    let in_force = versions.iter().rposition(|v| v.effective_from <= now);
    if json {
        let rows: Vec<_> = versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                json!({ "effective_from": rfc3339(v.effective_from), "price": v.price,
                        "in_force": Some(i) == in_force, "scheduled": v.effective_from > now })
            })
            .collect();
        print_json(&rows);
        return;
    }
    if versions.is_empty() {
        println!("no price set: free");
    }
    for (i, v) in versions.iter().enumerate() {
        let mark = if Some(i) == in_force { "*" } else { " " };
        println!(
            "{mark} from {}  {}",
            rfc3339(v.effective_from),
            line(&v.price)
        );
    }
}

fn model_price(p: &Price) -> String {
    format!(
        "in {} out {} cache read {} write {} per MTok, {} per request, {} per server tool use",
        format_usd(p.input_per_mtok),
        format_usd(p.output_per_mtok),
        format_usd(p.cache_read_per_mtok),
        format_usd(p.cache_write_per_mtok),
        format_usd(p.per_request),
        format_usd(p.per_server_tool_use)
    )
}

fn evaluation_price(micros: &Micros) -> String {
    format!("{} per evaluation", format_usd(*micros))
}
