//! The mock provider's server-sent events: frames sent with the configured
//! delay between them, and the thinking block a reasoning request gets.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::mock_plan::thoughts;

pub(super) fn sse_response(frames: Vec<String>, delay_ms: u64) -> Response {
    let body = async_stream::stream! {
        for f in frames {
            if delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
            yield Ok::<Bytes, Infallible>(Bytes::from(f));
        }
    };
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(body),
    )
        .into_response()
}

/// A thinking block before the text when the request enables thinking:
/// its deltas, a signature, its end. The text block keeps index 0, so
/// the thinking block takes index 1 (any index is valid to clients).
pub(super) fn thinking_frames(body: &Value, n: usize) -> Vec<String> {
    let pieces = thoughts(body, n);
    if pieces.is_empty() {
        return Vec::new();
    }
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut frames = vec![ev(
        "content_block_start",
        json!({ "type": "content_block_start",
        "index": 1, "content_block": { "type": "thinking", "thinking": "", "signature": "" } }),
    )];
    for t in pieces {
        frames.push(ev(
            "content_block_delta",
            json!({ "type": "content_block_delta",
            "index": 1, "delta": { "type": "thinking_delta", "thinking": t } }),
        ));
    }
    frames.push(ev(
        "content_block_delta",
        json!({ "type": "content_block_delta",
        "index": 1, "delta": { "type": "signature_delta", "signature": "c2lnbmF0dXJl" } }),
    ));
    frames.push(ev(
        "content_block_stop",
        json!({ "type": "content_block_stop", "index": 1 }),
    ));
    frames
}

/// As a provider that runs every server-side tool to its limit: each web
/// search or fetch is used `max_uses` times, and each fetch brings in
/// `max_content_tokens` of content. Returns the extra input tokens and the
/// `server_tool_use` usage object (none when no such tool was asked for).
pub(super) fn server_tool_use(body: &Value) -> (i64, Option<Value>) {
    let (mut searches, mut fetches, mut content) = (0i64, 0i64, 0i64);
    for t in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ty = t.get("type").and_then(Value::as_str).unwrap_or("");
        let uses = t.get("max_uses").and_then(Value::as_i64).unwrap_or(1);
        if ty.starts_with("web_search") {
            searches += uses;
        } else if ty.starts_with("web_fetch") {
            fetches += uses;
            let tokens = t.get("max_content_tokens").and_then(Value::as_i64);
            content += uses * tokens.unwrap_or(0);
        }
    }
    let usage = (searches + fetches > 0)
        .then(|| json!({ "web_search_requests": searches, "web_fetch_requests": fetches }));
    (content, usage)
}
