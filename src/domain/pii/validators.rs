//! Checksums and numbering rules that separate real identifiers from
//! look-alikes. Inputs are ASCII digit or alphanumeric strings.

/// The Luhn check used by payment card numbers.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// Issuer prefixes and lengths of the major card networks.
pub fn card_network(digits: &[u8]) -> Option<&'static str> {
    let len = digits.len();
    let prefix = |n: usize| -> u32 {
        digits[..n.min(len)]
            .iter()
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let (p1, p2, p3, p4, p6) = (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6));
    let network = match () {
        _ if p1 == 4 && matches!(len, 13 | 16 | 19) => "visa",
        _ if (51..=55).contains(&p2) && len == 16 => "mastercard",
        _ if (2221..=2720).contains(&p4) && len == 16 => "mastercard",
        _ if (p2 == 34 || p2 == 37) && len == 15 => "amex",
        _ if (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65) && (16..=19).contains(&len) => {
            "discover"
        }
        _ if (622126..=622925).contains(&p6) && (16..=19).contains(&len) => "discover",
        _ if (3528..=3589).contains(&p4) && (16..=19).contains(&len) => "jcb",
        _ if ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39)
            && (14..=19).contains(&len) =>
        {
            "diners"
        }
        _ if p2 == 62 && (16..=19).contains(&len) => "unionpay",
        _ if (p2 == 50 || (56..=69).contains(&p2)) && (12..=19).contains(&len) => "maestro",
        _ => return None,
    };
    Some(network)
}

/// SSA rules: no area 000, 666 or 900–999, no group 00, no serial 0000.
pub fn ssn(area: u32, group: u32, serial: u32) -> bool {
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// Per-country IBAN lengths (ISO 13616 registry).
pub fn iban_length(country: &[u8]) -> Option<usize> {
    const LENGTHS: &[(&[u8; 2], usize)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BI", 27),
        (b"BR", 29),
        (b"BY", 28),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DJ", 27),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FK", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"LY", 25),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MN", 20),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NI", 28),
        (b"NL", 18),
        (b"NO", 15),
        (b"OM", 23),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"RU", 33),
        (b"SA", 24),
        (b"SC", 31),
        (b"SD", 18),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"SO", 23),
        (b"ST", 25),
        (b"SV", 28),
        (b"TL", 23),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
        (b"YE", 30),
    ];
    LENGTHS
        .iter()
        .find(|(c, _)| c.as_slice() == country)
        .map(|(_, n)| *n)
}

/// ISO 7064 mod 97-10 over the rearranged IBAN (letters as 10–35).
pub fn iban_checksum(iban: &[u8]) -> bool {
    if iban.len() < 5 {
        return false;
    }
    let rearranged = iban[4..].iter().chain(&iban[..4]);
    let mut rem = 0u32;
    for &c in rearranged {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Dotted-quad IPv4 with octets 0–255 and no leading zeros.
pub fn ipv4(s: &str) -> bool {
    let mut parts = 0;
    for octet in s.split('.') {
        parts += 1;
        let ok = !octet.is_empty()
            && octet.len() <= 3
            && octet.bytes().all(|b| b.is_ascii_digit())
            && !(octet.len() > 1 && octet.starts_with('0'))
            && octet.parse::<u16>().is_ok_and(|v| v <= 255);
        if !ok {
            return false;
        }
    }
    parts == 4
}

pub fn ipv6(s: &str) -> bool {
    s.parse::<std::net::Ipv6Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_real_and_rejects_altered_numbers() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"378282246310005"));
        assert!(!luhn(b"4111111111111112"));
        assert!(!luhn(b""));
    }

    #[test]
    fn networks_include_mastercard_two_series() {
        assert_eq!(card_network(b"2221000000000009"), Some("mastercard"));
        assert_eq!(card_network(b"2720990000000007"), Some("mastercard"));
        assert_eq!(card_network(b"5555555555554444"), Some("mastercard"));
        assert_eq!(card_network(b"378282246310005"), Some("amex"));
        assert_eq!(card_network(b"6011111111111117"), Some("discover"));
        assert_eq!(card_network(b"3530111333300000"), Some("jcb"));
        assert_eq!(card_network(b"30569309025904"), Some("diners"));
        assert_eq!(card_network(b"4111111111111111"), Some("visa"));
        assert_eq!(card_network(b"1234567812345670"), None);
        assert_eq!(card_network(b"37828224631000"), None, "amex is 15 digits");
    }

    #[test]
    fn ssn_rules() {
        assert!(ssn(123, 45, 6789));
        assert!(!ssn(0, 45, 6789));
        assert!(!ssn(666, 45, 6789));
        assert!(!ssn(900, 45, 6789));
        assert!(!ssn(123, 0, 6789));
        assert!(!ssn(123, 45, 0));
    }

    #[test]
    fn iban_checksum_and_lengths() {
        assert!(iban_checksum(b"GB82WEST12345698765432"));
        assert!(iban_checksum(b"DE89370400440532013000"));
        assert!(!iban_checksum(b"DE89370400440532013001"));
        assert_eq!(iban_length(b"DE"), Some(22));
        assert_eq!(iban_length(b"NO"), Some(15));
        assert_eq!(iban_length(b"ZZ"), None);
    }

    #[test]
    fn ip_addresses() {
        assert!(ipv4("192.168.0.1"));
        assert!(ipv4("0.0.0.0"));
        assert!(!ipv4("256.1.1.1"));
        assert!(!ipv4("01.2.3.4"));
        assert!(!ipv4("1.2.3"));
        assert!(!ipv4("49.8.3961.1"));
        assert!(ipv6("2001:db8::1"));
        assert!(ipv6("aed2:3b0f:b610:4b84:e490:7d4a:cc47:93d7"));
        assert!(!ipv6("03:59:35"));
        assert!(!ipv6("aa:bb:cc:dd:ee:ff"));
    }
}
