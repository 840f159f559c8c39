//! Server-side tools: tools the provider runs itself (Anthropic's web
//! search and web fetch), each use adding a per-use fee and result tokens
//! that the request's bytes do not bound. They are refused unless a
//! platform admin allows them for the model (`ServerTools`); where
//! allowed, every such tool carries `max_uses` (at most the model's,
//! written in when the client set none), so the most a request can cost is
//! known before it is sent: uses × (per-use price + allowance tokens at the
//! dearest input price).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{fields, CompletionRequest, RequestError};
use crate::domain::validation::Invalid;

/// Most uses one request may be allowed per model.
pub const MAX_USES: i64 = 100;
/// Most result tokens one use may be allowed.
pub const MAX_TOKENS_PER_USE: i64 = 1_000_000;

/// What a platform admin allows one model's server-side tools: at most
/// `max_uses` uses per tool in a request (0: refused), each held as
/// `tokens_per_use` input tokens. Web fetch is held to that with its own
/// `max_content_tokens`; web search results have no field to bound them,
/// so for search the allowance is the operator's bound (README).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServerTools {
    pub max_uses: i64,
    pub tokens_per_use: i64,
}

impl ServerTools {
    pub fn new(max_uses: i64, tokens_per_use: i64) -> Result<Self, Invalid> {
        if !(0..=MAX_USES).contains(&max_uses) {
            return Err(Invalid::new(
                "max_uses",
                "from 0 (refused) to 100 uses per tool",
            ));
        }
        if max_uses > 0 && !(1..=MAX_TOKENS_PER_USE).contains(&tokens_per_use) {
            return Err(Invalid::new(
                "tokens_per_use",
                "from 1 to 1,000,000 tokens held per use",
            ));
        }
        Ok(Self {
            max_uses,
            tokens_per_use: if max_uses == 0 { 0 } else { tokens_per_use },
        })
    }

    pub fn allowed(&self) -> bool {
        self.max_uses > 0
    }
}

/// A request's server-side tools as bounded: uses at most, and the tokens
/// held per use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolUses {
    pub uses: i64,
    pub tokens_per_use: i64,
}

/// Tool kinds with a per-request use limit the gateway can set.
fn kind(ty: &str) -> Option<Bounded> {
    if ty.starts_with("web_search") {
        Some(Bounded::Search)
    } else if ty.starts_with("web_fetch") {
        Some(Bounded::Fetch)
    } else {
        None
    }
}

#[derive(Clone, Copy)]
enum Bounded {
    Search,
    Fetch,
}

fn refused(what: &str, why: &str) -> RequestError {
    RequestError::Invalid(format!(
        "tools: {what} runs on the provider and {why}; server-side tools are not accepted here"
    ))
}

impl CompletionRequest {
    /// Bounds the request's server-side tools under `allow`, writing
    /// `max_uses` (and web fetch's `max_content_tokens`) where the client
    /// set none. Refused: any server tool when the model allows none; the
    /// provider's MCP connector, OpenAI's search options, code execution
    /// and tool search, whose uses or billing no field bounds; a limit
    /// above the model's.
    pub fn bound_server_tools(&mut self, allow: ServerTools) -> Result<ToolUses, RequestError> {
        for key in ["web_search_options", "mcp_servers"] {
            if self.body.get(key).is_some_and(|v| !v.is_null()) {
                return Err(refused(key, "its uses cannot be bounded per request"));
            }
        }
        let Some(tools) = self.body.get_mut("tools").and_then(Value::as_array_mut) else {
            return Ok(ToolUses::default());
        };
        let mut uses: i64 = 0;
        for (i, tool) in tools.iter_mut().enumerate() {
            let Some(ty) = tool.get("type").and_then(Value::as_str) else {
                continue;
            };
            if !fields::is_server_tool(ty) {
                continue;
            }
            if !allow.allowed() {
                let ty = ty.to_string();
                return Err(refused(&ty, "is not enabled for this model"));
            }
            let Some(bounded) = kind(ty) else {
                let ty = ty.to_string();
                return Err(refused(&ty, "is billed in ways no request field bounds"));
            };
            uses = uses.saturating_add(limit(tool, i, "max_uses", allow.max_uses)?);
            if let Bounded::Fetch = bounded {
                limit(tool, i, "max_content_tokens", allow.tokens_per_use)?;
            }
        }
        let bound = ToolUses {
            uses,
            tokens_per_use: if uses > 0 { allow.tokens_per_use } else { 0 },
        };
        self.server_tools = bound;
        Ok(bound)
    }
}

/// `tool[field]`: a positive integer at most `most`, or `most` written in.
fn limit(tool: &mut Value, i: usize, field: &str, most: i64) -> Result<i64, RequestError> {
    let Some(obj) = tool.as_object_mut() else {
        return Ok(0);
    };
    match obj.get(field) {
        None | Some(Value::Null) => {
            obj.insert(field.into(), Value::from(most));
            Ok(most)
        }
        Some(v) => match v.as_i64().filter(|n| (1..=most).contains(n)) {
            Some(n) => Ok(n),
            None => Err(RequestError::Invalid(format!(
                "tools[{i}].{field}: an integer from 1 to {most} for this model"
            ))),
        },
    }
}
