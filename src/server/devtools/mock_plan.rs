//! What `atrium mock-upstream` answers: an echo of the last user message
//! (or a tool call), cut at stop sequences and `max_tokens`, in words or
//! fixed-size pieces.

use serde_json::{json, Value};

pub(super) fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| {
                p.get("text")
                    .and_then(Value::as_str)
                    .or_else(|| p.get("content").and_then(Value::as_str))
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

pub(super) fn words(s: &str) -> i64 {
    s.split_whitespace().count() as i64
}

/// What the mock will say: the reply words, or a tool call.
pub(super) struct Plan {
    pub prompt_tokens: i64,
    pub reply: Vec<String>,
    pub tool: Option<(String, Value)>,
    pub stopped_by: &'static str,
}

pub(super) fn plan(
    body: &Value,
    system: &str,
    max_tokens: i64,
    stops: &[String],
    tool_names: Vec<String>,
    tool_allowed: bool,
) -> Plan {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let prompt_tokens = (words(system)
        + messages
            .iter()
            .map(|m| words(&text_of(m.get("content").unwrap_or(&Value::Null))))
            .sum::<i64>())
    .max(1);
    let last_user = last_user(&messages);
    let last_is_tool_result = messages.last().is_some_and(|m| {
        m.get("role").and_then(Value::as_str) == Some("tool")
            || m.pointer("/content/0/type").and_then(Value::as_str) == Some("tool_result")
    });
    if tool_allowed && !last_is_tool_result {
        if let Some(name) = tool_names.into_iter().next() {
            return Plan {
                prompt_tokens,
                reply: Vec::new(),
                tool: Some((name, json!({ "query": last_user }))),
                stopped_by: "tool",
            };
        }
    }
    let mut text = format!("echo: {last_user}");
    let mut stopped_by = "end";
    if let Some(s) = stops
        .iter()
        .find(|s| !s.is_empty() && text.contains(s.as_str()))
    {
        text.truncate(text.find(s.as_str()).unwrap_or(text.len()));
        stopped_by = "stop";
    }
    let mut reply: Vec<String> = text.split_inclusive(' ').map(str::to_string).collect();
    if reply.len() as i64 > max_tokens {
        reply.truncate(max_tokens.max(0) as usize);
        stopped_by = "length";
    }
    Plan {
        prompt_tokens,
        reply,
        tool: None,
        stopped_by,
    }
}

/// The reply cut into pieces of `n` characters (`n` = 0: as it is).
pub(super) fn repiece(reply: Vec<String>, n: usize) -> Vec<String> {
    if n == 0 {
        return reply;
    }
    let chars: Vec<char> = reply.concat().chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

pub(super) fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// A tool call's arguments as the stream sends them: in pieces of `n`
/// characters like the text (`n` = 0: whole).
pub(super) fn argument_pieces(input: &Value, n: usize) -> Vec<String> {
    repiece(vec![input.to_string()], n)
}

/// What a reasoning model thinks before it answers: the question again,
/// so tests can see a value in a thinking or reasoning stream.
pub(super) fn thoughts(body: &Value, n: usize) -> Vec<String> {
    let asked = body.pointer("/thinking/type").and_then(Value::as_str) == Some("enabled")
        || body.get("reasoning_effort").is_some_and(Value::is_string);
    if !asked {
        return Vec::new();
    }
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let words = format!("the user wrote: {}", last_user(messages));
    repiece(words.split_inclusive(' ').map(str::to_string).collect(), n)
}

fn last_user(messages: &[Value]) -> String {
    messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)))
        .unwrap_or_default()
}

/// The reply as long as `max` allows: a word a token, at most a million.
pub(super) fn fill(p: &mut Plan, max: i64) {
    if p.tool.is_none() {
        p.reply = vec!["w ".to_string(); max.clamp(0, 1_000_000) as usize];
        p.stopped_by = "length";
    }
}
