//! The mock provider's handlers: Anthropic's and OpenAI's wire formats,
//! streaming included, answered deterministically (the last user message
//! echoed, or the first tool called when tools are offered).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::mock_frames::{server_tool_use, sse_response, thinking_frames};
use super::mock_plan::{argument_pieces, fill, plan, repiece, strings, text_of, thoughts, words};

use super::mock_options::Mock;

/// The provider's routes over `mock`.
pub(super) fn router(mock: Mock) -> Router {
    Router::new()
        .route("/v1/messages", post(anthropic))
        .route("/v1/chat/completions", post(openai))
        .route("/mock/last-request", get(last_request))
        .with_state(mock)
}

pub(super) async fn last_request(State(m): State<Mock>) -> Json<Value> {
    Json(m.last.lock().map(|v| v.clone()).unwrap_or_default())
}

/// Counts, remembers, waits and maybe fails, as the options say.
async fn admit(m: &Mock, path: &str, headers: &HeaderMap, body: &Value) -> Option<Response> {
    let n = m.count.fetch_add(1, Ordering::SeqCst) + 1;
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    if let Ok(mut last) = m.last.lock() {
        *last = json!({ "path": path, "body": body, "x_api_key": header("x-api-key"),
                        "authorization": header("authorization"),
                        "anthropic_version": header("anthropic-version") });
    }
    if m.opts.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(m.opts.latency_ms)).await;
    }
    if m.opts.fail_every > 0 && n.is_multiple_of(m.opts.fail_every) {
        let err = json!({ "type": "error", "error": { "type": "overloaded_error", "message": "mock failure" } });
        return Some((StatusCode::SERVICE_UNAVAILABLE, Json(err)).into_response());
    }
    None
}

async fn anthropic(State(m): State<Mock>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(r) = admit(&m, "/v1/messages", &headers, &body).await {
        return r;
    }
    let tools: Vec<String> = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    let allowed = body.pointer("/tool_choice/type").and_then(Value::as_str) != Some("none");
    let max = body
        .get("max_tokens")
        .and_then(Value::as_i64)
        .unwrap_or(1024);
    let mut p = plan(
        &body,
        &text_of(body.get("system").unwrap_or(&Value::Null)),
        max,
        &strings(body.get("stop_sequences")),
        tools,
        allowed,
    );
    if m.opts.fill_max_tokens {
        fill(&mut p, max);
    }
    p.reply = repiece(p.reply, m.opts.stream_piece_chars);
    let (fetched, tool_use) = server_tool_use(&body);
    p.prompt_tokens += fetched;
    let tool_use = tool_use.unwrap_or(Value::Null);
    let model = body.get("model").cloned().unwrap_or(json!("mock"));
    let id = format!("msg_mock_{}", m.count.load(Ordering::SeqCst));
    let stop_reason = match p.stopped_by {
        "tool" => "tool_use",
        "stop" => "stop_sequence",
        "length" => "max_tokens",
        _ => "end_turn",
    };
    let output = if p.tool.is_some() {
        8
    } else {
        p.reply.len() as i64
    };
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        let content = match &p.tool {
            Some((name, input)) => {
                json!([{ "type": "tool_use", "id": format!("toolu_{id}"), "name": name, "input": input }])
            }
            None => json!([{ "type": "text", "text": p.reply.concat() }]),
        };
        return Json(
            json!({ "id": id, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": null,
            "usage": { "input_tokens": p.prompt_tokens, "output_tokens": output,
                "server_tool_use": tool_use } }),
        )
        .into_response();
    }
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut frames = vec![ev(
        "message_start",
        json!({ "type": "message_start", "message": {
        "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": null, "stop_sequence": null,
        "usage": { "input_tokens": p.prompt_tokens, "output_tokens": 1 } } }),
    )];
    match &p.tool {
        Some((name, input)) => {
            frames.push(ev("content_block_start", json!({ "type": "content_block_start", "index": 0,
                "content_block": { "type": "tool_use", "id": format!("toolu_{id}"), "name": name, "input": {} } })));
            for piece in argument_pieces(input, m.opts.stream_piece_chars) {
                frames.push(ev(
                    "content_block_delta",
                    json!({ "type": "content_block_delta", "index": 0,
                    "delta": { "type": "input_json_delta", "partial_json": piece } }),
                ));
            }
        }
        None => {
            frames.extend(thinking_frames(&body, m.opts.stream_piece_chars));
            frames.push(ev(
                "content_block_start",
                json!({ "type": "content_block_start", "index": 0,
                "content_block": { "type": "text", "text": "" } }),
            ));
            frames.push(ev("ping", json!({ "type": "ping" })));
            for w in &p.reply {
                frames.push(ev(
                    "content_block_delta",
                    json!({ "type": "content_block_delta", "index": 0,
                    "delta": { "type": "text_delta", "text": w } }),
                ));
            }
        }
    }
    frames.push(ev(
        "content_block_stop",
        json!({ "type": "content_block_stop", "index": 0 }),
    ));
    frames.push(ev("message_delta", json!({ "type": "message_delta",
        "delta": { "stop_reason": stop_reason, "stop_sequence": null }, "usage": { "output_tokens": output, "server_tool_use": tool_use } })));
    frames.push(ev("message_stop", json!({ "type": "message_stop" })));
    sse_response(frames, m.opts.stream_chunk_delay_ms)
}

pub(super) async fn openai(
    State(m): State<Mock>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = admit(&m, "/v1/chat/completions", &headers, &body).await {
        return r;
    }
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let system = messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("system"))
        .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)))
        .collect::<Vec<_>>()
        .join(" ");
    let tools: Vec<String> = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    let allowed = body.get("tool_choice").and_then(Value::as_str) != Some("none");
    let max = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
        .and_then(Value::as_i64)
        .unwrap_or(1024);
    let mut p = plan(&body, "", max, &strings(body.get("stop")), tools, allowed);
    if m.opts.fill_max_tokens {
        fill(&mut p, max);
    }
    p.reply = repiece(p.reply, m.opts.stream_piece_chars);
    p.prompt_tokens = p.prompt_tokens.max(words(&system));
    let model = body.get("model").cloned().unwrap_or(json!("mock"));
    let id = format!("chatcmpl-mock{}", m.count.load(Ordering::SeqCst));
    let finish = match p.stopped_by {
        "tool" => "tool_calls",
        "length" => "length",
        _ => "stop",
    };
    let output = if p.tool.is_some() {
        8
    } else {
        p.reply.len() as i64
    };
    // Every one of `n` choices is billed (the mock sends the first).
    let output = output * body.get("n").and_then(Value::as_i64).unwrap_or(1).max(1);
    let usage = json!({ "prompt_tokens": p.prompt_tokens, "completion_tokens": output,
                        "total_tokens": p.prompt_tokens + output });
    let call = p.tool.as_ref().map(|(name, input)| {
        json!({ "id": format!("call_{id}"), "type": "function",
        "function": { "name": name, "arguments": input.to_string() } })
    });
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        let message = match &call {
            Some(c) => json!({ "role": "assistant", "content": null, "tool_calls": [c] }),
            None => json!({ "role": "assistant", "content": p.reply.concat() }),
        };
        return Json(json!({ "id": id, "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{ "index": 0, "message": message, "finish_reason": finish }], "usage": usage })).into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({ "id": id, "object": "chat.completion.chunk",
        "created": 1_700_000_000, "model": model, "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
        )
    };
    let mut frames = vec![chunk(
        json!({ "role": "assistant", "content": "" }),
        Value::Null,
    )];
    let n = m.opts.stream_piece_chars;
    match (&call, &p.tool) {
        (Some(c), Some((_, input))) => {
            frames.push(chunk(
                json!({ "tool_calls": [{ "index": 0, "id": c["id"], "type": "function",
                "function": { "name": c["function"]["name"], "arguments": "" } }] }),
                Value::Null,
            ));
            frames.extend(argument_pieces(input, n).into_iter().map(|a| {
                chunk(
                    json!({ "tool_calls": [{ "index": 0, "function": { "arguments": a } }] }),
                    Value::Null,
                )
            }));
        }
        _ => {
            let thought = thoughts(&body, n).into_iter();
            frames.extend(thought.map(|t| chunk(json!({ "reasoning_content": t }), Value::Null)));
            frames.extend(
                p.reply
                    .iter()
                    .map(|w| chunk(json!({ "content": w }), Value::Null)),
            );
        }
    }
    frames.push(chunk(json!({}), json!(finish)));
    let wants_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    if wants_usage && !m.opts.omit_usage {
        frames.push(format!(
            "data: {}\n\n",
            json!({ "id": id, "object": "chat.completion.chunk",
            "created": 1_700_000_000, "model": model, "choices": [], "usage": usage })
        ));
    }
    frames.push("data: [DONE]\n\n".to_string());
    sse_response(frames, m.opts.stream_chunk_delay_ms)
}
