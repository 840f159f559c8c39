//! Response rules on a streamed text: the text arrives in small deltas,
//! and a value can be split across any of them (`jane.doe@ex` + `ample.com`).
//! Text is released only once no finding can still grow into it, so each
//! delta goes out redacted, or the stream is blocked before the value
//! leaves.
//!
//! What is held back, and why that is enough:
//! - a run of non-space characters still open at the end (an e-mail, a
//!   token, a card number without spaces, however long), because every
//!   recognizer without spaces inside matches within one such run;
//! - from the first place in the last [`HOLD`] characters where a pattern
//!   *with* spaces could start (a digit, `+` or `(` before a digit, two
//!   capitals, `--`, a `password`/`token`/`api…` word): the longest such
//!   pattern (an IBAN in groups of four) spans fewer than [`HOLD`]. Plain
//!   prose therefore goes out word by word;
//! - a finding that reaches the end of what has arrived (a private key
//!   block until its END line).
//!
//! The last [`CONTEXT`] released characters are kept so context words
//! (`ssn`, `card`) still count for a value that follows them.
//!
//! Once [`STALL_BYTES`] or more are held and a scan releases none of it,
//! more is held: the next scan waits until the held text has doubled (or
//! the stream ends), so a long run sent a byte per event is scanned a few
//! times, not once per byte. A skipped scan only makes the next one see a
//! longer delta, as a provider may send anyway.

use super::{evaluate, Action, Decision, Direction, PolicyRule};
use crate::domain::pii::{self, Finding};

/// Characters a spaced pattern can span: an IBAN of 34 characters with a
/// space allowed between any two (the longest such recognizer), with margin.
pub const HOLD: usize = 72;
/// Released characters kept for context words; the detector looks 40 back.
const CONTEXT: usize = 64;
/// A provider that never ends a run (or a key block) is not buffered
/// without bound: past this much, text is released redacted as it stands.
const MAX_PENDING: usize = 64 * 1024;
/// Held text from which a scan that released nothing is not run again
/// until the held text has doubled (see [`StreamedText::stalled`]).
const STALL_BYTES: usize = 256;

/// What to do with a delta.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Text to send now (possibly empty: all of it is held back).
    Release(String),
    /// A block rule matched: end the stream, send nothing more.
    Block,
}

/// One streamed text (a content block or a choice).
#[derive(Default)]
pub struct StreamedText {
    pending: String,
    context: String,
    /// The held length at which a scan of at least [`STALL_BYTES`]
    /// released nothing (an open run, a key block), else 0. Scanning all
    /// held text for every delta was quadratic: a 64 KiB run without a
    /// space, a byte per event, cost seconds of CPU. The next scan waits
    /// for twice as much (the text stays held, never less guarded), so a
    /// stalled stretch is scanned a few times in all, not once per delta.
    stalled: usize,
    /// Bytes handed to the detector, for the test of the above.
    #[cfg(test)]
    scanned: usize,
}

impl StreamedText {
    /// Takes the next delta; `overall` gathers every decision for the audit.
    pub fn push(&mut self, delta: &str, rules: &[PolicyRule], overall: &mut Decision) -> Step {
        self.pending.push_str(delta);
        self.release(false, rules, overall)
    }

    /// The stream's text is complete: everything left goes out.
    pub fn finish(&mut self, rules: &[PolicyRule], overall: &mut Decision) -> Step {
        self.release(true, rules, overall)
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn release(&mut self, done: bool, rules: &[PolicyRule], overall: &mut Decision) -> Step {
        let len = self.pending.len();
        let waiting = self.stalled > 0 && len < 2 * self.stalled && len <= MAX_PENDING;
        if self.pending.is_empty() || (waiting && !done) {
            return Step::Release(String::new());
        }
        let base = self.context.chars().count();
        // Most deltas of prose are plain: no finding to look for.
        let findings = if pii::inert(&self.context) && pii::inert(&self.pending) {
            Vec::new()
        } else {
            // Built by hand: `format!` cost more than the copy itself.
            let mut window = String::with_capacity(self.context.len() + self.pending.len());
            window.push_str(&self.context);
            window.push_str(&self.pending);
            #[cfg(test)]
            {
                self.scanned += window.len();
            }
            pii::detect(&window)
        };
        let total = self.pending.chars().count();
        let cut = if done {
            total
        } else if self.pending.is_ascii() {
            // A byte is a character: no copy of the text as `char`s.
            safe_cut(self.pending.as_bytes(), base, &findings)
        } else {
            let chars: Vec<char> = self.pending.chars().collect();
            safe_cut(&chars, base, &findings)
        };
        let cut = if cut == 0 && self.pending.len() > MAX_PENDING {
            total
        } else {
            cut
        };
        let released: Vec<Finding> = findings
            .iter()
            .filter(|f| f.start >= base && f.end <= base + cut)
            .map(|f| Finding {
                start: f.start - base,
                end: f.end - base,
                ..f.clone()
            })
            .collect();
        // Nothing found is allowed and adds nothing to `overall`: most
        // deltas skip the rules.
        let mut redact = Vec::new();
        if !released.is_empty() {
            let mut decision = evaluate(rules, &released, Direction::Response);
            let block = decision.action == Action::Block;
            redact = std::mem::take(&mut decision.redact);
            overall.merge(decision);
            if block {
                self.pending.clear();
                self.stalled = 0;
                return Step::Block;
            }
        }
        self.stalled = if cut == 0 && len >= STALL_BYTES {
            len
        } else {
            0
        };
        let at = byte_at(&self.pending, cut);
        // Most releases are all that is pending: it is handed over whole.
        let text = if at == self.pending.len() {
            std::mem::take(&mut self.pending)
        } else {
            let rest = self.pending.split_off(at);
            std::mem::replace(&mut self.pending, rest)
        };
        self.keep_context(&text);
        Step::Release(if redact.is_empty() {
            text
        } else {
            pii::redact(&text, &redact)
        })
    }

    fn keep_context(&mut self, released: &str) {
        self.context.push_str(released);
        let n = self.context.chars().count();
        if n > CONTEXT {
            let at = byte_at(&self.context, n - CONTEXT);
            self.context.drain(..at);
        }
    }
}

/// How many of `pending`'s characters can go out now: not the last
/// [`HOLD`], not into a run of non-space characters that is still open,
/// and not into any finding that reaches past the cut.
/// `chars` is the pending text as characters (its bytes when ASCII).
fn safe_cut<C: Copy + Into<char>>(chars: &[C], base: usize, findings: &[Finding]) -> usize {
    let total = chars.len();
    let from = total.saturating_sub(HOLD);
    let mut cut = (from..total)
        .find(|&i| may_start_spaced(chars, i))
        .unwrap_or(total);
    let space = |c: C| c.into().is_whitespace();
    // A run still open at the end, or cut in two, is held whole.
    while cut > 0 && !space(chars[cut - 1]) && chars.get(cut).is_none_or(|c| !space(*c)) {
        cut -= 1;
    }
    // Findings are in position order; one reaching past the cut pulls it
    // back to its start, which may pull in an earlier one, so walk back.
    for f in findings.iter().rev() {
        if f.end > base + cut && f.start < base + cut {
            cut = f.start.saturating_sub(base);
        }
    }
    cut
}

/// Words that begin a `name = value` secret (the detector's list, by prefix).
const SECRET_WORDS: [&str; 8] = [
    "aws", "secret", "client", "api", "pass", "token", "AWS", "CLIENT",
];

/// Whether a pattern that may contain spaces could start at `chars[i]`.
fn may_start_spaced<C: Copy + Into<char>>(chars: &[C], i: usize) -> bool {
    let c: char = chars[i].into();
    let next = chars.get(i + 1).map(|n| (*n).into());
    let open_or = |f: fn(char) -> bool| next.is_none_or(f);
    let word_start = i == 0 || !chars[i - 1].into().is_alphanumeric();
    c.is_ascii_digit()
        || (matches!(c, '+' | '(') && open_or(|n| n.is_ascii_digit() || n == ' '))
        || (c == '-' && open_or(|n| n == '-'))
        || (c.is_ascii_uppercase() && open_or(|n| n.is_ascii_uppercase() || n.is_ascii_digit()))
        || (word_start && secret_word_at(chars, i))
}

fn secret_word_at<C: Copy + Into<char>>(chars: &[C], i: usize) -> bool {
    SECRET_WORDS.iter().any(|w| {
        let mut rest = chars[i..].iter().map(|c| (*c).into());
        // A word cut off by the end of what has arrived may still become one.
        w.chars().all(|wc| {
            rest.next()
                .is_none_or(|c: char| c == wc || c.to_ascii_lowercase() == wc)
        })
    })
}

/// The byte offset of the `n`th character.
fn byte_at(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

#[cfg(test)]
pub(crate) mod tests;
