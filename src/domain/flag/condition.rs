//! Attribute conditions on an evaluation context.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::eval::Context;
use crate::domain::validation::Invalid;

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    In,
    NotIn,
    Eq,
    StartsWith,
    SemverGte,
    Gt,
    Lt,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// A context attribute, or `targetingKey`.
    pub attribute: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

impl Condition {
    pub fn check(&self) -> Result<(), Invalid> {
        if self.attribute.is_empty() || self.attribute.len() > 128 || self.values.len() > 1000 {
            return Err(Invalid::new(
                "conditions",
                "an attribute name (≤ 128) and at most 1000 values",
            ));
        }
        let single = !matches!(self.operator, Operator::In | Operator::NotIn);
        if single && self.values.len() != 1 {
            return Err(Invalid::new(
                "conditions",
                format!("{:?} takes exactly one value", self.operator),
            ));
        }
        let bad_number = matches!(self.operator, Operator::Gt | Operator::Lt)
            && self.values[0].parse::<f64>().is_err();
        let bad_version = self.operator == Operator::SemverGte && semver(&self.values[0]).is_none();
        if bad_number || bad_version {
            return Err(Invalid::new(
                "conditions",
                format!("{} is not a valid operand", self.values[0]),
            ));
        }
        Ok(())
    }

    /// Whether the condition holds. A missing attribute holds only for
    /// `not_in` (it is in no list).
    pub fn holds(&self, ctx: &Context) -> bool {
        let Some(actual) = attribute(ctx, &self.attribute) else {
            return self.operator == Operator::NotIn;
        };
        let first = self.values.first().map(String::as_str).unwrap_or("");
        match self.operator {
            Operator::In => self.values.iter().any(|v| *v == actual),
            Operator::NotIn => !self.values.iter().any(|v| *v == actual),
            Operator::Eq => actual == first,
            Operator::StartsWith => actual.starts_with(first),
            Operator::SemverGte => {
                matches!((semver(&actual), semver(first)), (Some(a), Some(b)) if a >= b)
            }
            Operator::Gt => numbers(&actual, first).is_some_and(|(a, b)| a > b),
            Operator::Lt => numbers(&actual, first).is_some_and(|(a, b)| a < b),
        }
    }
}

/// The attribute as text: strings as they are, numbers and booleans written out.
fn attribute<'a>(ctx: &'a Context, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    if name == "targetingKey" {
        return ctx.targeting_key.as_deref().map(std::borrow::Cow::Borrowed);
    }
    match ctx.attributes.get(name)? {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(std::borrow::Cow::Owned(b.to_string())),
        _ => None,
    }
}

fn numbers(a: &str, b: &str) -> Option<(f64, f64)> {
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// `major.minor.patch` (a leading `v` and a pre-release or build suffix are
/// ignored), compared as numbers.
fn semver(s: &str) -> Option<(u64, u64, u64)> {
    let core = s.trim().trim_start_matches('v');
    let core = core.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = parts.next().unwrap_or(Some(0))?;
    parts.next().is_none().then_some((major, minor, patch))
}
