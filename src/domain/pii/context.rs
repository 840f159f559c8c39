//! Words just before a candidate, as bit flags: one walk over a short
//! window and one `match` per word, so context costs next to nothing.

pub const CARD: u16 = 1;
pub const SSN: u16 = 1 << 1;
pub const PHONE: u16 = 1 << 2;
/// Words about calling: phone context, and a sign that digits are not an SSN.
pub const CALL: u16 = 1 << 3;
pub const IP: u16 = 1 << 4;
pub const IBAN: u16 = 1 << 5;
pub const EMAIL: u16 = 1 << 6;
/// The digits that follow are some other kind of number (order, invoice, …).
pub const OTHER_NUMBER: u16 = 1 << 7;
/// A version or section number follows (`version 1.2.3.4`).
pub const VERSION: u16 = 1 << 8;

const WINDOW: usize = 40;
/// `OTHER_NUMBER` words count only this close to the candidate.
const NEAR: usize = 24;

pub struct Context {
    /// Flags of every word in the window.
    pub any: u16,
    /// Flags of words close to the candidate.
    pub near: u16,
    /// Flags of the last word before the candidate.
    pub last: u16,
}

impl Context {
    pub fn has(&self, flag: u16) -> bool {
        self.any & flag != 0
    }

    pub fn other_number(&self) -> bool {
        self.near & OTHER_NUMBER != 0
    }

    pub fn version(&self) -> bool {
        self.last & VERSION != 0
    }
}

/// The context of a candidate starting at byte `start`.
pub fn before(text: &str, start: usize) -> Context {
    let bytes = text.as_bytes();
    let from = start.saturating_sub(WINDOW);
    let mut ctx = Context {
        any: 0,
        near: 0,
        last: 0,
    };
    let mut i = from;
    while i < start {
        if !bytes[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let w = i;
        let mut buf = [0u8; 16];
        let mut n = 0;
        while i < start && bytes[i].is_ascii_alphanumeric() {
            if n < buf.len() {
                buf[n] = bytes[i].to_ascii_lowercase();
            }
            n += 1;
            i += 1;
        }
        let flags = if n <= buf.len() { flags(&buf[..n]) } else { 0 };
        ctx.any |= flags;
        if start - w <= NEAR {
            ctx.near |= flags;
        }
        ctx.last = flags;
    }
    ctx
}

fn flags(word: &[u8]) -> u16 {
    match exact(word) {
        0 => word
            .strip_suffix(b"s")
            .filter(|w| w.len() > 2)
            .map_or(0, exact),
        f => f,
    }
}

fn exact(word: &[u8]) -> u16 {
    match word {
        b"card" | b"visa" | b"mastercard" | b"amex" | b"american" | b"discover" | b"cc"
        | b"credit" | b"debit" | b"charge" | b"paid" | b"payment" | b"pan" | b"transaction"
        | b"refund" | b"billing" | b"cardholder" => CARD,
        b"ssn" | b"social" | b"taxpayer" | b"tin" | b"itin" | b"applicant" | b"employee"
        | b"payroll" | b"w2" | b"ss" | b"tax" => SSN,
        b"call" | b"phone" | b"tel" | b"telephone" | b"fax" | b"mobile" | b"cell" => PHONE | CALL,
        b"line" | b"reach" | b"sms" | b"whatsapp" | b"dial" | b"hotline" | b"ring" => PHONE,
        b"contact" => PHONE | EMAIL,
        b"iban" | b"account" | b"bank" | b"wire" | b"beneficiary" | b"transfer" | b"sepa" => IBAN,
        b"mail" | b"email" | b"reply" | b"send" | b"to" => EMAIL,
        b"from" => EMAIL | IP,
        b"ip" | b"host" | b"server" | b"address" | b"firewall" | b"whitelist" | b"allowlist"
        | b"blocklist" | b"login" | b"client" | b"remote" | b"gateway" | b"dns" | b"proxy" => IP,
        b"order" | b"tracking" | b"invoice" | b"isbn" | b"part" | b"serial" | b"ticket"
        | b"sku" | b"ref" | b"case" | b"batch" | b"lot" | b"model" | b"po" => OTHER_NUMBER,
        b"version" | b"build" | b"release" => OTHER_NUMBER | VERSION,
        b"firmware" | b"v" | b"ver" | b"oid" | b"section" | b"chapter" | b"figure" | b"table"
        | b"step" | b"clause" | b"rule" | b"item" => VERSION,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(text: &str) -> Context {
        before(text, text.len())
    }

    #[test]
    fn words_set_their_flags() {
        assert!(ctx("charge my Visa ").has(CARD));
        assert!(ctx("Employee SSN: ").has(SSN));
        assert!(ctx("Phones: ").has(PHONE));
        assert!(ctx("Upgrade to version ").version());
        assert!(ctx("Order number ").other_number());
    }

    #[test]
    fn parts_of_words_do_not_count() {
        assert!(!ctx("continue ").has(SSN), "tin inside a word");
        assert!(!ctx("iphone ").has(IP));
        assert!(!ctx("backordered. Call me at ").other_number());
        assert!(ctx("backordered. Call me at ").has(CALL));
    }

    #[test]
    fn only_near_words_mark_other_numbers() {
        let far = "Order 1 shipped and everything is fine now, card ";
        assert!(!ctx(far).other_number());
    }
}
