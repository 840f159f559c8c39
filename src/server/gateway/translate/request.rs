//! Request bodies: Anthropic Messages ⇄ OpenAI Chat Completions.

use serde_json::{json, Map, Value};

use super::{blocks_to_openai_message, openai_message_to_blocks, text_of};

/// Anthropic requires `max_tokens`; OpenAI clients often leave it out.
pub const DEFAULT_MAX_TOKENS: i64 = 4096;

pub fn anthropic_to_openai(req: &Value, upstream_model: &str) -> Value {
    let mut out = Map::new();
    out.insert("model".into(), json!(upstream_model));
    out.insert("messages".into(), Value::Array(anthropic_messages(req)));
    if let Some(v) = req.get("max_tokens") {
        out.insert("max_tokens".into(), v.clone());
    }
    for k in ["temperature", "top_p", "stream"] {
        if let Some(v) = req.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    if let Some(stops) = req.get("stop_sequences") {
        out.insert("stop".into(), stops.clone());
    }
    anthropic_tools_to_openai(req, &mut out);
    if let Some(user) = req.pointer("/metadata/user_id") {
        out.insert("user".into(), user.clone());
    }
    Value::Object(out)
}

/// The system prompt becomes the first message; each turn maps by role.
fn anthropic_messages(req: &Value) -> Vec<Value> {
    let mut messages = Vec::new();
    if let Some(system) = req.get("system") {
        let text = text_of(system);
        if !text.is_empty() {
            messages.push(json!({ "role": "system", "content": text }));
        }
    }
    for (role, m) in turns(req) {
        match m.get("content") {
            Some(Value::Array(blocks)) if role == "assistant" => {
                messages.push(assistant_to_openai(blocks))
            }
            Some(Value::Array(blocks)) => messages.extend(user_to_openai(blocks)),
            Some(other) => messages.push(json!({ "role": role, "content": text_of(other) })),
            None => {}
        }
    }
    messages
}

fn anthropic_tools_to_openai(req: &Value, out: &mut Map<String, Value>) {
    if let Some(tools) = req.get("tools").and_then(Value::as_array) {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| json!({ "type": "function", "function": {
                "name": t.get("name").cloned().unwrap_or(Value::Null),
                "description": t.get("description").cloned().unwrap_or(json!("")),
                "parameters": t.get("input_schema").cloned().unwrap_or(json!({"type": "object"})),
            }}))
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = req.get("tool_choice") {
        let mapped = match choice.get("type").and_then(Value::as_str) {
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => {
                json!({ "type": "function", "function": { "name": choice.get("name") } })
            }
            _ => json!("auto"),
        };
        out.insert("tool_choice".into(), mapped);
    }
}

fn assistant_to_openai(blocks: &[Value]) -> Value {
    let (text, calls) = blocks_to_openai_message(blocks);
    let content = if text.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    let mut msg = json!({ "role": "assistant", "content": content });
    if !calls.is_empty() {
        msg["tool_calls"] = Value::Array(calls);
    }
    msg
}

/// Tool results become `tool` messages, which OpenAI wants right after the
/// assistant's calls; the rest of the turn follows as a user message.
fn user_to_openai(blocks: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut parts = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("tool_result") => out.push(json!({
                "role": "tool",
                "tool_call_id": b.get("tool_use_id"),
                "content": b.get("content").map(text_of).unwrap_or_default(),
            })),
            Some("text") => parts.push(json!({ "type": "text", "text": b.get("text") })),
            Some("image") => {
                let src = b.get("source").cloned().unwrap_or_default();
                let url = match src.get("type").and_then(Value::as_str) {
                    Some("base64") => format!(
                        "data:{};base64,{}",
                        src.get("media_type")
                            .and_then(Value::as_str)
                            .unwrap_or("image/png"),
                        src.get("data").and_then(Value::as_str).unwrap_or("")
                    ),
                    _ => src
                        .get("url")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                };
                parts.push(json!({ "type": "image_url", "image_url": { "url": url } }));
            }
            _ => {}
        }
    }
    if !parts.is_empty() {
        let all_text = parts.iter().all(|p| p["type"] == "text");
        let content = if all_text {
            json!(parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"))
        } else {
            Value::Array(parts)
        };
        out.push(json!({ "role": "user", "content": content }));
    }
    out
}

pub fn openai_to_anthropic(req: &Value, upstream_model: &str) -> Value {
    let (system, messages) = openai_turns(req);
    let mut out = Map::new();
    out.insert("model".into(), json!(upstream_model));
    let max = req
        .get("max_completion_tokens")
        .or_else(|| req.get("max_tokens"))
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    out.insert("max_tokens".into(), json!(max));
    if !system.is_empty() {
        out.insert("system".into(), json!(system.join("\n\n")));
    }
    out.insert("messages".into(), Value::Array(messages));
    openai_sampling_to_anthropic(req, &mut out);
    openai_tools_to_anthropic(req, &mut out);
    if let Some(user) = req.get("user") {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }
    Value::Object(out)
}

/// System and developer messages gather into Anthropic's `system`; the
/// other turns become content blocks, consecutive same-role turns merged.
fn openai_turns(req: &Value) -> (Vec<String>, Vec<Value>) {
    let mut system = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for (role, m) in turns(req) {
        let content = m.get("content").cloned().unwrap_or(Value::Null);
        let (role, blocks) = match role {
            "system" | "developer" => {
                system.push(text_of(&content));
                continue;
            }
            "assistant" => ("assistant", openai_message_to_blocks(m)),
            "tool" => (
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": m.get("tool_call_id"),
                    "content": text_of(&content),
                })],
            ),
            _ => ("user", user_blocks(&content)),
        };
        if blocks.is_empty() {
            continue;
        }
        // Anthropic wants turns to alternate: merge consecutive same-role turns.
        match messages.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(arr) = last["content"].as_array_mut() {
                    arr.extend(blocks);
                }
            }
            _ => messages.push(json!({ "role": role, "content": blocks })),
        }
    }
    (system, messages)
}

fn openai_sampling_to_anthropic(req: &Value, out: &mut Map<String, Value>) {
    if let Some(t) = req.get("temperature").and_then(Value::as_f64) {
        // OpenAI's range is 0–2, Anthropic's 0–1.
        out.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
    }
    for k in ["top_p", "stream"] {
        if let Some(v) = req.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    match req.get("stop") {
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(a)) => {
            out.insert("stop_sequences".into(), Value::Array(a.clone()));
        }
        _ => {}
    }
}

fn openai_tools_to_anthropic(req: &Value, out: &mut Map<String, Value>) {
    if let Some(tools) = req.get("tools").and_then(Value::as_array) {
        let tools: Vec<Value> = tools
            .iter()
            .filter_map(|t| t.get("function"))
            .map(|f| json!({
                "name": f.get("name"),
                "description": f.get("description").cloned().unwrap_or(json!("")),
                "input_schema": f.get("parameters").cloned().unwrap_or(json!({"type": "object", "properties": {}})),
            }))
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = req.get("tool_choice") {
        let mapped = match choice {
            Value::String(s) if s == "required" => json!({ "type": "any" }),
            Value::String(s) if s == "none" => json!({ "type": "none" }),
            Value::Object(_) => json!({ "type": "tool", "name": choice.pointer("/function/name") }),
            _ => json!({ "type": "auto" }),
        };
        out.insert("tool_choice".into(), mapped);
    }
}

fn user_blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) => vec![json!({ "type": "text", "text": s })],
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p.get("type").and_then(Value::as_str) {
                Some("text") => Some(json!({ "type": "text", "text": p.get("text") })),
                Some("image_url") => {
                    let url = p
                        .pointer("/image_url/url")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    Some(image_block(url))
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn image_block(url: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((media, data)) = rest.split_once(";base64,") {
            return json!({ "type": "image", "source": { "type": "base64", "media_type": media, "data": data } });
        }
    }
    json!({ "type": "image", "source": { "type": "url", "url": url } })
}

/// The request's messages with their roles (`user` when a role is absent).
fn turns(req: &Value) -> impl Iterator<Item = (&str, &Value)> {
    let messages = req.get("messages").and_then(Value::as_array);
    messages.into_iter().flatten().map(|m| {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
        (role, m)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_request_becomes_openai() {
        let req = json!({
            "model": "claude", "max_tokens": 100, "system": [{"type": "text", "text": "Be brief."}],
            "temperature": 0.5, "top_k": 5, "stop_sequences": ["END"], "stream": true,
            "metadata": {"user_id": "u1"},
            "tools": [{"name": "get_weather", "description": "d", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "get_weather"},
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "tu_1", "name": "get_weather", "input": {"city": "Oslo"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "tu_1", "content": "cold"},
                    {"type": "text", "text": "Thanks"}]}
            ]
        });
        let o = anthropic_to_openai(&req, "gpt-x");
        assert_eq!(o["model"], "gpt-x");
        assert_eq!(
            o["messages"][0],
            json!({"role": "system", "content": "Be brief."})
        );
        assert_eq!(o["messages"][1], json!({"role": "user", "content": "Hi"}));
        assert_eq!(
            o["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Oslo\"}"
        );
        assert_eq!(
            o["messages"][3],
            json!({"role": "tool", "tool_call_id": "tu_1", "content": "cold"})
        );
        assert_eq!(
            o["messages"][4],
            json!({"role": "user", "content": "Thanks"})
        );
        assert_eq!(o["stop"], json!(["END"]));
        assert_eq!(o["user"], "u1");
        assert_eq!(
            o["tools"][0]["function"]["parameters"],
            json!({"type": "object"})
        );
        assert_eq!(o["tool_choice"]["function"]["name"], "get_weather");
        assert!(o.get("top_k").is_none());
    }

    #[test]
    fn openai_request_becomes_anthropic() {
        let req = json!({
            "model": "gpt", "temperature": 1.7, "stop": "END", "user": "u2",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Look"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "42"},
                {"role": "user", "content": "So?"}
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": "required"
        });
        let a = openai_to_anthropic(&req, "claude-x");
        assert_eq!(a["model"], "claude-x");
        assert_eq!(a["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(a["system"], "Be brief.");
        assert_eq!(a["temperature"], 1.0);
        assert_eq!(a["stop_sequences"], json!(["END"]));
        assert_eq!(a["metadata"]["user_id"], "u2");
        assert_eq!(
            a["messages"][0]["content"][1]["source"]["media_type"],
            "image/png"
        );
        assert_eq!(a["messages"][1]["content"][0]["input"], json!({"a": 1}));
        // The tool result and the next user text merge into one user turn.
        assert_eq!(a["messages"][2]["content"][0]["type"], "tool_result");
        assert_eq!(a["messages"][2]["content"][1]["text"], "So?");
        assert_eq!(a["tool_choice"], json!({"type": "any"}));
        assert_eq!(a["tools"][0]["input_schema"], json!({"type": "object"}));
    }

    #[test]
    fn max_completion_tokens_wins() {
        let req = json!({"messages": [], "max_tokens": 5, "max_completion_tokens": 9});
        assert_eq!(openai_to_anthropic(&req, "m")["max_tokens"], 9);
    }
}
