//! Server-sent events: an incremental parser for upstream bytes and the
//! encoder for what the client receives.

/// One event: its `event:` name (if any) and its joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// The longest event a provider may send: far above any real one (a large
/// tool call's arguments arrive in many deltas), so a broken or hostile
/// stream without blank lines cannot grow the buffer without end.
pub const MAX_EVENT_BYTES: usize = 16 << 20;

/// Feeds on arbitrary byte chunks; yields whole events. Chunks may split
/// lines and UTF-8 sequences anywhere. Linear in what it is fed: each byte
/// is searched once for a boundary and moved once.
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
    /// Where the next search for a boundary starts.
    scanned: usize,
    overflowed: bool,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        if self.overflowed {
            return Vec::new();
        }
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut start = 0;
        let mut from = self.scanned;
        while let Some((end, sep)) = find_boundary(&self.buf, from) {
            if let Some(ev) = parse_block(&String::from_utf8_lossy(&self.buf[start..end])) {
                out.push(ev);
            }
            start = end + sep;
            from = start;
        }
        self.buf.drain(..start);
        // A boundary may straddle this chunk and the next: search again
        // from its first possible byte.
        self.scanned = self.buf.len().saturating_sub(3);
        if self.buf.len() > MAX_EVENT_BYTES {
            self.overflowed = true;
            self.buf = Vec::new();
            self.scanned = 0;
        }
        out
    }

    /// An event passed `MAX_EVENT_BYTES`: the stream is broken, and the
    /// parser reads nothing more.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Whatever is left when the stream ends without a final blank line.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let rest = std::mem::take(&mut self.buf);
        self.scanned = 0;
        parse_block(&String::from_utf8_lossy(&rest))
    }
}

/// The first blank line (`\n\n` or `\r\n\r\n`) at or after `from`: where
/// it starts and how long it is.
fn find_boundary(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while let Some(off) = memchr::memchr2(b'\n', b'\r', buf.get(i..)?) {
        let at = i + off;
        let rest = &buf[at..];
        if rest.starts_with(b"\n\n") {
            return Some((at, 2));
        }
        if rest.starts_with(b"\r\n\r\n") {
            return Some((at, 4));
        }
        i = at + 1;
    }
    None
}

fn parse_block(block: &str) -> Option<SseEvent> {
    let mut event = None;
    // Nearly every event has one data line: it is copied once, and only a
    // second line makes the joined copy grow.
    let mut data: Option<String> = None;
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("data:") {
            let v = v.strip_prefix(' ').unwrap_or(v);
            match &mut data {
                Some(joined) => {
                    joined.push('\n');
                    joined.push_str(v);
                }
                None => data = Some(v.to_string()),
            }
        }
    }
    if event.is_none() && data.is_none() {
        return None;
    }
    Some(SseEvent {
        event,
        data: data.unwrap_or_default(),
    })
}

/// One frame for the client: one `data:` line per line of `data`, as the
/// event stream format requires (a newline inside one line would end the
/// field there). Built by hand: `format!` cost more than the copy itself
/// on the streaming path.
///
/// A client splits lines on CR as well as LF (the SSE grammar): a CR in a
/// provider's data starts a new data line here too, and an event name
/// holding one is dropped, so no text hides a line of its own from the
/// guard (`event: x\rdata: …`).
pub fn encode(event: Option<&str>, data: &str) -> String {
    let event = event.filter(|e| !e.contains(['\r', '\n']));
    let normalised;
    let data = if data.contains('\r') {
        normalised = data.replace("\r\n", "\n").replace('\r', "\n");
        normalised.as_str()
    } else {
        data
    };
    let name = event.map_or(0, |e| e.len() + 8);
    let mut frame = String::with_capacity(name + data.len() + 8);
    if let Some(e) = event {
        frame.push_str("event: ");
        frame.push_str(e);
        frame.push('\n');
    }
    for line in data.split('\n') {
        frame.push_str("data: ");
        frame.push_str(line);
        frame.push('\n');
    }
    frame.push('\n');
    frame
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

    /// Events fed a byte at a time, and a stream that never ends an event.
    #[test]
    fn byte_by_byte_and_bounded() {
        let text = "data: a\r\n\r\ndata: b\n\nevent: e\ndata: c\n\n";
        let mut p = SseParser::default();
        let evs: Vec<SseEvent> = text.bytes().flat_map(|b| p.push(&[b])).collect();
        let data: Vec<&str> = evs.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["a", "b", "c"]);
        assert_eq!(evs[2].event.as_deref(), Some("e"));

        let mut p = SseParser::default();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..(MAX_EVENT_BYTES >> 20) {
            assert!(p.push(&chunk).is_empty());
            assert!(!p.overflowed());
        }
        assert!(p.push(b"y").is_empty());
        assert!(p.overflowed(), "an event past the limit");
        assert!(p.push(b"\n\ndata: late\n\n").is_empty(), "nothing after");
    }

    /// Data lines join with newlines; an empty `data:` line counts; an
    /// event with a name and no data is still an event.
    #[test]
    fn joins_data_lines() {
        let mut p = SseParser::default();
        let evs = p.push(b"data: a\ndata:b\ndata:\n\nevent: only\n\ndata:  two spaces\n\n");
        let data: Vec<&str> = evs.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["a\nb\n", "", " two spaces"]);
        assert_eq!(evs[1].event.as_deref(), Some("only"));
    }

    #[test]
    fn encodes() {
        assert_eq!(encode(Some("ping"), "{}"), "event: ping\ndata: {}\n\n");
        assert_eq!(encode(None, "[DONE]"), "data: [DONE]\n\n");
        assert_eq!(encode(None, "a\n\nb"), "data: a\ndata: \ndata: b\n\n");
        assert_eq!(encode(None, ""), "data: \n\n");
        // What a client parses back is what was meant.
        let mut p = SseParser::default();
        let evs = p.push(encode(Some("e"), "x\ny\n").as_bytes());
        assert_eq!(evs[0].data, "x\ny\n");
    }

    /// A CR is a line break to a client: it never hides a line inside a
    /// name or a data line.
    #[test]
    fn a_carriage_return_hides_no_line() {
        assert_eq!(encode(Some("x\rdata: secret"), "{}"), "data: {}\n\n");
        assert_eq!(encode(None, "a\rb\r\nc"), "data: a\ndata: b\ndata: c\n\n");
    }
}
