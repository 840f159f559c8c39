//! Candidate finders, one per entity type. Each checks the characters
//! around a match (a card number is not part of a longer digit run), runs
//! its validator, and scores with the words just before it.

use std::sync::LazyLock;

use regex::Regex;

use super::{context, shapes, validators};
use super::{EntityType, Span};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("built-in pattern {pattern}: {e}"))
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    // Internationalised local parts and domains (RFC 6531) are letters too.
    re(
        r"[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?)*\.[\p{L}]{2,24}",
    )
});
static IBAN: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,32}"));
static IPV6: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"));
static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"-----BEGIN[A-Z ]{0,20} PRIVATE KEY-----(?s:.*?)(?:-----END[A-Z ]{0,20} PRIVATE KEY-----|\z)",
        r"|(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}",
        r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}",
        r"|sk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_\-]{20,}",
        r"|(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}",
        r"|github_pat_[A-Za-z0-9_]{22,}",
        r"|glpat-[A-Za-z0-9_\-]{20}",
        r"|xox[baprs]-[A-Za-z0-9\-]{10,}",
        r"|AIza[0-9A-Za-z_\-]{35}",
        r"|(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}",
        r"|atr_[0-9a-f]{8,}_[A-Za-z0-9_\-]{16,}",
        // `name = value` credentials, in the same pass (the value is cut out after).
        r#"|(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|secret_access_key|client_secret|CLIENT_SECRET"#,
        r#"|api_key|apiKey|API_KEY|api-key|apikey|password|Password|PASSWORD|passwd|token|Token|TOKEN)"#,
        r#"["']?\s*[:=]\s*["']?[A-Za-z0-9/+=_\-.~!@#$%^&*]{12,}"#,
    ))
});
/// Credentials written as `name = value`: the value is the secret. The
/// names are spelled out in their usual cases (not `(?i)`) so the search
/// can skip ahead on literals.
static ASSIGNED_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r#"^(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|secret_access_key|client_secret|CLIENT_SECRET"#,
        r#"|api_key|apiKey|API_KEY|api-key|apikey|password|Password|PASSWORD|passwd|token|Token|TOKEN)"#,
        r#"["']?\s*[:=]\s*["']?([A-Za-z0-9/+=_\-.~!@#$%^&*]{12,})"#,
    ))
});

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
        if g.card_run >= 9 {
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
struct Ranges<const N: usize> {
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
    fn push(&mut self, start: usize, end: usize) {
        if self.n == N {
            self.overflow = true;
        } else {
            self.at[self.n] = (start, end);
            self.n += 1;
        }
    }

    fn ranges<'a>(&'a self, whole: &'a [(usize, usize)]) -> &'a [(usize, usize)] {
        if self.overflow {
            whole
        } else {
            &self.at[..self.n]
        }
    }
}

/// A pattern match in absolute byte offsets.
#[derive(Clone, Copy)]
struct Hit<'t> {
    start: usize,
    end: usize,
    text: &'t str,
}

impl<'t> Hit<'t> {
    fn start(&self) -> usize {
        self.start
    }
    fn end(&self) -> usize {
        self.end
    }
    fn as_str(&self) -> &'t str {
        &self.text[self.start..self.end]
    }
}

/// Shapes found by hand, as hits.
fn at<'a>(text: &'a str, spans: &'a [(usize, usize)]) -> impl Iterator<Item = Hit<'a>> + 'a {
    spans
        .iter()
        .map(move |&(start, end)| Hit { start, end, text })
}

/// Matches of `re` inside each byte range of `text`.
fn hits<'a>(
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

/// What one pass over the bytes says each recognizer could find, and
/// where. Most text has none of these shapes, so most patterns never run,
/// and those that do search a few bytes: this is what keeps the detector
/// fast. The gates over-approximate; the patterns and validators decide.
#[derive(Default)]
struct Gates {
    /// Longest run of digits allowing single spaces or dashes between them.
    card_run: u32,
    /// Longest run of digits allowing up to two of ` .-()` between them.
    phone_run: u32,
    plus_digit: bool,
    /// Two capitals then two digits: an IBAN's country and check digits.
    iban: bool,
    at: bool,
    dots: u32,
    colons: u32,
    /// Digit runs of `RUN_DIGITS` or more (with a leading `+` or `(`).
    runs: Ranges<8>,
}

/// The fewest digits in a run worth searching (an E.164 number has 8).
const RUN_DIGITS: u32 = 8;

const DIGIT: u8 = 1;
const CARD_SEP: u8 = 2;
const PHONE_SEP: u8 = 4;
const SPECIAL: u8 = 32;

/// Byte classes for the gate scan.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let mut k = 0;
        if b.is_ascii_digit() {
            k |= DIGIT;
        }
        if b == b' ' || b == b'-' {
            k |= CARD_SEP;
        }
        if matches!(b, b' ' | b'.' | b'-' | b'(' | b')') {
            k |= PHONE_SEP;
        }
        if matches!(b, b'@' | b'+' | b'.' | b':') || b.is_ascii_uppercase() {
            k |= SPECIAL;
        }
        t[c] = k;
        c += 1;
    }
    t
};

impl Gates {
    fn of(b: &[u8]) -> Self {
        let mut g = Gates::default();
        let (mut card, mut card_seps, mut phone, mut phone_seps) = (0u32, 0u32, 0u32, 0u32);
        let (mut run_start, mut run_end) = (0usize, 0usize);
        for (i, &c) in b.iter().enumerate() {
            let k = CLASS[c as usize];
            if k & DIGIT != 0 {
                if phone == 0 {
                    run_start = i;
                }
                card += 1;
                phone += 1;
                card_seps = 0;
                phone_seps = 0;
                run_end = i + 1;
            } else if card | phone != 0 {
                card_seps += 1;
                if k & CARD_SEP == 0 || card_seps > 1 {
                    g.card_run = g.card_run.max(card);
                    card = 0;
                }
                phone_seps += 1;
                if k & PHONE_SEP == 0 || phone_seps > 2 {
                    g.end_run(b, phone, run_start, run_end);
                    phone = 0;
                }
            }
            if k & SPECIAL != 0 {
                match c {
                    b'@' => g.at = true,
                    b'.' => g.dots += 1,
                    b':' => g.colons += 1,
                    b'+' => g.plus_digit |= b.get(i + 1).is_some_and(u8::is_ascii_digit),
                    _ => {
                        g.iban |= b.get(i + 1).is_some_and(u8::is_ascii_uppercase)
                            && b.get(i + 2).is_some_and(u8::is_ascii_digit)
                            && b.get(i + 3).is_some_and(u8::is_ascii_digit);
                    }
                }
            }
        }
        g.card_run = g.card_run.max(card);
        g.end_run(b, phone, run_start, run_end);
        g
    }

    /// Closes a run of `digits` digits spanning `start..end`.
    fn end_run(&mut self, b: &[u8], digits: u32, start: usize, end: usize) {
        if digits == 0 {
            return;
        }
        self.phone_run = self.phone_run.max(digits);
        if digits < RUN_DIGITS {
            return;
        }
        let mut start = start;
        while start > 0 && matches!(b[start - 1], b'+' | b'(') {
            start -= 1;
        }
        let end = if b.get(end) == Some(&b')') {
            end + 1
        } else {
            end
        };
        self.runs.push(start, end);
    }
}

// ---- boundaries ------------------------------------------------------

fn byte_at(text: &str, i: usize) -> Option<u8> {
    text.as_bytes().get(i).copied()
}

/// The byte before `start` cannot continue a token.
fn clean_start(text: &str, start: usize, also: &[u8]) -> bool {
    match start.checked_sub(1).and_then(|i| byte_at(text, i)) {
        None => true,
        Some(b) => !b.is_ascii_alphanumeric() && b != b'_' && !also.contains(&b),
    }
}

/// The text after `end` does not continue the token: no letter or digit,
/// and no separator followed by a digit.
fn clean_end(text: &str, end: usize, seps: &[u8]) -> bool {
    match byte_at(text, end) {
        None => true,
        Some(b) if b.is_ascii_alphanumeric() || b == b'_' => false,
        Some(b) if seps.contains(&b) => !byte_at(text, end + 1).is_some_and(|n| n.is_ascii_digit()),
        Some(_) => true,
    }
}

fn push(out: &mut Vec<Span>, ty: EntityType, start: usize, end: usize, score: f32) {
    out.push(Span {
        ty,
        start,
        end,
        score,
    });
}

// ---- payment cards ---------------------------------------------------

fn cards(text: &str, spans: &[(usize, usize)], out: &mut Vec<Span>) {
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

fn ssns(text: &str, spans: &[(usize, usize)], out: &mut Vec<Span>) {
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

fn nanp(text: &str, spans: &[(usize, usize)], out: &mut Vec<Span>) {
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

fn intl(text: &str, spans: &[(usize, usize)], out: &mut Vec<Span>) {
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

fn emails(text: &str, out: &mut Vec<Span>) {
    // Each `@` with the address characters around it: a few bytes to search.
    let bytes = text.as_bytes();
    let mut windows = Ranges::<8>::default();
    for (at, _) in text.match_indices('@') {
        let left = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || "._%+-".contains(*c))
            .last()
            .map_or(at, |(i, _)| i);
        let right = text[at + 1..]
            .char_indices()
            .take_while(|(_, c)| c.is_alphanumeric() || ".-".contains(*c))
            .last()
            .map_or(at + 1, |(i, c)| at + 1 + i + c.len_utf8());
        if windows.n > 0 && left < windows.at[windows.n - 1].1 {
            continue;
        }
        windows.push(left, right);
    }
    let whole = [(0, bytes.len())];
    for m in hits(&EMAIL, text, windows.ranges(&whole)) {
        let mut start = m.start();
        while byte_at(text, start).is_some_and(|b| b == b'.' || b == b'-') {
            start += 1;
        }
        if !clean_end(text, m.end(), b"") || byte_at(text, start) == Some(b'@') {
            continue;
        }
        let ctx = context::before(text, start);
        let mut score: f32 = 0.9;
        if ctx.has(context::EMAIL) {
            score += 0.1;
        }
        push(out, EntityType::EmailAddress, start, m.end(), score);
    }
}

// ---- IBAN ------------------------------------------------------------------

fn ibans(text: &str, ranges: &[(usize, usize)], out: &mut Vec<Span>) {
    for m in hits(&IBAN, text, ranges) {
        if !clean_start(text, m.start(), b"") {
            continue;
        }
        let s = m.as_str().as_bytes();
        let Some(len) = validators::iban_length(&s[..2]) else {
            continue;
        };
        // Take exactly the country's length of characters, single spaces allowed.
        let mut compact = Vec::with_capacity(len);
        let mut end = 0;
        for (i, b) in s.iter().enumerate() {
            if *b != b' ' {
                compact.push(*b);
                end = i + 1;
                if compact.len() == len {
                    break;
                }
            }
        }
        if compact.len() != len || !validators::iban_checksum(&compact) {
            continue;
        }
        let end = m.start() + end;
        if byte_at(text, end).is_some_and(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        let ctx = context::before(text, m.start());
        let mut score: f32 = 0.9;
        if ctx.has(context::IBAN) {
            score += 0.1;
        }
        if ctx.other_number() {
            score -= 0.5;
        }
        push(out, EntityType::IbanCode, m.start(), end, score);
    }
}

// ---- IP addresses ----------------------------------------------------------

fn ipv4s(text: &str, spans: &[(usize, usize)], out: &mut Vec<Span>) {
    for m in at(text, spans) {
        if !clean_start(text, m.start(), b".-") || !clean_end(text, m.end(), b".") {
            continue;
        }
        if !validators::ipv4(m.as_str()) {
            continue;
        }
        let ctx = context::before(text, m.start());
        let mut score: f32 = 0.8;
        if ctx.has(context::IP) {
            score += 0.15;
        }
        if ctx.version() {
            score -= 0.6;
        }
        push(out, EntityType::IpAddress, m.start(), m.end(), score);
    }
}

fn ipv6s(text: &str, ranges: &[(usize, usize)], out: &mut Vec<Span>) {
    for m in hits(&IPV6, text, ranges) {
        let s = m.as_str();
        if s.len() < 3 || !clean_start(text, m.start(), b":.") || !clean_end(text, m.end(), b"") {
            continue;
        }
        if byte_at(text, m.end()) == Some(b':') || !validators::ipv6(s) {
            continue;
        }
        // Times and ratios like 10:20:30 do not parse; `::` alone is not an address.
        if s.bytes().filter(u8::is_ascii_hexdigit).count() < 2 {
            continue;
        }
        let ctx = context::before(text, m.start());
        let mut score: f32 = 0.85;
        if ctx.has(context::IP) {
            score += 0.1;
        }
        push(out, EntityType::IpAddress, m.start(), m.end(), score);
    }
}

// ---- secrets ---------------------------------------------------------------

fn secrets(text: &str, ranges: &[(usize, usize)], out: &mut Vec<Span>) {
    for m in hits(&SECRET, text, ranges) {
        if !clean_start(text, m.start(), b"") {
            continue;
        }
        // An assignment: the secret is the value after the name.
        let assigned = ASSIGNED_SECRET
            .captures(m.as_str())
            .and_then(|c| c.get(1))
            .filter(|v| v.end() == m.as_str().len());
        match assigned {
            None => push(out, EntityType::Secret, m.start(), m.end(), 0.95),
            Some(v) => {
                let value = v.as_str();
                // Words and placeholders are not credentials: want letters and digits mixed.
                let digits = value.bytes().any(|b| b.is_ascii_digit());
                let letters = value.bytes().any(|b| b.is_ascii_alphabetic());
                if digits && letters {
                    let start = m.start() + v.start();
                    push(out, EntityType::Secret, start, start + value.len(), 0.7);
                }
            }
        }
    }
}
