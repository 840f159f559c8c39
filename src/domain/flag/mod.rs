//! Feature flags: typed variants, ordered targeting rules, stable
//! percentage rollouts and a kill switch. Platform flags gate Atrium's own
//! capabilities per tenant; tenant flags serve a tenant's applications
//! (through OFREP). Evaluation is pure and allocation-free on the hot path.

pub mod bucket;
mod capability;
mod condition;
mod diff;
mod eval;
mod explain;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::validation::Invalid;

pub use capability::Capability;
pub use condition::{Condition, Operator};
pub use diff::diff;
pub use eval::{Context, Evaluation, Reason};
pub use explain::{
    describe_change, effective_rollout, rollout, rollout_variant, BucketCheck, FlagChange, Preview,
    RuleBucket,
};

/// A target list long enough for any real allow-list, short enough that a
/// flag stays a small document every replica keeps in memory.
const MAX_TARGETS: usize = 10_000;
/// The most one variant of a split may weigh (Unleash splits 1,000
/// points), so a split's total fits in a u32 whatever its variants.
pub const MAX_WEIGHT: u32 = 100_000;
/// A whole flag, as stored: rules, targets and variants together. Every
/// replica holds every flag, and history shows each change.
pub const MAX_FLAG_BYTES: usize = 256 * 1024;
/// One variant's value (a JSON flag's document).
pub const MAX_VARIANT_BYTES: usize = 32 * 1024;
/// Flags one tenant (or the platform) may keep.
pub const MAX_FLAGS_PER_SCOPE: i64 = 500;

/// A flag's key: a slug, 1 to 64 of `a-z 0-9 . _ -`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FlagKey(String);

impl FlagKey {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let k = raw.trim();
        let ok = (1..=64).contains(&k.len())
            && k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            });
        if ok {
            Ok(FlagKey(k.to_string()))
        } else {
            Err(Invalid::new(
                "key",
                "must be 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FlagKey {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        FlagKey::parse(&s)
    }
}

impl From<FlagKey> for String {
    fn from(k: FlagKey) -> String {
        k.0
    }
}

/// In the admin API's OpenAPI document: the slug's pattern.
#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for FlagKey {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[a-z][a-z0-9._-]{0,63}$"))
            .into()
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for FlagKey {}

impl std::fmt::Display for FlagKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    Boolean,
    String,
    Number,
    Json,
}

impl FlagKind {
    pub const ALL: [FlagKind; 4] = [
        FlagKind::Boolean,
        FlagKind::String,
        FlagKind::Number,
        FlagKind::Json,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::Boolean => "boolean",
            FlagKind::String => "string",
            FlagKind::Number => "number",
            FlagKind::Json => "json",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        FlagKind::ALL
            .into_iter()
            .find(|k| k.as_str() == raw.trim())
            .ok_or_else(|| Invalid::new("type", "one of boolean, string, number, json"))
    }

    /// Whether `v` is a value of this kind.
    pub fn admits(self, v: &Value) -> bool {
        match self {
            FlagKind::Boolean => v.is_boolean(),
            FlagKind::String => v.is_string(),
            FlagKind::Number => v.is_number(),
            FlagKind::Json => true,
        }
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub name: String,
    pub value: Value,
}

/// One share of a weighted split.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weighted {
    pub variant: String,
    pub weight: u32,
}

/// A targeting rule; the first that matches decides.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    /// Listed targeting keys (tenant ids for platform flags).
    Targets { keys: Vec<String>, variant: String },
    /// Every condition holds on the context.
    Conditions {
        all: Vec<Condition>,
        variant: String,
    },
    /// The key's bucket (1–100) is at most `percentage`.
    Rollout {
        percentage: u8,
        variant: String,
        #[serde(default)]
        group_id: Option<String>,
    },
    /// Every key gets one variant, in proportion to the weights.
    Split {
        weights: Vec<Weighted>,
        #[serde(default)]
        group_id: Option<String>,
    },
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub key: FlagKey,
    pub description: String,
    pub kind: FlagKind,
    pub variants: Vec<Variant>,
    /// Served when no rule matches.
    pub default_variant: String,
    /// Served to everyone while the flag is disabled (the kill switch).
    pub off_variant: String,
    pub enabled: bool,
    pub rules: Vec<Rule>,
    pub owner: String,
    pub archived: bool,
}

impl Flag {
    /// A boolean flag: variants `on` (true) and `off` (false), off by default.
    pub fn boolean(key: FlagKey, description: &str) -> Flag {
        Flag {
            key,
            description: description.to_string(),
            kind: FlagKind::Boolean,
            variants: vec![
                Variant {
                    name: "on".into(),
                    value: Value::Bool(true),
                },
                Variant {
                    name: "off".into(),
                    value: Value::Bool(false),
                },
            ],
            default_variant: "off".into(),
            off_variant: "off".into(),
            enabled: true,
            rules: Vec::new(),
            owner: String::new(),
            archived: false,
        }
    }

    pub fn variant(&self, name: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.name == name)
    }

    /// Every variant a rule or default names exists and has the flag's type;
    /// percentages are at most 100 and splits have weight.
    pub fn check(&self) -> Result<(), Invalid> {
        if self.description.len() > 1000 || self.owner.len() > 256 {
            return Err(Invalid::new(
                "description",
                "at most 1000 characters (owner 256)",
            ));
        }
        if self.variants.is_empty() || self.variants.len() > 32 {
            return Err(Invalid::new("variants", "between 1 and 32 variants"));
        }
        if let Some(v) = self.variants.iter().find(|v| !self.kind.admits(&v.value)) {
            return Err(Invalid::new(
                "variants",
                format!("{} is not a {} value", v.name, self.kind.as_str()),
            ));
        }
        if self.rules.len() > 64 {
            return Err(Invalid::new("rules", "at most 64 rules"));
        }
        self.check_size()?;
        let named = self.rules.iter().flat_map(rule_variants);
        for name in [&self.default_variant, &self.off_variant]
            .into_iter()
            .chain(named)
        {
            if self.variant(name).is_none() {
                return Err(Invalid::new("variant", format!("no variant named {name}")));
            }
        }
        for rule in &self.rules {
            match rule {
                Rule::Targets { keys, .. }
                    if keys.len() > MAX_TARGETS || keys.iter().any(|k| k.len() > 256) =>
                {
                    return Err(Invalid::new(
                        "targets",
                        "at most 10,000 keys of at most 256 characters",
                    ));
                }
                Rule::Rollout { percentage, .. } if *percentage > 100 => {
                    return Err(Invalid::new("percentage", "must be 0 to 100"));
                }
                Rule::Split { weights, .. } => check_weights(weights)?,
                Rule::Conditions { all, .. } => all.iter().try_for_each(Condition::check)?,
                _ => {}
            }
        }
        Ok(())
    }
}

impl Flag {
    /// Bounded in bytes: each variant's value, and the whole flag.
    fn check_size(&self) -> Result<(), Invalid> {
        let size = |v: &dyn erased::Size| v.json_len();
        if let Some(v) = self
            .variants
            .iter()
            .find(|v| size(&v.value) > MAX_VARIANT_BYTES)
        {
            return Err(Invalid::new(
                "variants",
                format!("{} is larger than {} KiB", v.name, MAX_VARIANT_BYTES / 1024),
            ));
        }
        if size(self) > MAX_FLAG_BYTES {
            return Err(Invalid::new(
                "flag",
                format!("is larger than {} KiB in all", MAX_FLAG_BYTES / 1024),
            ));
        }
        Ok(())
    }
}

mod erased {
    /// The size of a value as JSON, without keeping the text.
    pub trait Size {
        fn json_len(&self) -> usize;
    }

    impl<T: serde::Serialize> Size for T {
        fn json_len(&self) -> usize {
            let mut counter = Counter(0);
            // A value that cannot be written is as large as can be.
            match serde_json::to_writer(&mut counter, self) {
                Ok(()) => counter.0,
                Err(_) => usize::MAX,
            }
        }
    }

    struct Counter(usize);

    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}

/// A split's weights: each at most `MAX_WEIGHT`, together more than 0.
fn check_weights(weights: &[Weighted]) -> Result<(), Invalid> {
    if weights.iter().any(|w| w.weight > MAX_WEIGHT) {
        return Err(Invalid::new(
            "weights",
            format!("each must be 0 to {MAX_WEIGHT}"),
        ));
    }
    if weights.iter().all(|w| w.weight == 0) {
        return Err(Invalid::new("weights", "must add up to more than 0"));
    }
    Ok(())
}

fn rule_variants(rule: &Rule) -> Vec<&String> {
    match rule {
        Rule::Targets { variant, .. }
        | Rule::Conditions { variant, .. }
        | Rule::Rollout { variant, .. } => vec![variant],
        Rule::Split { weights, .. } => weights.iter().map(|w| &w.variant).collect(),
    }
}

/// What a flag serves one context, and why: for the portal's "which
/// platform flags are on for this tenant".
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagVerdict {
    pub key: String,
    pub value: Value,
    pub variant: String,
    pub reason: Reason,
    /// The deciding rule's position (0-based), when a rule decided.
    pub rule: Option<usize>,
}

impl Flag {
    pub fn verdict(&self, ctx: &Context) -> FlagVerdict {
        let e = self.evaluate(ctx);
        FlagVerdict {
            key: self.key.to_string(),
            value: e.value.clone(),
            variant: e.variant.to_string(),
            reason: e.reason,
            rule: e.rule,
        }
    }
}

#[cfg(test)]
mod tests;
