//! `atrium flag …`: feature flags. `--tenant T` selects that tenant's flag;
//! without it a command acts on the platform flag of that key.

use clap::Subcommand;
use serde_json::json;

use crate::domain::flag::{Flag, FlagKey, FlagKind, Rule};
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
        /// `boolean` (variants on/off), or `string`, `number`, `json` with
        /// `--variant NAME=VALUE` given at least once (the first is the
        /// default and the off variant; number and json values are JSON).
        #[arg(long = "type", default_value = "boolean", value_parser = ["boolean", "string", "number", "json"])]
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
    /// Stop serving a flag, keeping it and its history (--restore undoes it).
    Archive {
        key: String,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        restore: bool,
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
    /// Replace the flag's rules with a JSON array (targets, conditions,
    /// rollout, split; see the README), from --set or --file.
    Rules {
        key: String,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        set: Option<String>,
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The flag's audited changes, newest first.
    History {
        key: String,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Who gets a platform flag: every tenant, by variant, with why.
    Preview {
        key: String,
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
            let specs: Vec<&str> = variants.iter().map(String::as_str).collect();
            let kind = FlagKind::parse(&kind)?;
            let flag = Flag::from_spec(FlagKey::parse(&key)?, kind, &description, &specs)?;
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
        FlagCmd::History { key, tenant, json } => {
            let scope = scope(svc, tenant.as_deref()).await?;
            let changes = flags::history(svc, &actor, &scope, &FlagKey::parse(&key)?).await?;
            if json {
                print_json(&changes);
            } else {
                for c in changes {
                    let at = crate::domain::time::rfc3339(c.at);
                    println!("{at}  {:<24} {:<14} {}", c.actor, c.action, c.summary);
                }
            }
            return Ok(());
        }
        FlagCmd::Preview { key, json } => {
            let p = flags::preview(svc, &actor, &FlagKey::parse(&key)?).await?;
            if json {
                print_json(&p);
            } else {
                println!("{} tenants: {:?}", p.tenants, p.by_variant);
                for (name, _, v) in &p.listed {
                    println!("  {name:<32} {:<8} {:?}", v.variant, v.reason);
                }
            }
            return Ok(());
        }
        FlagCmd::Rules {
            key,
            tenant,
            set,
            file,
        } => (key, tenant, Change::Rules(read_rules(set, file)?)),
        FlagCmd::SetRollout {
            key,
            percent,
            tenant,
        } => (key, tenant, Change::Rollout(percent)),
        FlagCmd::Enable { key, tenant } => (key, tenant, Change::Enable(true)),
        FlagCmd::Archive {
            key,
            tenant,
            restore,
        } => (key, tenant, Change::Archive(!restore)),
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
    // A targeting key asks about the tenant's own flag for one of its
    // users; without one, the platform flag for the tenant itself.
    let (scope, who) = match targeting_key {
        Some(k) => (Scope::Tenant(t.id.clone()), k),
        None => (Scope::Platform, t.id.to_string()),
    };
    let c = flags::bucket_check(svc, &actor, &scope, &key, &who).await?;
    let v = &c.verdict;
    if json {
        print_json(
            &json!({ "key": v.key, "value": v.value, "variant": v.variant,
            "reason": v.reason, "rule": v.rule, "buckets": c.buckets }),
        );
    } else {
        println!(
            "{} = {} (variant {}, {:?})",
            v.key, v.value, v.variant, v.reason
        );
        for b in &c.buckets {
            println!("  rule {}: bucket {} of {}", b.rule + 1, b.bucket, b.out_of);
        }
    }
    Ok(())
}

/// Rules as JSON, from the command line or a file (at most 1 MiB).
fn read_rules(
    set: Option<String>,
    file: Option<std::path::PathBuf>,
) -> Result<Vec<Rule>, ServiceError> {
    let text = match (set, file) {
        (Some(s), _) => s,
        (None, Some(path)) => {
            let meta = std::fs::metadata(&path)
                .map_err(|e| Invalid::new("file", format!("{}: {e}", path.display())))?;
            if meta.len() > 1 << 20 {
                return Err(Invalid::new("file", "rules files are at most 1 MiB").into());
            }
            std::fs::read_to_string(&path)
                .map_err(|e| Invalid::new("file", format!("{}: {e}", path.display())))?
        }
        (None, None) => return Err(Invalid::new("rules", "give --set or --file").into()),
    };
    serde_json::from_str(&text)
        .map_err(|e| Invalid::new("rules", format!("not a list of rules: {e}")).into())
}

fn show(flag: &Flag, json: bool) {
    if json {
        print_json(flag);
    } else {
        println!("{}", summary(flag));
    }
}

fn summary(f: &Flag) -> String {
    let state = match (f.archived, f.enabled) {
        (true, _) => "ARCHIVED",
        (false, true) => "enabled",
        (false, false) => "DISABLED",
    };
    format!(
        "{:<32} {:<8} {} rules, default {}",
        f.key.as_str(),
        state,
        f.rules.len(),
        f.default_variant
    )
}
