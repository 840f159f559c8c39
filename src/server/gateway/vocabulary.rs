//! Where a body holds the protocol's own vocabulary (a role, a block type,
//! the model, a stop reason): strings that are not free text and whose
//! rewriting would break the request or answer, so governance does not
//! scan them. Only these positions are skipped: the same key anywhere else
//! (`metadata: {"model": "078-05-1120"}`, a tool's input) is free text and
//! is scanned like every other string.
//!
//! A position is found by walking object keys from the root; array
//! elements keep their array's position. Both dialects, requests and
//! answers (whole, and each streamed event) share one table.

/// A place in a completion body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The body itself, an Anthropic stream's `message`.
    Root,
    /// An element of `messages`.
    Message,
    /// A content block or part: `messages[].content[]`, `system[]`, an
    /// answer's `content[]`, a stream's `content_block`, nested results.
    Block,
    /// A block's `source` (images, documents).
    Source,
    /// A tool definition, or a tool call.
    Tool,
    /// An element of OpenAI's `choices`.
    Choice,
    /// A choice's `message` or `delta`.
    ChoiceMessage,
    /// An Anthropic stream event's `delta`.
    Delta,
    /// `tool_choice` and `response_format`.
    Setting,
    /// Anything else: free text throughout.
    Free,
}

impl Position {
    /// The position of the value under `key` of an object at `self`.
    pub fn child(self, key: &str) -> Position {
        use Position::*;
        match (self, key) {
            (Root, "messages") => Message,
            (Root, "system" | "content" | "content_block") => Block,
            (Root, "message") => Root,
            (Root, "tools") => Tool,
            (Root, "choices") => Choice,
            (Root, "delta") => Delta,
            (Root, "tool_choice" | "response_format") => Setting,
            (Message | ChoiceMessage, "content") => Block,
            (Message | ChoiceMessage, "tool_calls") => Tool,
            (Block, "content") => Block,
            (Block, "source") => Source,
            (Choice, "message" | "delta") => ChoiceMessage,
            _ => Free,
        }
    }

    /// Whether a string under `key` here is protocol vocabulary.
    pub fn skips(self, key: &str) -> bool {
        use Position::*;
        match self {
            Root => matches!(
                key,
                "model" | "object" | "type" | "role" | "stop_reason" | "finish_reason"
            ),
            Message | ChoiceMessage => key == "role",
            // A thinking block's signature is opaque, like vocabulary.
            Block => matches!(key, "type" | "signature"),
            Tool | Setting => key == "type",
            Source => matches!(key, "type" | "media_type"),
            Choice => key == "finish_reason",
            Delta => matches!(key, "type" | "stop_reason" | "signature"),
            Free => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Position;

    fn at(path: &[&str]) -> Position {
        path.iter().fold(Position::Root, |p, k| p.child(k))
    }

    #[test]
    fn vocabulary_is_skipped_only_where_the_protocol_puts_it() {
        assert!(at(&[]).skips("model"));
        assert!(at(&["messages"]).skips("role"));
        assert!(at(&["messages", "content"]).skips("type"));
        assert!(at(&["messages", "content", "source"]).skips("media_type"));
        assert!(at(&["choices", "delta"]).skips("role"));
        assert!(at(&["message"]).skips("stop_reason"));
        assert!(!at(&["metadata"]).skips("model"), "metadata is free text");
        assert!(!at(&["messages", "content", "input"]).skips("type"));
        assert!(!at(&["messages"]).skips("model"));
        assert!(!at(&["tools", "input_schema"]).skips("type"));
        assert_eq!(at(&["metadata", "messages"]), Position::Free);
    }
}
