//! `atrium price …`: model prices with history. A new price takes effect
//! now or at a later moment, never earlier.

use clap::Subcommand;
use serde_json::json;

use crate::domain::price::PriceVersion;
use crate::domain::pricing::{format_usd, parse_usd, Price};
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
        #[arg(long)]
        effective_from: Option<String>,
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
            effective_from,
            json,
        } => {
            let price = Price {
                input_per_mtok: parse_usd("input", &input)?,
                output_per_mtok: parse_usd("output", &output)?,
                cache_read_per_mtok: parse_usd("cache_read", &cache_read)?,
                cache_write_per_mtok: parse_usd("cache_write", &cache_write)?,
            };
            let from = effective_from
                .map(|raw| {
                    parse_rfc3339(&raw).ok_or_else(|| {
                        Invalid::new("effective_from", "RFC 3339, e.g. 2026-12-01T00:00:00Z")
                    })
                })
                .transpose()?;
            let v = prices::set(svc, &actor(), &model, price, from).await?;
            show(&[v], json, now_millis());
        }
        PriceCmd::List { model, json } => {
            let history = prices::history(svc, &actor(), &model).await?;
            show(history.versions(), json, now_millis());
        }
    }
    Ok(())
}

fn show(versions: &[PriceVersion], json: bool, now: i64) {
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
    for (i, v) in versions.iter().enumerate() {
        let mark = if Some(i) == in_force { "*" } else { " " };
        println!(
            "{mark} from {}  in {} out {} cache read {} write {} per MTok",
            rfc3339(v.effective_from),
            format_usd(v.price.input_per_mtok),
            format_usd(v.price.output_per_mtok),
            format_usd(v.price.cache_read_per_mtok),
            format_usd(v.price.cache_write_per_mtok)
        );
    }
}
