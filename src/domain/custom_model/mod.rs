//! Custom models: a tenant's LoRA adapter on a catalog base model, its
//! versions and their lifecycle. Pure rules; the registry, validation I/O,
//! engines and routing live in `server::services::custom_models`.

pub mod peft;
pub mod placement;
pub mod safetensors;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::price::{PriceHistory, PriceVersion};
use super::pricing::Price;
use super::time::Millis;
use super::validation::Invalid;

/// Where a version stands. `Training` is registered by an external job and
/// not servable; `Deploying`, `Deployed` and `Deprecated` are on engines.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Training,
    Validating,
    Ready,
    Deploying,
    Deployed,
    Failed,
    Deprecated,
    Retired,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Training,
        Status::Validating,
        Status::Ready,
        Status::Deploying,
        Status::Deployed,
        Status::Failed,
        Status::Deprecated,
        Status::Retired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Training => "training",
            Status::Validating => "validating",
            Status::Ready => "ready",
            Status::Deploying => "deploying",
            Status::Deployed => "deployed",
            Status::Failed => "failed",
            Status::Deprecated => "deprecated",
            Status::Retired => "retired",
        }
    }

    /// The lifecycle's edges; anything else is refused. Undeploying goes
    /// back to `Ready`, so a version can be deployed again; `Retired` is
    /// final, and `Failed` may be validated again once the adapter is fixed.
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Training, Validating)
                | (Training, Retired)
                | (Validating, Ready)
                | (Validating, Failed)
                | (Ready, Deploying)
                | (Ready, Retired)
                | (Deploying, Deployed)
                | (Deploying, Failed)
                | (Deploying, Ready)
                | (Deployed, Deprecated)
                | (Deployed, Ready)
                | (Deprecated, Deployed)
                | (Deprecated, Ready)
                | (Deprecated, Retired)
                | (Failed, Validating)
                | (Failed, Retired)
        )
    }

    /// Checked move: `Err` names both ends.
    pub fn step(self, next: Status) -> Result<Status, Invalid> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(Invalid::new(
                "status",
                format!("a {} version cannot become {}", self, next),
            ))
        }
    }

    /// Whether engines should hold it (requests may reach it).
    pub fn on_engines(self) -> bool {
        matches!(
            self,
            Status::Deploying | Status::Deployed | Status::Deprecated
        )
    }

    /// Whether a request may be routed to it.
    pub fn servable(self) -> bool {
        matches!(self, Status::Deployed | Status::Deprecated)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Status::ALL
            .into_iter()
            .find(|x| x.as_str() == s.trim())
            .ok_or_else(|| Invalid::new("status", format!("unknown status {s:?}")))
    }
}

/// Where the serving engine reads the adapter from.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "at", rename_all = "snake_case")]
pub enum AdapterSource {
    /// A directory on a filesystem both Atrium and the engines see.
    Local(String),
    /// An `s3://` or `https://` URI only the engine reads.
    Remote(String),
}

impl AdapterSource {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        let bad = |m: &str| Invalid::new("adapter", m.to_string());
        if s.is_empty() || s.len() > 2048 || s.chars().any(char::is_control) {
            return Err(bad("must be a path or URI of at most 2048 characters"));
        }
        if let Some(rest) = s
            .strip_prefix("s3://")
            .or_else(|| s.strip_prefix("https://"))
        {
            if rest.is_empty() || rest.starts_with('/') {
                return Err(bad("must name a bucket or host"));
            }
            return Ok(AdapterSource::Remote(s.to_string()));
        }
        if s.contains("://") {
            return Err(bad("must be a local path, s3:// or https://"));
        }
        if !s.starts_with('/') {
            return Err(bad("a local path must be absolute"));
        }
        Ok(AdapterSource::Local(s.trim_end_matches('/').to_string()))
    }

    /// A remote adapter must lie under one of the operator's prefixes for
    /// this tenant (`{tenant}` in a prefix stands for its id), so a tenant
    /// cannot make the engines fetch another tenant's adapter or any URL.
    /// A local one is checked against its folder elsewhere.
    pub fn check_remote(&self, prefixes: &[String], tenant: &str) -> Result<(), Invalid> {
        let AdapterSource::Remote(uri) = self else {
            return Ok(());
        };
        let refused = || {
            Invalid::new(
                "adapter",
                "a remote adapter must lie under a prefix the operator allows this tenant \
                 (ATRIUM_ADAPTER_REMOTE_PREFIXES)",
            )
        };
        // Whatever could step out of a prefix once decoded or normalised.
        let path = uri.split_once("://").map_or("", |(_, rest)| rest);
        let sneaky = path.split('/').any(|seg| seg == ".." || seg == ".")
            || ['\\', '?', '#', '@', '%'].iter().any(|c| path.contains(*c));
        let under = prefixes.iter().any(|p| {
            let p = p.trim().replace("{tenant}", tenant);
            !p.is_empty() && p.ends_with('/') && uri.starts_with(&p) && uri.len() > p.len()
        });
        if sneaky || !under {
            return Err(refused());
        }
        Ok(())
    }

    /// What the engine is told to load.
    pub fn as_str(&self) -> &str {
        match self {
            AdapterSource::Local(p) | AdapterSource::Remote(p) => p,
        }
    }
}

/// A custom model's name: unique in its tenant, and never containing `:`,
/// which separates a version in a request (`support-bot:2`).
pub fn name(raw: &str) -> Result<String, Invalid> {
    super::catalog::slug("name", raw)
}

/// `name` or `name:version` as a client asks for it.
pub fn requested(model: &str) -> (&str, Option<u32>) {
    match model.rsplit_once(':') {
        Some((n, v)) => match v.parse::<u32>() {
            Ok(v) if v > 0 => (n, Some(v)),
            _ => (model, None),
        },
        None => (model, None),
    }
}

/// The name engines know a version by: unique across tenants, and marked
/// as Atrium's so the reconciler leaves other adapters alone.
pub const ENGINE_PREFIX: &str = "atrium-";

pub fn engine_name(version_id: &str) -> String {
    format!("{ENGINE_PREFIX}{version_id}")
}

/// One version of a tenant's custom model.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomModel {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub version: u32,
    pub base_model: String,
    pub adapter: AdapterSource,
    pub rank: Option<u32>,
    pub alpha: Option<f64>,
    pub target_modules: Vec<String>,
    pub fine_tune_config: serde_json::Value,
    pub status: Status,
    /// Why it failed, or what validation could not check.
    pub status_reason: Option<String>,
    pub pinned: bool,
    /// Own token prices (micro-dollars per million); `None`: the base
    /// model's plus `markup_percent`.
    pub input_per_mtok: Option<i64>,
    pub output_per_mtok: Option<i64>,
    pub markup_percent: i64,
    pub hosting_fee_micros: i64,
    /// When a deprecated version stops being served.
    pub deprecated_until: Option<Millis>,
    /// When a request last asked for it, as last flushed (0: never).
    pub last_used_at: Millis,
    /// Whether requests for the bare name reach this version.
    pub active: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl CustomModel {
    pub fn engine_name(&self) -> String {
        engine_name(&self.id)
    }

    /// The name requests and usage know this version by.
    pub fn versioned_name(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }

    /// What its tokens cost over time: its own input and output prices
    /// when it has them, else the base model's plus the markup; cache and
    /// per-request prices always follow the base model's, marked up. Each
    /// of the base model's versions gives one version here, so a base
    /// price change moves the custom model's price with it.
    pub fn prices(&self, base: &PriceHistory) -> PriceHistory {
        let up = |m: i64| m.saturating_mul(100 + self.markup_percent) / 100;
        PriceHistory::new(
            base.versions()
                .iter()
                .map(|v| PriceVersion {
                    effective_from: v.effective_from,
                    price: Price {
                        input_per_mtok: self.input_per_mtok.unwrap_or(up(v.price.input_per_mtok)),
                        output_per_mtok: self
                            .output_per_mtok
                            .unwrap_or(up(v.price.output_per_mtok)),
                        cache_read_per_mtok: up(v.price.cache_read_per_mtok),
                        cache_write_per_mtok: up(v.price.cache_write_per_mtok),
                        per_request: up(v.price.per_request),
                        // Engines run no provider-side tools.
                        per_server_tool_use: 0,
                    },
                })
                .collect(),
        )
    }
}

/// Grace before a deprecated version is retired, unless told otherwise.
pub const DEFAULT_GRACE_MS: Millis = 7 * 24 * 3600 * 1000;

/// A markup in percent, bounded so prices stay sane.
pub fn markup_percent(raw: i64) -> Result<i64, Invalid> {
    if (0..=1000).contains(&raw) {
        Ok(raw)
    } else {
        Err(Invalid::new("markup_percent", "must be 0 to 1000"))
    }
}

/// What a person can do to a version from the portal or the API.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Validate,
    Deploy,
    Undeploy,
    Rollback,
    Deprecate,
    Retire,
    Pin,
    Unpin,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::Validate,
        Action::Deploy,
        Action::Undeploy,
        Action::Rollback,
        Action::Deprecate,
        Action::Retire,
        Action::Pin,
        Action::Unpin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Validate => "validate",
            Action::Deploy => "deploy",
            Action::Undeploy => "undeploy",
            Action::Rollback => "rollback",
            Action::Deprecate => "deprecate",
            Action::Retire => "retire",
            Action::Pin => "pin",
            Action::Unpin => "unpin",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == raw.trim())
            .ok_or_else(|| Invalid::new("action", format!("unknown action {raw:?}")))
    }

    /// The actions that make sense for a version in this state (the
    /// service checks again; this only decides which buttons to show).
    /// The actions a version's admins may take now; pinning only for
    /// platform admins (`pin`), who alone may keep an adapter resident.
    pub fn offered(m: &CustomModel, pin: bool) -> Vec<Action> {
        let mut out: Vec<Action> = [
            (Action::Validate, Status::Validating),
            (Action::Deploy, Status::Deploying),
            (Action::Undeploy, Status::Ready),
            (Action::Deprecate, Status::Deprecated),
            (Action::Retire, Status::Retired),
        ]
        .into_iter()
        .filter(|(_, next)| m.status.can_become(*next))
        .map(|(a, _)| a)
        .collect();
        if m.status.servable() && !m.active {
            out.push(Action::Rollback);
        }
        if pin && m.status.on_engines() {
            out.push(if m.pinned { Action::Unpin } else { Action::Pin });
        }
        out
    }
}
