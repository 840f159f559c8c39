//! Evaluating a flag for a context: kill switch, then the rules in order,
//! then the default. No allocation unless a condition reads a number.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bucket::{normalized, normalized_weight};
use super::{Flag, Rule, Weighted};

/// Who is asking: a targeting key (a tenant id for platform flags, a user
/// or session id for tenant flags) and attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    #[serde(rename = "targetingKey", default)]
    pub targeting_key: Option<String>,
    #[serde(flatten)]
    pub attributes: BTreeMap<String, Value>,
}

/// Why a value was served, in OpenFeature's words.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// The flag has no rules.
    Static,
    /// A target list or conditions matched.
    TargetingMatch,
    /// A percentage rollout or weighted split placed the key.
    Split,
    /// The kill switch is off.
    Disabled,
    /// Rules exist; none matched.
    Default,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation<'f> {
    pub variant: &'f str,
    pub value: &'f Value,
    pub reason: Reason,
    /// Which rule decided (its position), when one did.
    pub rule: Option<usize>,
}

impl Flag {
    pub fn evaluate(&self, ctx: &Context) -> Evaluation<'_> {
        if !self.enabled {
            return self.serve(&self.off_variant, Reason::Disabled, None);
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if let Some((variant, reason)) = self.decide(rule, ctx) {
                return self.serve(variant, reason, Some(i));
            }
        }
        let reason = if self.rules.is_empty() {
            Reason::Static
        } else {
            Reason::Default
        };
        self.serve(&self.default_variant, reason, None)
    }

    /// Whether some rule needs a targeting key to place anyone.
    pub fn needs_targeting_key(&self) -> bool {
        self.rules.iter().any(|r| {
            matches!(
                r,
                Rule::Rollout { .. } | Rule::Split { .. } | Rule::Targets { .. }
            )
        })
    }

    fn decide<'f>(&'f self, rule: &'f Rule, ctx: &Context) -> Option<(&'f str, Reason)> {
        match rule {
            Rule::Targets { keys, variant } => {
                let key = ctx.targeting_key.as_deref()?;
                keys.iter()
                    .any(|k| k == key)
                    .then_some((variant.as_str(), Reason::TargetingMatch))
            }
            Rule::Conditions { all, variant } => all
                .iter()
                .all(|c| c.holds(ctx))
                .then_some((variant.as_str(), Reason::TargetingMatch)),
            Rule::Rollout {
                percentage,
                variant,
                group_id,
            } => {
                let key = ctx.targeting_key.as_deref()?;
                let group = group_id.as_deref().unwrap_or(self.key.as_str());
                (normalized(group, key, 0) <= u32::from(*percentage))
                    .then_some((variant.as_str(), Reason::Split))
            }
            Rule::Split { weights, group_id } => {
                let key = ctx.targeting_key.as_deref()?;
                let group = group_id.as_deref().unwrap_or(self.key.as_str());
                pick(weights, group, key).map(|v| (v, Reason::Split))
            }
        }
    }

    /// A variant `check` proved exists; a flag that skipped the check (read
    /// from a damaged store) serves its first variant rather than panic.
    fn serve<'f>(&'f self, name: &'f str, reason: Reason, rule: Option<usize>) -> Evaluation<'f> {
        let v = self.variant(name).or(self.variants.first());
        Evaluation {
            variant: v.map_or(name, |v| v.name.as_str()),
            value: v.map_or(&Value::Null, |v| &v.value),
            reason,
            rule,
        }
    }
}

/// Unleash's weighted variant choice: a point in 1..=total, then the
/// variant whose cumulative weight first reaches it.
pub(super) fn pick<'w>(weights: &'w [Weighted], group: &str, key: &str) -> Option<&'w str> {
    let total = split_total(weights)?;
    let point = normalized_weight(group, key, total);
    let mut reached = 0u32;
    weights.iter().find_map(|w| {
        reached = reached.saturating_add(w.weight);
        (point <= reached).then_some(w.variant.as_str())
    })
}

/// The weights' sum, if it is a usable total: more than 0 and within a
/// u32 (checked flags always are; a stored one that is not picks nothing
/// rather than wrapping).
pub(super) fn split_total(weights: &[Weighted]) -> Option<u32> {
    let total: u64 = weights.iter().map(|w| u64::from(w.weight)).sum();
    u32::try_from(total).ok().filter(|t| *t > 0)
}
