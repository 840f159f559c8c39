//! Whole (non-streamed) responses: Anthropic message ⇄ OpenAI completion.

use serde_json::{json, Value};

use super::{
    blocks_to_openai_message, finish_reason, openai_message_to_blocks, stop_reason, usage,
};
use crate::domain::time::now_millis;

pub fn anthropic_to_openai(resp: &Value, model: &str) -> Value {
    let blocks = resp.get("content").and_then(Value::as_array);
    let (text, calls) = blocks_to_openai_message(blocks.map_or(&[][..], Vec::as_slice));
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
        "refusal": null,
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let stop = resp
        .get("stop_reason")
        .and_then(Value::as_str)
        .unwrap_or("end_turn");
    let tokens = usage::from_anthropic(resp.get("usage").unwrap_or(&Value::Null));
    json!({
        "id": format!("chatcmpl-{}", resp.get("id").and_then(Value::as_str).unwrap_or("atrium")),
        "object": "chat.completion",
        "created": now_millis() / 1000,
        "model": model,
        "choices": [{ "index": 0, "message": message, "finish_reason": finish_reason(stop), "logprobs": null }],
        "usage": usage::to_openai(&tokens),
    })
}

pub fn openai_to_anthropic(resp: &Value, model: &str) -> Value {
    let choice = resp.pointer("/choices/0").cloned().unwrap_or_default();
    let content = openai_message_to_blocks(choice.get("message").unwrap_or(&Value::Null));
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("stop");
    let tokens = usage::from_openai(resp.get("usage").unwrap_or(&Value::Null));
    json!({
        "id": format!("msg_{}", resp.get("id").and_then(Value::as_str).unwrap_or("atrium")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(finish),
        "stop_sequence": null,
        "usage": usage::to_anthropic(&tokens),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_message_becomes_completion() {
        let resp = json!({"id": "msg_1", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "Hi"},
                        {"type": "tool_use", "id": "t1", "name": "f", "input": {"x": 1}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 10, "output_tokens": 3}});
        let o = anthropic_to_openai(&resp, "alias");
        assert_eq!(o["model"], "alias");
        assert_eq!(o["choices"][0]["message"]["content"], "Hi");
        assert_eq!(
            o["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"x\":1}"
        );
        assert_eq!(o["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(o["usage"]["total_tokens"], 13);
    }

    #[test]
    fn completion_becomes_anthropic_message() {
        let resp = json!({"id": "c1", "choices": [{"index": 0, "finish_reason": "length",
            "message": {"role": "assistant", "content": "Hello"}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}});
        let a = openai_to_anthropic(&resp, "m");
        assert_eq!(a["content"], json!([{"type": "text", "text": "Hello"}]));
        assert_eq!(a["stop_reason"], "max_tokens");
        assert_eq!(a["usage"]["input_tokens"], 5);
        assert_eq!(a["usage"]["output_tokens"], 2);
    }
}
