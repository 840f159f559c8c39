//! Media a request names by reference (an image URL, an uploaded file's
//! id) rather than carrying: its size does not bound the tokens it costs,
//! so a hard budget's worst case adds an allowance per reference. Inline
//! media (base64, data: URLs, text) is already bounded by its bytes: a
//! token is at least a byte, and encoded media takes far more bytes than
//! the tokens it becomes.

use serde_json::Value;

/// Most tokens one image can cost: providers scale images down to about
/// 1,600 (Anthropic) to 2,500 (OpenAI's patch-based models) tokens; twice
/// the larger, with room.
pub const IMAGE_TOKENS: i64 = 6_400;
/// Most tokens one document can cost: PDFs are capped at 100 pages, each
/// at most about 3,000 tokens of text and page image; twice that.
pub const DOCUMENT_TOKENS: i64 = 600_000;

/// Tokens allowed for the media `messages` (and Anthropic's `system`)
/// name by reference. Linear in the body; nesting beyond content blocks
/// (tool results holding images) is walked too.
pub fn referenced_tokens(body: &Value) -> i64 {
    let mut tokens = 0i64;
    let mut stack: Vec<&Value> = Vec::new();
    stack.extend(body.get("messages"));
    stack.extend(body.get("system"));
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items.iter()),
            Value::Object(o) => {
                tokens = tokens.saturating_add(part_tokens(v));
                stack.extend(o.get("content"));
            }
            _ => {}
        }
    }
    tokens
}

/// One content part's allowance: nonzero only for media by reference.
fn part_tokens(part: &Value) -> i64 {
    let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
    let by_reference = |source: Option<&Value>| {
        source
            .and_then(|s| s.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|t| t == "url" || t == "file")
    };
    match kind {
        // OpenAI: an image URL other than inline data.
        "image_url" => {
            let url = part
                .pointer("/image_url/url")
                .or_else(|| part.get("image_url"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if url.starts_with("data:") {
                0
            } else {
                IMAGE_TOKENS
            }
        }
        // OpenAI: an uploaded file by id (inline `file_data` is bytes).
        "file" if part.pointer("/file/file_id").is_some() => DOCUMENT_TOKENS,
        // Anthropic: images and documents by URL or Files API id.
        "image" if by_reference(part.get("source")) => IMAGE_TOKENS,
        "document" if by_reference(part.get("source")) => DOCUMENT_TOKENS,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_media_by_reference_gets_an_allowance() {
        let openai = json!({ "messages": [{ "role": "user", "content": [
            { "type": "text", "text": "what is this?" },
            { "type": "image_url", "image_url": { "url": "https://example.com/a.png" } },
            { "type": "image_url", "image_url": { "url": "data:image/png;base64,AAAA" } },
            { "type": "file", "file": { "file_id": "file-abc" } },
            { "type": "file", "file": { "file_data": "JVBERi0=" } },
        ]}]});
        assert_eq!(referenced_tokens(&openai), IMAGE_TOKENS + DOCUMENT_TOKENS);
        let anthropic = json!({ "system": "s", "messages": [{ "role": "user", "content": [
            { "type": "image", "source": { "type": "url", "url": "https://example.com/a.png" } },
            { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "AAAA" } },
            { "type": "document", "source": { "type": "file", "file_id": "file_1" } },
            { "type": "tool_result", "tool_use_id": "t", "content": [
                { "type": "image", "source": { "type": "url", "url": "https://example.com/b.png" } }
            ]},
        ]}]});
        assert_eq!(
            referenced_tokens(&anthropic),
            2 * IMAGE_TOKENS + DOCUMENT_TOKENS
        );
        assert_eq!(referenced_tokens(&json!({ "messages": "plain" })), 0);
    }
}
