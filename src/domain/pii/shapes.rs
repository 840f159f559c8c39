//! Card, SSN and phone number shapes read straight off a run of digits and
//! separators, where the gate scan found one. Same shapes as the patterns
//! in `recognizers`, without a regex search per run: for short texts the
//! search set-up, not the scanning, is what costs.

/// A run's digits, and what separates them: `sep[k]` holds the bytes
/// between digit `k` and digit `k + 1`.
pub struct Digits<'t> {
    text: &'t [u8],
    /// Byte offset of each digit (the first `MAX_DIGITS` of a run).
    pos: [usize; MAX_DIGITS],
    n: usize,
}

/// Longer runs are read in part: no card, SSN or phone number is this long.
const MAX_DIGITS: usize = 40;

impl<'t> Digits<'t> {
    pub fn of(text: &'t str, start: usize, end: usize) -> Self {
        let b = text.as_bytes();
        let mut d = Self {
            text: b,
            pos: [0; MAX_DIGITS],
            n: 0,
        };
        for (i, c) in b.iter().enumerate().take(end).skip(start) {
            if c.is_ascii_digit() {
                if d.n == MAX_DIGITS {
                    break;
                }
                d.pos[d.n] = i;
                d.n += 1;
            }
        }
        d
    }

    fn len(&self) -> usize {
        self.n
    }

    /// The bytes between digit `k` and digit `k + 1`.
    fn sep(&self, k: usize) -> &'t [u8] {
        &self.text[self.pos[k] + 1..self.pos[k + 1]]
    }

    fn digit(&self, k: usize) -> u8 {
        self.text[self.pos[k]]
    }

    /// Digit indexes where a group of digits starts.
    fn group_starts(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&k| k == 0 || !self.sep(k - 1).is_empty())
    }

    /// The group of digits starting at `k`: its end index (exclusive).
    fn group_end(&self, k: usize) -> usize {
        let mut e = k + 1;
        while e < self.len() && self.sep(e - 1).is_empty() {
            e += 1;
        }
        e
    }

    fn byte_end(&self, k_end: usize) -> usize {
        self.pos[k_end - 1] + 1
    }
}

/// Stretches of digits joined by single spaces or dashes, 12 digits or
/// more: where a card number can be.
pub fn card_stretches(d: &Digits, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let mut k = 0;
    while k < d.len() {
        let start = k;
        let mut e = k + 1;
        while e < d.len() && matches!(d.sep(e - 1), b"" | b" " | b"-") {
            e += 1;
        }
        if e - start >= 12 {
            out.push((d.pos[start], d.byte_end(e)));
        }
        k = e;
    }
}

/// `123-45-6789`, `123 45 6789` and nine digits alone.
pub fn ssn_shapes(d: &Digits, out: &mut Vec<(usize, usize)>) {
    out.clear();
    for k in d.group_starts() {
        let e = d.group_end(k);
        if e - k == 9 {
            out.push((d.pos[k], d.byte_end(e)));
            continue;
        }
        if e - k != 3 || k + 9 > d.len() {
            continue;
        }
        // Dots too, as Presidio accepts them; the recognizer scores a dotted
        // number as an SSN only next to a context word.
        let one = |s: &[u8]| matches!(s, b"-" | b" " | b".");
        if one(d.sep(k + 2))
            && d.group_end(k + 3) == k + 5
            && one(d.sep(k + 4))
            && d.group_end(k + 5) == k + 9
        {
            out.push((d.pos[k], d.byte_end(k + 9)));
        }
    }
}

/// North American numbers: an optional `1`/`+1`, an area code starting
/// 2–9 (maybe in parentheses), an exchange and a line number, separated by
/// one of ` .-` or nothing.
pub fn nanp_shapes(d: &Digits, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let mut next_free = 0;
    for k in d.group_starts() {
        if k < next_free {
            continue;
        }
        let country_sep =
            k + 1 < d.len() && matches!(d.sep(k), b"" | b" " | b"." | b"-" | b"(" | b" (");
        let country = d.digit(k) == b'1' && country_sep;
        let with_country = if country { nanp_at(d, k + 1) } else { None };
        let found = with_country.or_else(|| nanp_at(d, k));
        let Some((first, end)) = found else { continue };
        let b = d.text;
        let mut start = d.pos[k];
        if first == k + 1 {
            if start > 0 && b[start - 1] == b'+' {
                start -= 1;
            }
        } else if start > 0 && b[start - 1] == b'(' {
            start -= 1;
        }
        out.push((start, d.byte_end(end)));
        next_free = end;
    }
}

fn single_or_none(s: &[u8]) -> bool {
    matches!(s, b"" | b" " | b"." | b"-")
}

/// Area, exchange and line starting at digit `a`: returns the first digit
/// index and the end index.
fn nanp_at(d: &Digits, a: usize) -> Option<(usize, usize)> {
    if a + 10 > d.len() || !(b'2'..=b'9').contains(&d.digit(a)) {
        return None;
    }
    let inner = |k: usize| d.sep(k).is_empty();
    if !(inner(a) && inner(a + 1) && inner(a + 3) && inner(a + 4)) {
        return None;
    }
    if !(inner(a + 6) && inner(a + 7) && inner(a + 8)) {
        return None;
    }
    let parenthesised = d.pos[a] > 0 && d.text[d.pos[a] - 1] == b'(';
    let after_area = d.sep(a + 2);
    let area_ok = if parenthesised {
        matches!(after_area, b")" | b") ")
    } else {
        single_or_none(after_area)
    };
    if !area_ok || !single_or_none(d.sep(a + 5)) {
        return None;
    }
    Some((a, a + 10))
}

/// `+` then 8 to 15 digits in groups: where an international number can be.
pub fn intl_shapes(d: &Digits, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let b = d.text;
    for k in d.group_starts() {
        let p = d.pos[k];
        if p == 0 || b[p - 1] != b'+' || d.digit(k) == b'0' {
            continue;
        }
        // Up to the last group the E.164 length allows.
        let mut best = None;
        let mut e = k;
        let mut groups = 0;
        while e < d.len() {
            let ge = d.group_end(e);
            groups += 1;
            let digits = ge - k;
            if digits > 15 {
                break;
            }
            if digits >= 8 && (groups >= 2 || digits >= 10) {
                best = Some(ge);
            }
            if ge < d.len() && d.sep(ge - 1).len() > 2 {
                break;
            }
            e = ge;
        }
        if let Some(end) = best {
            let mut stop = d.byte_end(end);
            if b.get(stop) == Some(&b')') {
                stop += 1;
            }
            out.push((p - 1, stop));
        }
    }
}

/// Dotted quads: four groups of one to three digits joined by single dots.
pub fn ipv4_shapes(text: &str, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let starts =
            b[i].is_ascii_digit() && (i == 0 || !(b[i - 1].is_ascii_digit() || b[i - 1] == b'.'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut parts = 0;
        loop {
            let d0 = j;
            while j < b.len() && j - d0 < 4 && b[j].is_ascii_digit() {
                j += 1;
            }
            let width = j - d0;
            if width == 0 || width > 3 {
                break;
            }
            parts += 1;
            if parts == 4 || j >= b.len() || b[j] != b'.' {
                break;
            }
            j += 1;
        }
        if parts == 4 && (j == b.len() || !b[j].is_ascii_digit()) {
            out.push((i, j));
        }
        i = j.max(i + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str, f: fn(&Digits, &mut Vec<(usize, usize)>)) -> Vec<&str> {
        let d = Digits::of(text, 0, text.len());
        let mut out = Vec::new();
        f(&d, &mut out);
        out.into_iter().map(|(s, e)| &text[s..e]).collect()
    }

    #[test]
    fn shapes_found_in_runs() {
        assert_eq!(
            spans("4111 1111 1111 1111", card_stretches),
            vec!["4111 1111 1111 1111"]
        );
        assert_eq!(spans("123-45-6789", ssn_shapes), vec!["123-45-6789"]);
        assert_eq!(spans("123456789", ssn_shapes), vec!["123456789"]);
        assert_eq!(spans("984-21-44224", ssn_shapes), Vec::<&str>::new());
        assert_eq!(spans("(837) 332-1707", nanp_shapes), vec!["(837) 332-1707"]);
        assert_eq!(
            spans("+1-329-907-9445", nanp_shapes),
            vec!["+1-329-907-9445"]
        );
        assert_eq!(spans("1-800-555-0199", nanp_shapes), vec!["1-800-555-0199"]);
        assert_eq!(spans("924-625-6878", nanp_shapes), vec!["924-625-6878"]);
        assert_eq!(spans("4155550134", nanp_shapes), vec!["4155550134"]);
        assert_eq!(
            spans("+44 20 7946 0162", intl_shapes),
            vec!["+44 20 7946 0162"]
        );
        assert_eq!(spans("+49 30 1065976", intl_shapes), vec!["+49 30 1065976"]);
        let mut out = Vec::new();
        ipv4_shapes(
            "from 10.0.0.1, not 1.2.3 or 1234.1.1.1 or v1.2.3.4.5",
            &mut out,
        );
        // Shapes over-approximate: the recognizer's boundary checks drop `v1.2.3.4`.
        assert_eq!(out, vec![(5, 13), (43, 50)]);
    }
}
