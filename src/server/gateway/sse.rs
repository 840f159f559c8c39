//! Server-sent events: an incremental parser for upstream bytes and the
//! encoder for what the client receives.

/// One event: its `event:` name (if any) and its joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Feeds on arbitrary byte chunks; yields whole events. Chunks may split
/// lines and UTF-8 sequences anywhere.
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some((end, sep)) = find_boundary(&self.buf) {
            let block: Vec<u8> = self.buf.drain(..end + sep).collect();
            if let Some(ev) = parse_block(&String::from_utf8_lossy(&block[..end])) {
                out.push(ev);
            }
        }
        out
    }

    /// Whatever is left when the stream ends without a final blank line.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let rest = std::mem::take(&mut self.buf);
        parse_block(&String::from_utf8_lossy(&rest))
    }
}

fn find_boundary(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i + 1 < buf.len() {
        if buf[i] == b'\n' && buf[i + 1] == b'\n' {
            return Some((i, 2));
        }
        if buf[i..].starts_with(b"\r\n\r\n") {
            return Some((i, 4));
        }
        i += 1;
    }
    None
}

fn parse_block(block: &str) -> Option<SseEvent> {
    let mut event = None;
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if event.is_none() && data.is_empty() {
        return None;
    }
    Some(SseEvent {
        event,
        data: data.join("\n"),
    })
}

pub fn encode(event: Option<&str>, data: &str) -> String {
    match event {
        Some(e) => format!("event: {e}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_across_arbitrary_splits() {
        let text =
            "event: message_start\ndata: {\"a\":1}\n\ndata: {\"b\":\"é\"}\n\ndata: [DONE]\n\n";
        let bytes = text.as_bytes();
        for split in 1..bytes.len() {
            let mut p = SseParser::default();
            let mut evs = p.push(&bytes[..split]);
            evs.extend(p.push(&bytes[split..]));
            assert_eq!(evs.len(), 3, "split at {split}");
            assert_eq!(evs[0].event.as_deref(), Some("message_start"));
            assert_eq!(evs[1].data, "{\"b\":\"é\"}");
            assert_eq!(evs[2].data, "[DONE]");
        }
    }

    #[test]
    fn handles_crlf_comments_and_tail() {
        let mut p = SseParser::default();
        let evs = p.push(b": keepalive\r\n\r\ndata: x\r\n\r\ndata: tail");
        assert_eq!(evs.len(), 1);
        assert_eq!(p.finish().map(|e| e.data), Some("tail".into()));
    }

    #[test]
    fn encodes() {
        assert_eq!(encode(Some("ping"), "{}"), "event: ping\ndata: {}\n\n");
        assert_eq!(encode(None, "[DONE]"), "data: [DONE]\n\n");
    }
}
