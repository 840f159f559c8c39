//! `atrium flag …`: feature flags. `--tenant T` selects that tenant's flag;
//! without it a command acts on the platform flag of that key.

use clap::Subcommand;
use serde_json::json;

use crate::domain::flag::{Context, Flag, FlagKey, FlagKind, Variant};
use crate::domain::validation::Invalid;
use crate::server::services::flags::{self, Change, Scope};
use crate::server::services::{tenants, ServiceError, Services};

use super::{actor, print_json};

#[derive(Subcommand, Debug)]
pub enum FlagCmd {
    /// Create a flag (boolean: variants on/off, off by default).
    Create {
        #[arg(long)]
        key: String,
        #[arg(long)]
        tenant: Option<String>,
        /// `boolean` (variants on/off), or `string` with `--variant NAME=VALUE`
        /// given at least once (the first is the default and the off variant).
        #[arg(long = "type", default_value = "boolean", value_parser = ["boolean", "string"])]
        kind: String,
        #[arg(long = "variant")]
        variants: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        json: bool,
    },
    /// Serve the flag's `on` variant to PERCENT of targeting keys (stable buckets).
    SetRollout {
        key: String,
        percent: u8,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Turn the kill switch off: rules apply again.
    Enable {
        key: String,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// The kill switch: everyone gets the off variant at once.
    Disable {
        key: String,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Serve the flag to these tenants (a platform flag: names or ids), or
    /// with --tenant, to these targeting keys of that tenant's flag.
    Target {
        key: String,
        #[arg(long, value_delimiter = ',', required_unless_present = "keys")]
        tenants: Vec<String>,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, value_delimiter = ',', requires = "tenant")]
        keys: Vec<String>,
    },
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Evaluate a flag: a platform flag for a tenant, or (with
    /// --targeting-key) a tenant flag for one of its users.
    Eval {
        key: String,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        targeting_key: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

async fn scope(svc: &Services, tenant: Option<&str>) -> Result<Scope, ServiceError> {
    Ok(match tenant {
        Some(t) => Scope::Tenant(tenants::find(svc, &actor(), t).await?.id),
        None => Scope::Platform,
    })
}

pub async fn run(svc: &Services, cmd: FlagCmd) -> Result<(), ServiceError> {
    let actor = actor();
    let (key, tenant, change) = match cmd {
        FlagCmd::Create {
            key,
            tenant,
            kind,
            variants,
            description,
            json,
        } => {
            let flag = new_flag(FlagKey::parse(&key)?, &kind, &variants, &description)?;
            let flag =
                flags::create(svc, &actor, &scope(svc, tenant.as_deref()).await?, flag).await?;
            show(&flag, json);
            return Ok(());
        }
        FlagCmd::List { tenant, json } => {
            let list = flags::list(svc, &actor, &scope(svc, tenant.as_deref()).await?).await?;
            if json {
                print_json(&list);
            } else {
                list.iter().for_each(|f| println!("{}", summary(f)));
            }
            return Ok(());
        }
        FlagCmd::Eval {
            key,
            tenant,
            targeting_key,
            json,
        } => return eval(svc, &key, &tenant, targeting_key, json).await,
        FlagCmd::SetRollout {
            key,
            percent,
            tenant,
        } => (key, tenant, Change::Rollout(percent)),
        FlagCmd::Enable { key, tenant } => (key, tenant, Change::Enable(true)),
        FlagCmd::Disable { key, tenant } => (key, tenant, Change::Enable(false)),
        FlagCmd::Target {
            key,
            tenant: Some(t),
            keys,
            ..
        } => (key, Some(t), Change::Targets(keys)),
        FlagCmd::Target {
            key,
            tenants: names,
            ..
        } => {
            let mut ids = Vec::new();
            for n in names {
                ids.push(tenants::find(svc, &actor, &n).await?.id.to_string());
            }
            (key, None, Change::Targets(ids))
        }
    };
    let scope = scope(svc, tenant.as_deref()).await?;
    let flag = flags::change(svc, &actor, &scope, &FlagKey::parse(&key)?, change).await?;
    println!("{}", summary(&flag));
    Ok(())
}

async fn eval(
    svc: &Services,
    key: &str,
    tenant: &str,
    targeting_key: Option<String>,
    json: bool,
) -> Result<(), ServiceError> {
    let actor = actor();
    let t = tenants::find(svc, &actor, tenant).await?;
    let key = FlagKey::parse(key)?;
    let (flag, ctx) = match targeting_key {
        Some(k) => {
            let flag = flags::get(svc, &actor, &Scope::Tenant(t.id.clone()), &key).await?;
            (
                flag,
                Context {
                    targeting_key: Some(k),
                    ..Context::default()
                },
            )
        }
        None => (
            flags::get(svc, &actor, &Scope::Platform, &key).await?,
            flags::tenant_context(&t),
        ),
    };
    let e = flag.evaluate(&ctx);
    if json {
        print_json(
            &json!({ "key": flag.key, "value": e.value, "variant": e.variant, "reason": e.reason }),
        );
    } else {
        println!(
            "{} = {} (variant {}, {:?})",
            flag.key, e.value, e.variant, e.reason
        );
    }
    Ok(())
}

/// A boolean flag, or a string flag from `NAME=VALUE` variants.
fn new_flag(
    key: FlagKey,
    kind: &str,
    variants: &[String],
    description: &str,
) -> Result<Flag, Invalid> {
    let mut flag = Flag::boolean(key, description);
    if kind == "boolean" {
        return Ok(flag);
    }
    flag.kind = FlagKind::String;
    flag.variants = variants
        .iter()
        .map(|v| {
            let (name, value) = v
                .split_once('=')
                .ok_or_else(|| Invalid::new("variant", "use NAME=VALUE"))?;
            Ok(Variant {
                name: name.trim().to_string(),
                value: value.into(),
            })
        })
        .collect::<Result<_, Invalid>>()?;
    let first = flag
        .variants
        .first()
        .ok_or_else(|| Invalid::new("variant", "a string flag needs --variant NAME=VALUE"))?;
    flag.default_variant = first.name.clone();
    flag.off_variant = first.name.clone();
    Ok(flag)
}

fn show(flag: &Flag, json: bool) {
    if json {
        print_json(flag);
    } else {
        println!("{}", summary(flag));
    }
}

fn summary(f: &Flag) -> String {
    let state = if f.enabled { "enabled" } else { "DISABLED" };
    format!(
        "{:<32} {:<8} {} rules, default {}",
        f.key.as_str(),
        state,
        f.rules.len(),
        f.default_variant
    )
}
