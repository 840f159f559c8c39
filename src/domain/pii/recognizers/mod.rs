//! Candidate finders, one per entity type. Each checks the characters
//! around a match (a card number is not part of a longer digit run), runs
//! its validator, and scores with the words just before it.

mod gates;
mod numbers;
mod text;

use regex::Regex;

use super::shapes;
use super::{EntityType, Span};
use gates::Gates;
use numbers::{cards, intl, nanp, ssns};
use text::{emails, ibans, ipv4s, ipv6s, secrets};

pub(crate) fn candidates(text: &str) -> Vec<Span> {
    let mut out = Vec::with_capacity(8);
    let g = Gates::of(text.as_bytes());
    let whole = [(0, text.len())];
    // Each pattern searches only the short stretches the gate scan marked
    // as able to hold its shape, never the whole text.
    let mut found = Vec::with_capacity(8);
    for &(s, e) in g.runs.ranges(&whole) {
        let d = shapes::Digits::of(text, s, e);
        if g.card_run >= 12 {
            shapes::card_stretches(&d, &mut found);
            cards(text, &found, &mut out);
        }
        // Dotted SSNs are runs the card gate breaks on `.`; the phone gate does not.
        if g.card_run >= 9 || g.phone_run >= 9 {
            shapes::ssn_shapes(&d, &mut found);
            ssns(text, &found, &mut out);
        }
        if g.phone_run >= 10 {
            shapes::nanp_shapes(&d, &mut found);
            nanp(text, &found, &mut out);
        }
        if g.plus_digit {
            shapes::intl_shapes(&d, &mut found);
            intl(text, &found, &mut out);
        }
    }
    if g.iban {
        ibans(text, &whole, &mut out);
    }
    if g.dots >= 3 {
        shapes::ipv4_shapes(text, &mut found);
        ipv4s(text, &found, &mut out);
    }
    if g.colons >= 2 {
        ipv6s(text, &whole, &mut out);
    }
    if g.at {
        emails(text, &mut out);
    }
    // Secret shapes begin with literals the search skips ahead on.
    secrets(text, &whole, &mut out);
    out
}

/// Up to `N` byte ranges; more than that means "search everything".
pub(super) struct Ranges<const N: usize> {
    at: [(usize, usize); N],
    n: usize,
    overflow: bool,
}

impl<const N: usize> Default for Ranges<N> {
    fn default() -> Self {
        Self {
            at: [(0, 0); N],
            n: 0,
            overflow: false,
        }
    }
}

impl<const N: usize> Ranges<N> {
    pub(super) fn push(&mut self, start: usize, end: usize) {
        if self.n == N {
            self.overflow = true;
        } else {
            self.at[self.n] = (start, end);
            self.n += 1;
        }
    }

    pub(super) fn ranges<'a>(&'a self, whole: &'a [(usize, usize)]) -> &'a [(usize, usize)] {
        if self.overflow {
            whole
        } else {
            &self.at[..self.n]
        }
    }
}

/// A pattern match in absolute byte offsets.
#[derive(Clone, Copy)]
pub(super) struct Hit<'t> {
    start: usize,
    end: usize,
    text: &'t str,
}

impl<'t> Hit<'t> {
    pub(super) fn start(&self) -> usize {
        self.start
    }
    pub(super) fn end(&self) -> usize {
        self.end
    }
    pub(super) fn as_str(&self) -> &'t str {
        &self.text[self.start..self.end]
    }
}

/// Shapes found by hand, as hits.
pub(super) fn at<'a>(
    text: &'a str,
    spans: &'a [(usize, usize)],
) -> impl Iterator<Item = Hit<'a>> + 'a {
    spans
        .iter()
        .map(move |&(start, end)| Hit { start, end, text })
}

/// Matches of `re` inside each byte range of `text`.
pub(super) fn hits<'a>(
    re: &'a Regex,
    text: &'a str,
    ranges: &'a [(usize, usize)],
) -> impl Iterator<Item = Hit<'a>> + 'a {
    ranges.iter().flat_map(move |&(s, e)| {
        re.find_iter(&text[s..e]).map(move |m| Hit {
            start: s + m.start(),
            end: s + m.end(),
            text,
        })
    })
}

// ---- boundaries ------------------------------------------------------

pub(super) fn byte_at(text: &str, i: usize) -> Option<u8> {
    text.as_bytes().get(i).copied()
}

/// The byte before `start` cannot continue a token.
pub(super) fn clean_start(text: &str, start: usize, also: &[u8]) -> bool {
    match start.checked_sub(1).and_then(|i| byte_at(text, i)) {
        None => true,
        Some(b) => !b.is_ascii_alphanumeric() && b != b'_' && !also.contains(&b),
    }
}

/// The text after `end` does not continue the token: no letter or digit,
/// and no separator followed by a digit.
pub(super) fn clean_end(text: &str, end: usize, seps: &[u8]) -> bool {
    match byte_at(text, end) {
        None => true,
        Some(b) if b.is_ascii_alphanumeric() || b == b'_' => false,
        Some(b) if seps.contains(&b) => !byte_at(text, end + 1).is_some_and(|n| n.is_ascii_digit()),
        Some(_) => true,
    }
}

pub(super) fn push(out: &mut Vec<Span>, ty: EntityType, start: usize, end: usize, score: f32) {
    out.push(Span {
        ty,
        start,
        end,
        score,
    });
}
