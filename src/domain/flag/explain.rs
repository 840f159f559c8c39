//! Explaining a flag to people: where a targeting key falls in each
//! bucketed rule ("why is this user in?"), what a change did, and flags
//! built from typed variant specs (shared by the CLI and the portal).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bucket::{normalized, normalized_weight};
use super::eval::pick;
use super::{Flag, FlagKey, FlagKind, FlagVerdict, Rule, Variant};
use crate::domain::audit::AuditEvent;
use crate::domain::time::Millis;
use crate::domain::validation::Invalid;

/// One bucketed rule's placement of a key: its bucket (1 to `out_of`) and
/// the variant it serves that key, if any.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleBucket {
    /// The rule's position (0-based).
    pub rule: usize,
    pub bucket: u32,
    pub out_of: u32,
    pub variant: Option<String>,
}

impl Flag {
    /// Where `key` falls in every rollout and split of this flag, whether
    /// or not an earlier rule decides first.
    pub fn buckets(&self, key: &str) -> Vec<RuleBucket> {
        let group = |g: &Option<String>| g.clone().unwrap_or_else(|| self.key.to_string());
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(i, rule)| match rule {
                Rule::Rollout {
                    percentage,
                    variant,
                    group_id,
                } => {
                    let bucket = normalized(&group(group_id), key, 0);
                    Some(RuleBucket {
                        rule: i,
                        bucket,
                        out_of: 100,
                        variant: (bucket <= u32::from(*percentage)).then(|| variant.clone()),
                    })
                }
                Rule::Split { weights, group_id } => {
                    let total = super::eval::split_total(weights).unwrap_or(0);
                    let g = group(group_id);
                    Some(RuleBucket {
                        rule: i,
                        bucket: normalized_weight(&g, key, total),
                        out_of: total,
                        variant: pick(weights, &g, key).map(str::to_string),
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// A new flag of `kind` from `NAME=VALUE` variant specs. A boolean flag
    /// is always on/off; other kinds need at least one variant, the first
    /// being the default and the off variant. Values are read as the
    /// kind says: text for strings, JSON for numbers and objects.
    pub fn from_spec(
        key: FlagKey,
        kind: FlagKind,
        description: &str,
        specs: &[&str],
    ) -> Result<Flag, Invalid> {
        let mut flag = Flag::boolean(key, description);
        if kind == FlagKind::Boolean {
            return Ok(flag);
        }
        flag.kind = kind;
        flag.variants = specs
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| variant(kind, s))
            .collect::<Result<_, _>>()?;
        let first = flag
            .variants
            .first()
            .ok_or_else(|| Invalid::new("variants", "give at least one NAME=VALUE variant"))?;
        flag.default_variant = first.name.clone();
        flag.off_variant = first.name.clone();
        flag.check()?;
        Ok(flag)
    }
}

fn variant(kind: FlagKind, spec: &str) -> Result<Variant, Invalid> {
    let (name, raw) = spec
        .split_once('=')
        .ok_or_else(|| Invalid::new("variants", "write each variant as NAME=VALUE"))?;
    let name = name.trim();
    if name.is_empty() || name.len() > 64 {
        return Err(Invalid::new(
            "variants",
            "a variant name is 1 to 64 characters",
        ));
    }
    let value = match kind {
        FlagKind::String => Value::String(raw.to_string()),
        _ => serde_json::from_str(raw.trim())
            .map_err(|e| Invalid::new("variants", format!("{name}: not JSON ({e})")))?,
    };
    if !kind.admits(&value) {
        return Err(Invalid::new(
            "variants",
            format!("{name}: not a {} value", kind.as_str()),
        ));
    }
    Ok(Variant {
        name: name.to_string(),
        value,
    })
}

/// What a change did, in a line: for a flag's history.
pub fn describe_change(before: Option<&Flag>, after: &Flag) -> String {
    let Some(before) = before else {
        return format!("created ({} variants)", after.variants.len());
    };
    let mut parts = Vec::new();
    if before.archived != after.archived {
        parts.push(
            if after.archived {
                "archived"
            } else {
                "restored"
            }
            .to_string(),
        );
    }
    if before.enabled != after.enabled {
        parts.push(
            if after.enabled {
                "enabled"
            } else {
                "disabled (kill switch)"
            }
            .to_string(),
        );
    }
    let (b, a) = (rollout(before), rollout(after));
    if b != a {
        let pct = |p: Option<u8>| p.map_or_else(|| "none".to_string(), |p| format!("{p}%"));
        parts.push(format!("rollout {} → {}", pct(b), pct(a)));
    }
    if before.rules.len() != after.rules.len() || (before.rules != after.rules && b == a) {
        parts.push(format!(
            "rules changed ({} → {})",
            before.rules.len(),
            after.rules.len()
        ));
    }
    if parts.is_empty() {
        "no change".to_string()
    } else {
        parts.join(", ")
    }
}

/// The percentage of a flag's first rollout rule.
pub fn rollout(flag: &Flag) -> Option<u8> {
    flag.rules.iter().find_map(|r| match r {
        Rule::Rollout { percentage, .. } => Some(*percentage),
        _ => None,
    })
}

/// The variant a rollout rule serves: `on` when the flag has it, else the
/// first variant that is not the default.
pub fn rollout_variant(flag: &Flag) -> String {
    let on = flag.variants.iter().find(|v| v.name == "on");
    let other = flag
        .variants
        .iter()
        .find(|v| v.name != flag.default_variant);
    on.or(other)
        .map_or_else(|| flag.default_variant.clone(), |v| v.name.clone())
}

/// The share of evaluations getting the rollout's variant today: the rule's
/// percentage, or with no rule 100 when the default already is that variant
/// (a capability on for everyone) and 0 otherwise.
pub fn effective_rollout(flag: &Flag) -> u8 {
    rollout(flag).unwrap_or(
        if flag.enabled && flag.default_variant == rollout_variant(flag) {
            100
        } else {
            0
        },
    )
}

/// One audited change of a flag.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagChange {
    pub at: Millis,
    pub actor: String,
    pub action: String,
    /// What changed, in a line ("rollout 10% → 20%").
    pub summary: String,
    pub event_id: String,
}

impl FlagChange {
    /// Changes are audited with their summary and a diff; changes audited
    /// before that carry the flag before and after, summarised here.
    pub fn from_event(e: AuditEvent) -> FlagChange {
        let details: Value = serde_json::from_str(&e.details).unwrap_or(Value::Null);
        let flag = |k: &str| serde_json::from_value::<Flag>(details[k].clone()).ok();
        let summary = match (details["summary"].as_str(), flag("after")) {
            (Some(s), _) => s.to_string(),
            (None, Some(after)) => describe_change(flag("before").as_ref(), &after),
            (None, None) => "(details unreadable)".to_string(),
        };
        FlagChange {
            at: e.at,
            actor: e.actor,
            action: e.action,
            summary,
            event_id: e.id,
        }
    }
}

/// Who gets a platform flag: every tenant counted by the variant it is
/// served, the first tenants listed with why.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    pub tenants: usize,
    /// Variant name → how many tenants get it.
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Vec<Object>>))]
    pub by_variant: Vec<(String, usize)>,
    /// Tenant name, tenant id, verdict; tenants served the default last.
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Vec<Object>>))]
    pub listed: Vec<(String, String, FlagVerdict)>,
}

/// What a flag serves one targeting key, and its bucket in every rollout
/// and split (a tenant flag; for a platform flag the key is a tenant id).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketCheck {
    pub targeting_key: String,
    pub verdict: FlagVerdict,
    pub buckets: Vec<RuleBucket>,
}

impl Rule {
    /// The rule in a line, for people: "rollout 50% → on".
    pub fn describe(&self) -> String {
        match self {
            Rule::Targets { keys, variant } => {
                let shown: Vec<&str> = keys.iter().take(5).map(String::as_str).collect();
                let more = keys.len().saturating_sub(shown.len());
                let tail = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                format!("targets {}{tail} → {variant}", shown.join(", "))
            }
            Rule::Conditions { all, variant } => {
                let conds: Vec<String> = all
                    .iter()
                    .map(|c| format!("{} {:?} [{}]", c.attribute, c.operator, c.values.join(", ")))
                    .collect();
                format!("when {} → {variant}", conds.join(" and "))
            }
            Rule::Rollout {
                percentage,
                variant,
                group_id,
            } => {
                let group = group_id
                    .as_deref()
                    .map_or(String::new(), |g| format!(" (group {g})"));
                format!("rollout {percentage}% → {variant}{group}")
            }
            Rule::Split { weights, .. } => {
                let parts: Vec<String> = weights
                    .iter()
                    .map(|w| format!("{} {}", w.variant, w.weight))
                    .collect();
                format!("split {}", parts.join(" / "))
            }
        }
    }
}

#[cfg(test)]
mod rollout_tests {
    use super::effective_rollout;
    use crate::domain::flag::Flag;

    #[test]
    fn with_no_rule_the_box_shows_who_gets_the_rollout_variant_today() {
        let key = crate::domain::flag::FlagKey::parse("beta").expect("key");
        let mut flag = Flag::boolean(key, "a beta");
        assert_eq!(
            effective_rollout(&flag),
            0,
            "an off-by-default flag reaches no one"
        );
        flag.default_variant = "on".into();
        assert_eq!(
            effective_rollout(&flag),
            100,
            "an on-by-default flag reaches everyone"
        );
        flag.enabled = false;
        assert_eq!(effective_rollout(&flag), 0, "a killed flag reaches no one");
    }
}
