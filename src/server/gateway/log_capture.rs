//! What the request log keeps of one request, gathered as it passes: the
//! prompt as forwarded (after the tenant's redaction), the answer as the
//! client received it, and keyed hashes of the subjects found. Only built
//! when the tenant's log is on: a tenant with it off pays nothing.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::request_log::{self, LogEntry, LogMode, MAX_SUBJECTS, MAX_TEXT_BYTES};
use crate::server::crypto::report_key::ReportKeys;

/// One text: its first bytes (`full`) or its running SHA-256 (`hashes`).
struct Text {
    kept: String,
    hasher: Option<Sha256>,
    bytes: usize,
}

impl Text {
    fn new(mode: LogMode) -> Self {
        Text {
            kept: String::new(),
            hasher: (mode == LogMode::Hashes).then(Sha256::new),
            bytes: 0,
        }
    }

    fn feed(&mut self, s: &str) {
        self.bytes = self.bytes.saturating_add(s.len());
        match &mut self.hasher {
            Some(h) => h.update(s.as_bytes()),
            None => {
                let room = MAX_TEXT_BYTES.saturating_sub(self.kept.len());
                self.kept.push_str(request_log::prefix(s, room));
            }
        }
    }

    fn finish(self) -> (String, i64) {
        let bytes = i64::try_from(self.bytes).unwrap_or(i64::MAX);
        match self.hasher {
            Some(h) => (hex::encode(h.finalize()), bytes),
            None => (self.kept, bytes),
        }
    }
}

pub struct LogCapture {
    mode: LogMode,
    prompt: Text,
    response: Text,
    subjects: Vec<String>,
}

impl LogCapture {
    pub fn new(mode: LogMode) -> Self {
        LogCapture {
            mode,
            prompt: Text::new(mode),
            response: Text::new(mode),
            subjects: Vec::new(),
        }
    }

    /// The body as forwarded: after redaction, so the log never holds
    /// what the tenant's policies removed.
    pub fn prompt(&mut self, body: &Value) {
        self.prompt.feed(&body.to_string());
    }

    /// A piece of the answer as the client received it.
    pub fn response(&mut self, piece: &str) {
        self.response.feed(piece);
    }

    /// Indexes identifiers (already normalised) under the tenant's key.
    pub fn subjects<'a>(
        &mut self,
        keys: &ReportKeys,
        tenant_id: &str,
        found: impl IntoIterator<Item = &'a str>,
    ) {
        for s in found {
            if self.subjects.len() >= MAX_SUBJECTS {
                break;
            }
            let hash = keys.subject_hash(tenant_id, s);
            if !self.subjects.contains(&hash) {
                self.subjects.push(hash);
            }
        }
    }

    pub fn finish(self) -> LogEntry {
        let (prompt, prompt_bytes) = self.prompt.finish();
        let (response, response_bytes) = self.response.finish();
        LogEntry {
            mode: self.mode,
            prompt,
            response,
            prompt_bytes,
            response_bytes,
            subjects: self.subjects,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_mode_cuts_and_hashes_mode_keeps_only_digests() {
        let mut full = LogCapture::new(LogMode::Full);
        full.response(&"é".repeat(MAX_TEXT_BYTES));
        let e = full.finish();
        assert!(e.response.len() <= MAX_TEXT_BYTES);
        assert_eq!(e.response_bytes, 2 * MAX_TEXT_BYTES as i64);
        let mut hashed = LogCapture::new(LogMode::Hashes);
        hashed.response("ab");
        hashed.response("c");
        let e = hashed.finish();
        assert_eq!(e.response, hex::encode(Sha256::digest(b"abc")));
        let keys = ReportKeys::derive(&[1; 32]);
        let mut c = LogCapture::new(LogMode::Full);
        let many: Vec<String> = (0..100).map(|i| format!("u{i}@x.io")).collect();
        c.subjects(&keys, "t", many.iter().map(String::as_str));
        c.subjects(&keys, "t", ["u0@x.io"]);
        assert_eq!(c.finish().subjects.len(), MAX_SUBJECTS);
    }
}
