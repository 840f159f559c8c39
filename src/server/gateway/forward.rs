//! The body a provider receives: the client's body passed through with
//! only the model (and OpenAI's usage option) swapped when the dialects
//! match, or translated when they differ. Serialized straight from the
//! client's parsed body: no copy of it per deployment or attempt.

use bytes::Bytes;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Map, Value};

use super::error::GatewayError;
use super::translate::request;
use crate::domain::catalog::Deployment;
use crate::domain::completion::{CompletionRequest, Dialect};

pub fn body_for(req: &CompletionRequest, d: &Deployment) -> Result<Bytes, GatewayError> {
    let mut overrides = vec![("model", json!(d.upstream_model))];
    // A streamed OpenAI call must report usage, whoever the client is.
    if req.stream && Dialect::of(d.provider.kind) == Dialect::OpenAi {
        overrides.push(("stream_options", json!({ "include_usage": true })));
    }
    let encoded = if req.dialect.matches(d.provider.kind) {
        let body = req
            .body
            .as_object()
            .ok_or_else(|| GatewayError::Internal("a parsed body is not an object".into()))?;
        serde_json::to_vec(&WithOverrides {
            body,
            overrides: &overrides,
        })
    } else {
        let translated = match req.dialect {
            Dialect::Anthropic => request::anthropic_to_openai(&req.body, &d.upstream_model),
            Dialect::OpenAi => request::openai_to_anthropic(&req.body, &d.upstream_model),
        };
        let Value::Object(body) = translated else {
            return Err(GatewayError::Internal(
                "a translated body is not an object".into(),
            ));
        };
        serde_json::to_vec(&WithOverrides {
            body: &body,
            overrides: &overrides,
        })
    };
    encoded
        .map(Bytes::from)
        .map_err(|e| GatewayError::Internal(format!("encoding the upstream body: {e}")))
}

/// A JSON object with some members replaced or added, written without
/// copying the rest.
struct WithOverrides<'a> {
    body: &'a Map<String, Value>,
    overrides: &'a [(&'static str, Value)],
}

impl Serialize for WithOverrides<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.body {
            if !self.overrides.iter().any(|(o, _)| o == k) {
                map.serialize_entry(k, v)?;
            }
        }
        for (k, v) in self.overrides {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::{Provider, ProviderKind};

    fn deployment(kind: ProviderKind) -> Deployment {
        Deployment {
            provider: Provider {
                id: "p".into(),
                name: "p".into(),
                kind,
                base_url: "http://127.0.0.1:1".into(),
                region: "any".into(),
                timeout_ms: 1000,
                credential: "none".into(),
            },
            upstream_model: "upstream-m".into(),
            priority: 0,
        }
    }

    fn forward(dialect: Dialect, kind: ProviderKind, body: &str) -> Value {
        let req = CompletionRequest::parse(dialect, body.as_bytes()).expect("valid");
        let bytes = body_for(&req, &deployment(kind)).expect("encoded");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[test]
    fn passthrough_swaps_the_model_and_keeps_the_rest() {
        let out = forward(
            Dialect::Anthropic,
            ProviderKind::Anthropic,
            r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"top_k":3}"#,
        );
        assert_eq!(out["model"], "upstream-m");
        assert_eq!(out["top_k"], 3);
        assert_eq!(out["messages"][0]["content"], "x");
    }

    #[test]
    fn streamed_openai_calls_ask_for_usage() {
        let out = forward(
            Dialect::OpenAi,
            ProviderKind::Openai,
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"x"}]}"#,
        );
        assert_eq!(out["stream_options"]["include_usage"], true);
        let translated = forward(
            Dialect::Anthropic,
            ProviderKind::Openai,
            r#"{"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"x"}]}"#,
        );
        assert_eq!(translated["stream_options"]["include_usage"], true);
        assert_eq!(translated["model"], "upstream-m");
    }

    #[test]
    fn other_dialects_are_translated() {
        let out = forward(
            Dialect::OpenAi,
            ProviderKind::Anthropic,
            r#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"x"}]}"#,
        );
        assert_eq!(out["model"], "upstream-m");
        assert!(
            out.get("max_tokens").is_some(),
            "anthropic needs max_tokens"
        );
        assert!(out.get("stream_options").is_none());
    }
}
