//! The gate scan: one pass over the bytes that says which recognizers
//! could find anything, and where.

use super::Ranges;

/// What one pass over the bytes says each recognizer could find, and
/// where. Most text has none of these shapes, so most patterns never run,
/// and those that do search a few bytes: this is what keeps the detector
/// fast. The gates over-approximate; the patterns and validators decide.
#[derive(Default)]
pub(super) struct Gates {
    /// Longest run of digits allowing single spaces or dashes between them.
    pub(super) card_run: u32,
    /// Longest run of digits allowing up to two of ` .-()` between them.
    pub(super) phone_run: u32,
    pub(super) plus_digit: bool,
    /// Two capitals then two digits: an IBAN's country and check digits.
    pub(super) iban: bool,
    pub(super) at: bool,
    pub(super) dots: u32,
    pub(super) colons: u32,
    /// Digit runs of `RUN_DIGITS` or more (with a leading `+` or `(`).
    pub(super) runs: Ranges<8>,
}

/// The fewest digits in a run worth searching (an E.164 number has 8).
pub(super) const RUN_DIGITS: u32 = 8;

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
    pub(super) fn of(b: &[u8]) -> Self {
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
