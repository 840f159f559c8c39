//! PII and secret detection (DESIGN §1 step 3): pure, in-process, fast.
//!
//! Recognizers find candidates with regular expressions, validators
//! (Luhn, SSA rules, mod-97, address parsing) discard look-alikes, nearby
//! words raise or lower confidence, and overlaps are resolved in favour of
//! the more confident finding. Offsets count Unicode scalar values, end
//! exclusive.

mod context;
mod entity_set;
mod recognizers;
mod shapes;
mod validators;

pub use entity_set::EntitySet;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Findings below this confidence are not reported.
pub const MIN_SCORE: f32 = 0.5;

/// The most findings one string reports; a request shares a budget of
/// [`MAX_FINDINGS_PER_REQUEST`]. Past the cap, the rest of the string is
/// covered by one finding per type seen there, so policies still redact
/// or block it: the cap bounds work and memory, never what is governed.
pub const MAX_FINDINGS_PER_STRING: usize = 2_000;
pub const MAX_FINDINGS_PER_REQUEST: usize = 10_000;

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityType {
    CreditCard,
    UsSsn,
    EmailAddress,
    PhoneNumber,
    IbanCode,
    IpAddress,
    Secret,
}

impl EntityType {
    pub const ALL: [EntityType; 7] = [
        EntityType::CreditCard,
        EntityType::UsSsn,
        EntityType::EmailAddress,
        EntityType::PhoneNumber,
        EntityType::IbanCode,
        EntityType::IpAddress,
        EntityType::Secret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::CreditCard => "CREDIT_CARD",
            EntityType::UsSsn => "US_SSN",
            EntityType::EmailAddress => "EMAIL_ADDRESS",
            EntityType::PhoneNumber => "PHONE_NUMBER",
            EntityType::IbanCode => "IBAN_CODE",
            EntityType::IpAddress => "IP_ADDRESS",
            EntityType::Secret => "SECRET",
        }
    }

    /// How sensitive this kind of data is.
    pub fn classification(self) -> Classification {
        match self {
            EntityType::CreditCard | EntityType::UsSsn | EntityType::Secret => {
                Classification::Restricted
            }
            EntityType::IbanCode | EntityType::EmailAddress | EntityType::PhoneNumber => {
                Classification::Confidential
            }
            EntityType::IpAddress => Classification::Internal,
        }
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_uppercase();
        EntityType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown entity type {s}"))
    }
}

/// Data classification levels, ordered from least to most sensitive.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Public,
    Internal,
    Confidential,
    Restricted,
}

impl Classification {
    pub const ALL: [Classification; 4] = [
        Classification::Public,
        Classification::Internal,
        Classification::Confidential,
        Classification::Restricted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Public => "public",
            Classification::Internal => "internal",
            Classification::Confidential => "confidential",
            Classification::Restricted => "restricted",
        }
    }
}

impl FromStr for Classification {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Classification::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown classification {s}"))
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub entity_type: EntityType,
    /// Offsets in Unicode scalar values; `end` is exclusive.
    pub start: usize,
    pub end: usize,
    pub score: f32,
}

/// One line of a JSONL corpus, `{"text": …}`: what `atrium pii scan
/// --jsonl` and the PII bench read.
#[derive(Debug, Clone, Deserialize)]
pub struct CorpusLine {
    pub text: String,
}

/// A candidate in byte offsets, before overlaps are resolved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub ty: EntityType,
    pub start: usize,
    pub end: usize,
    pub score: f32,
}

/// Whether `text` is too plain to hold any finding: ASCII without a
/// digit, a capital, `@`, `:`, `=`, `-`, `_` or `+`. Every recognizer's
/// match holds one of those (numbers, IPv4 addresses and IBANs their
/// digits, e-mail its `@`, IPv6 its `:`, each secret shape a capital, `-`,
/// `_` or its `:`/`=`),
/// so [`detect`] finds nothing in such text and a caller on a hot path may
/// skip it. Any other byte (non-ASCII letters and digits too) is not plain.
pub fn inert(text: &str) -> bool {
    text.bytes().all(|b| PLAIN[b as usize])
}

static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = !(c.is_ascii_digit()
            || c.is_ascii_uppercase()
            || matches!(c, b'@' | b':' | b'=' | b'-' | b'_' | b'+'));
        b += 1;
    }
    t
};

/// Every finding in `text`, in order of position, up to
/// [`MAX_FINDINGS_PER_STRING`] (see [`detect_capped`]).
pub fn detect(text: &str) -> Vec<Finding> {
    detect_capped(text, MAX_FINDINGS_PER_STRING)
}

/// The first `cap` findings in order of position. When there are more,
/// each type found past the cap adds one finding that covers the stretch
/// from the first unreported finding to the last, scored 1.0, so rules
/// for those types still apply to all of it (fail closed). O(n log n) in
/// the number of candidates.
pub fn detect_capped(text: &str, cap: usize) -> Vec<Finding> {
    let mut spans = recognizers::candidates(text);
    spans.retain(|s| s.score >= MIN_SCORE);
    let mut kept = resolve_overlaps(spans);
    let over = cover_overflow(&mut kept, cap);
    let mut findings = to_char_offsets(text, kept);
    findings.extend(to_char_offsets(text, over));
    findings
}

/// Cuts `kept` (sorted, disjoint) to `cap` spans and returns one covering
/// span per type among the rest.
fn cover_overflow(kept: &mut Vec<Span>, cap: usize) -> Vec<Span> {
    if kept.len() <= cap {
        return Vec::new();
    }
    let rest = kept.split_off(cap);
    let (start, end) = (rest[0].start, rest[rest.len() - 1].end);
    let mut types: Vec<EntityType> = rest.iter().map(|s| s.ty).collect();
    types.sort_unstable();
    types.dedup();
    types
        .into_iter()
        .map(|ty| Span {
            ty,
            start,
            end,
            score: 1.0,
        })
        .collect()
}

/// The most sensitive classification among findings (public when none).
pub fn highest_classification(findings: &[Finding]) -> Classification {
    findings
        .iter()
        .map(|f| f.entity_type.classification())
        .max()
        .unwrap_or(Classification::Public)
}

/// Keeps the more confident (then the longer) of overlapping candidates.
fn resolve_overlaps(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    // Survivors are disjoint, so ordered by start they are also ordered by
    // end: the one starting last before `s.end` is the only one that can
    // overlap `s`. One ordered-map lookup per candidate.
    let mut kept: BTreeMap<usize, Span> = BTreeMap::new();
    for s in spans {
        let clash = kept
            .range(..s.end.max(s.start + 1))
            .next_back()
            .is_some_and(|(_, k)| k.end > s.start);
        if !clash {
            kept.insert(s.start, s);
        }
    }
    kept.into_values().collect()
}

fn to_char_offsets(text: &str, spans: Vec<Span>) -> Vec<Finding> {
    let ascii = text.is_ascii();
    let mut chars_before = 0;
    let mut byte_pos = 0;
    let mut char_at = |b: usize| -> usize {
        if ascii {
            return b;
        }
        // Spans come sorted by start, and ends follow starts, so this walks forward.
        if b < byte_pos {
            return text[..b].chars().count();
        }
        chars_before += text[byte_pos..b].chars().count();
        byte_pos = b;
        chars_before
    };
    spans
        .into_iter()
        .map(|s| Finding {
            entity_type: s.ty,
            start: char_at(s.start),
            end: char_at(s.end),
            score: (s.score.min(1.0) * 100.0).round() / 100.0,
        })
        .collect()
}

/// Replaces each finding with `[REDACTED:TYPE]`; of overlapping findings
/// the one starting first (then the longer) wins. O(n log n) in findings.
pub fn redact(text: &str, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut positions: Vec<usize> = findings.iter().flat_map(|f| [f.start, f.end]).collect();
    positions.sort_unstable();
    positions.dedup();
    let bytes = byte_offsets(text, &positions);
    let lookup = |c: usize| positions.binary_search(&c).map_or(text.len(), |i| bytes[i]);
    let mut last = 0;
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    for f in sorted {
        let (s, e) = (lookup(f.start), lookup(f.end));
        if s < last {
            continue;
        }
        out.push_str(&text[last..s]);
        out.push_str("[REDACTED:");
        out.push_str(f.entity_type.as_str());
        out.push(']');
        last = e;
    }
    out.push_str(&text[last..]);
    out
}

/// The byte offset of each char offset in `sorted`, in one forward pass;
/// offsets past the end map to the end.
fn byte_offsets(text: &str, sorted: &[usize]) -> Vec<usize> {
    let mut chars = text.char_indices().map(|(i, _)| i).chain([text.len()]);
    let mut ci = 0;
    let mut current = chars.next().unwrap_or(0);
    sorted
        .iter()
        .map(|&p| {
            while ci < p {
                current = chars.next().unwrap_or(text.len());
                ci += 1;
            }
            current
        })
        .collect()
}

#[cfg(test)]
mod tests;
