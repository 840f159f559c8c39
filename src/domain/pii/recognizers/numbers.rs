//! Recognizers read off digit runs: payment cards, US SSNs and phone numbers.

use super::{at, clean_end, clean_start, push};
use crate::domain::pii::{context, validators, EntityType, Span};

// ---- payment cards ---------------------------------------------------

pub(super) fn cards(text: &str, spans: &[(usize, usize)], out: &mut Vec<Span>) {
    for m in at(text, spans) {
        if !clean_start(text, m.start(), b"-./+#$") {
            continue;
        }
        if let Some(end) = card_end(m.start(), m.as_str()) {
            if !clean_end(text, end, b"-.") {
                continue;
            }
            let ctx = context::before(text, m.start());
            let mut score = 0.85;
            if ctx.has(context::CARD) {
                score += 0.15;
            }
            if ctx.other_number() {
                score -= 0.5;
            }
            push(out, EntityType::CreditCard, m.start(), end, score);
        }
    }
}

/// The end of the longest run of whole digit groups from the start that is
/// a valid card number, grouped the way cards are printed.
fn card_end(start: usize, s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut sep = None;
    // Group lengths and where each group ends; cards have at most five groups.
    let mut lens = [0usize; 8];
    let mut ends = [0usize; 8];
    let mut n = 0;
    let mut len = 0;
    for (i, &c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            len += 1;
            continue;
        }
        if sep.is_some_and(|x| x != c) || n + 1 == lens.len() {
            return None;
        }
        sep = Some(c);
        lens[n] = len;
        ends[n] = i;
        n += 1;
        len = 0;
    }
    lens[n] = len;
    ends[n] = b.len();
    n += 1;
    let mut digits = [0u8; 32];
    for k in (1..=n).rev() {
        let ok_shape = if n == 1 {
            (13..=19).contains(&lens[0])
        } else {
            k >= 2 && card_grouping(&lens[..k])
        };
        if !ok_shape {
            continue;
        }
        let mut m = 0;
        for &c in &b[..ends[k - 1]] {
            if c.is_ascii_digit() && m < digits.len() {
                digits[m] = c;
                m += 1;
            }
        }
        let d = &digits[..m];
        if validators::luhn(d) && validators::card_network(d).is_some() {
            return Some(start + ends[k - 1]);
        }
    }
    None
}

fn card_grouping(lens: &[usize]) -> bool {
    let total: usize = lens.iter().sum();
    if !(13..=19).contains(&total) {
        return false;
    }
    match lens {
        [4, 6, 5] | [4, 6, 4] => true,
        [.., last] => lens[..lens.len() - 1].iter().all(|l| *l == 4) && (1..=4).contains(last),
        [] => false,
    }
}

// ---- US social security numbers ----------------------------------------

pub(super) fn ssns(text: &str, spans: &[(usize, usize)], out: &mut Vec<Span>) {
    for m in at(text, spans) {
        let s = m.as_str();
        if !clean_start(text, m.start(), b"-./+#$") || !clean_end(text, m.end(), b"-./") {
            continue;
        }
        let mut digits = [0u32; 9];
        let mut n = 0;
        for c in s.bytes().filter(u8::is_ascii_digit) {
            if n < digits.len() {
                digits[n] = u32::from(c - b'0');
            }
            n += 1;
        }
        let num = |r: std::ops::Range<usize>| digits[r].iter().fold(0, |a, d| a * 10 + d);
        if n != 9 || !validators::ssn(num(0..3), num(3..5), num(5..9)) {
            continue;
        }
        let sep = s.as_bytes().get(3).copied();
        if s.len() == 11 && s.as_bytes()[6] != sep.unwrap_or(0) {
            continue;
        }
        let ctx = context::before(text, m.start());
        let mut score: f32 = match sep {
            Some(b'-') => 0.65,
            Some(b' ') => 0.35,
            Some(b'.') => 0.2,
            _ => 0.3,
        };
        if ctx.has(context::SSN) {
            score += 0.35;
        }
        if ctx.other_number() || ctx.has(context::CALL) {
            score -= 0.4;
        }
        push(out, EntityType::UsSsn, m.start(), m.end(), score);
    }
}

// ---- phone numbers -----------------------------------------------------

pub(super) fn nanp(text: &str, spans: &[(usize, usize)], out: &mut Vec<Span>) {
    for m in at(text, spans) {
        let s = m.as_str();
        if !clean_start(text, m.start(), b"-./#$") || !clean_end(text, m.end(), b"-./") {
            continue;
        }
        if !nanp_separators(s) {
            continue;
        }
        let ctx = context::before(text, m.start());
        let separated = s.bytes().any(|b| !b.is_ascii_digit());
        let mut score: f32 = if separated { 0.7 } else { 0.3 };
        if ctx.has(context::PHONE) {
            score += 0.25;
        }
        if ctx.other_number() {
            score -= 0.5;
        }
        push(out, EntityType::PhoneNumber, m.start(), m.end(), score);
    }
}

pub(super) fn intl(text: &str, spans: &[(usize, usize)], out: &mut Vec<Span>) {
    for m in at(text, spans) {
        if !clean_start(text, m.start(), b"-./#$") {
            continue;
        }
        let end = m.end();
        if !clean_end(text, end, b"-./") {
            continue;
        }
        let ctx = context::before(text, m.start());
        let mut score: f32 = 0.75;
        if ctx.has(context::PHONE) {
            score += 0.2;
        }
        if ctx.other_number() {
            score -= 0.5;
        }
        push(out, EntityType::PhoneNumber, m.start(), end, score);
    }
}

/// `555-123-4567` and `555.123.4567` use one separator throughout; a
/// parenthesised area code may be followed by a space.
fn nanp_separators(s: &str) -> bool {
    let body = s.trim_start_matches('+');
    let body = body
        .strip_prefix('1')
        .map_or(body, |b| b.trim_start_matches([' ', '.', '-']));
    if body.starts_with('(') {
        return true;
    }
    let mut seps = body.bytes().filter(|b| !b.is_ascii_digit());
    match (seps.next(), seps.next(), seps.next()) {
        (None, _, _) => true,
        (Some(a), Some(b), None) => a == b,
        _ => false,
    }
}

// ---- e-mail --------------------------------------------------------------
