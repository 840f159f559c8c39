//! A non-streamed answer: read the provider's body (by the end of the
//! provider's timeout, counted from the call), convert it to the client's dialect, apply response rules,
//! settle, and answer with the rate-limit headers.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use super::answer::{deprecation_headers, finish_headers, Called};
use super::dialect::Dialect;
use super::error::GatewayError;
use super::raw_json::{span, splice};
use super::settle::Settlement;
use super::translate::{response, usage};
use super::{govern, Gateway};
use crate::domain::pricing::TokenCounts;

/// The largest answer read from a provider: far above any model's output
/// (a million tokens of JSON), so a broken or hostile endpoint cannot make
/// the gateway buffer without end.
const ANSWER_LIMIT: usize = 64 << 20;

pub async fn respond(gw: &Gateway, mut settle: Settlement, called: Called) -> Response {
    let provider = Dialect::of(called.answer.provider().kind);
    let deadline = called.answer.deadline;
    let body = Limited::new(called.answer.response.into_body(), ANSWER_LIMIT).collect();
    let bytes = match tokio::time::timeout_at(deadline, body).await {
        Ok(Ok(body)) => body.to_bytes(),
        Ok(Err(e)) => {
            if e.is::<LengthLimitError>() {
                tracing::warn!(provider = %called.answer.entry.provider.name,
                    "a provider's answer passed {ANSWER_LIMIT} bytes");
            }
            return settle.refuse(GatewayError::UpstreamUnavailable).await;
        }
        Err(_) => return settle.refuse(GatewayError::UpstreamTimeout).await,
    };
    let Some((out, tokens)) = convert(settle.dialect(), provider, &bytes, settle.model()) else {
        return settle.refuse(GatewayError::UpstreamUnavailable).await;
    };
    settle.used(tokens);
    let out = match govern::response(gw, &called.auth, settle.request_id(), out).await {
        Ok(out) => out,
        Err(e) => return settle.refuse(e).await,
    };
    if settle.logging() {
        settle.log_response(&String::from_utf8_lossy(&out));
    }
    let mut res = Response::new(Body::from(out));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    finish_headers(
        &mut res,
        settle.dialect(),
        &called.rate,
        settle.request_id(),
    );
    deprecation_headers(&mut res, called.deprecation);
    settle.finish(200, None).await;
    res
}

/// The client's body and the usage it reports. When the dialects match,
/// the provider's bytes pass through as they came: only the top level's
/// `model` is replaced by what the client asked for, in place.
fn convert(
    client: Dialect,
    provider: Dialect,
    bytes: &[u8],
    model: &str,
) -> Option<(Vec<u8>, TokenCounts)> {
    let read_usage = |u: &Value| match provider {
        Dialect::Anthropic => usage::from_anthropic(u),
        Dialect::OpenAi => usage::from_openai(u),
    };
    if client == provider {
        let data = std::str::from_utf8(bytes).ok()?;
        let top: TopLevel = serde_json::from_str(data).ok()?;
        if top.duplicated {
            return deduplicated(data, model, read_usage);
        }
        let tokens = top.usage.map(|raw| usage_of(raw, read_usage));
        let edits = match top.model {
            Some(raw) => vec![(span(data, raw)?, serde_json::to_string(model).ok()?)],
            None => Vec::new(),
        };
        return Some((splice(data, edits).into_bytes(), tokens.unwrap_or_default()));
    }
    let upstream: Value = serde_json::from_slice(bytes).ok()?;
    let tokens = read_usage(upstream.get("usage").unwrap_or(&Value::Null));
    let out = match client {
        Dialect::Anthropic => response::openai_to_anthropic(&upstream, model),
        Dialect::OpenAi => response::anthropic_to_openai(&upstream, model),
    };
    Some((serde_json::to_vec(&out).ok()?, tokens))
}

fn usage_of(raw: &RawValue, read: impl Fn(&Value) -> TokenCounts) -> TokenCounts {
    serde_json::from_str::<Value>(raw.get()).map_or_else(|_| TokenCounts::default(), |u| read(&u))
}

/// A top level that names a member twice is rebuilt with one of each (the
/// last, as response rules and usage read it): passed as it came, a
/// client that keeps the first would see a `choices` or `usage` that was
/// neither scanned nor billed.
fn deduplicated(
    data: &str,
    model: &str,
    read_usage: impl Fn(&Value) -> TokenCounts,
) -> Option<(Vec<u8>, TokenCounts)> {
    let mut top: HashMap<String, Box<RawValue>> = serde_json::from_str(data).ok()?;
    let tokens = top.get("usage").map(|raw| usage_of(raw, read_usage));
    if top.contains_key("model") {
        top.insert("model".into(), serde_json::value::to_raw_value(model).ok()?);
    }
    Some((serde_json::to_vec(&top).ok()?, tokens.unwrap_or_default()))
}

/// A provider's answer as the passthrough reads it: a JSON object whose
/// `model` (borrowed, to be replaced where it lies) and `usage` are kept,
/// every other member checked to be JSON and skipped, and whether any
/// member was named twice.
struct TopLevel<'a> {
    model: Option<&'a RawValue>,
    usage: Option<&'a RawValue>,
    duplicated: bool,
}

/// A member's name, decoded (an escaped `"mod\u0065l"` is `model` too),
/// borrowed unless it had escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(NameVisitor)
    }
}

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TopVisitor;
        impl<'de> Visitor<'de> for TopVisitor {
            type Value = TopLevel<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut top = TopLevel {
                    model: None,
                    usage: None,
                    duplicated: false,
                };
                let mut seen = HashSet::new();
                while let Some(Name(name)) = map.next_key::<Name>()? {
                    let value: &'de RawValue = map.next_value()?;
                    match name.as_ref() {
                        "model" => top.model = Some(value),
                        "usage" => top.usage = Some(value),
                        _ => {}
                    }
                    top.duplicated |= !seen.insert(name);
                }
                Ok(top)
            }
        }
        d.deserialize_map(TopVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"{"id":"chatcmpl-1", "object":"chat.completion","model":"gpt-x-2024",
        "choices":[{"index":0,"message":{"role":"assistant","content":"hi","model":"inner"}}],
        "usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#;

    fn passthrough(body: &str) -> Option<(String, TokenCounts)> {
        let (out, tokens) = convert(Dialect::OpenAi, Dialect::OpenAi, body.as_bytes(), "bench")?;
        Some((String::from_utf8(out).unwrap(), tokens))
    }

    #[test]
    fn a_passthrough_answer_keeps_its_bytes_and_renames_only_the_top_model() {
        let (out, tokens) = passthrough(ANSWER).unwrap();
        assert_eq!(
            out,
            ANSWER.replace(r#""model":"gpt-x-2024""#, r#""model":"bench""#)
        );
        assert_eq!((tokens.input, tokens.output), (12, 3));
    }

    #[test]
    fn a_member_named_twice_is_sent_once_as_scanned_and_billed() {
        // However it is spelled: the last `choices` and `usage` are what
        // response rules scan and the ledger bills, so only they are sent.
        let body = r#"{"model":"a","choices":[{"message":{"content":"jane@example.com"}}],
            "usage":{"prompt_tokens":1,"completion_tokens":1},"x":{"model":"c"},
            "ch\u006fices":[{"message":{"content":"clean"}}],"mod\u0065l" : "d",
            "usage":{"prompt_tokens":7,"completion_tokens":9}}"#;
        let (out, tokens) = passthrough(body).unwrap();
        assert_eq!((tokens.input, tokens.output), (7, 9));
        assert!(!out.contains("jane@example.com"), "{out}");
        let v: serde_json::Map<String, Value> = serde_json::from_str(&out).unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v["model"], "bench");
        assert_eq!(v["choices"][0]["message"]["content"], "clean");
        assert_eq!(v["x"]["model"], "c");
        assert_eq!(out.matches("\"model\"").count(), 2, "{out}");
        for dup in ["choices", "usage"] {
            assert_eq!(out.matches(&format!("\"{dup}\"")).count(), 1, "{out}");
        }
    }

    #[test]
    fn an_escaped_model_is_renamed_in_place() {
        let (out, _) = passthrough(r#"{"id":1, "mod\u0065l" :"x"}"#).unwrap();
        assert_eq!(out, r#"{"id":1, "mod\u0065l" :"bench"}"#);
    }

    #[test]
    fn the_name_asked_for_is_written_as_json() {
        let (out, _) = convert(
            Dialect::OpenAi,
            Dialect::OpenAi,
            br#"{"model":"m"}"#,
            "a\"b",
        )
        .unwrap();
        assert_eq!(out, br#"{"model":"a\"b"}"#);
        // No `model`: none is added, as before.
        let (out, _) = passthrough(r#"{"id":"x"}"#).unwrap();
        assert_eq!(out, r#"{"id":"x"}"#);
    }

    #[test]
    fn what_is_not_one_json_object_is_refused() {
        for body in [
            r#"[{"model":"m"}]"#,
            r#"{"model":"m"} {}"#,
            r#"{"model":"m","x":tru}"#,
            "\u{ff}",
            "",
        ] {
            assert!(passthrough(body).is_none(), "{body}");
        }
        assert!(convert(Dialect::OpenAi, Dialect::OpenAi, b"{\"x\":\"\xff\"}", "m").is_none());
    }
}
