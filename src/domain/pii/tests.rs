use super::*;

fn found(text: &str) -> Vec<(EntityType, String)> {
    detect(text)
        .into_iter()
        .map(|f| {
            let s: String = text.chars().skip(f.start).take(f.end - f.start).collect();
            (f.entity_type, s)
        })
        .collect()
}

fn one(text: &str, ty: EntityType, value: &str) {
    assert_eq!(found(text), vec![(ty, value.to_string())], "in {text:?}");
}

fn none(text: &str) {
    assert_eq!(found(text), vec![], "in {text:?}");
}

#[test]
fn credit_cards_of_every_network() {
    use EntityType::CreditCard as C;
    one("card 4111 1111 1111 1111 exp", C, "4111 1111 1111 1111");
    one("pay with 5555-5555-5555-4444.", C, "5555-5555-5555-4444");
    one("mc 2221000000000009 ok", C, "2221000000000009");
    one("2-series 2720 9900 0000 0007", C, "2720 9900 0000 0007");
    one("amex 3782 822463 10005", C, "3782 822463 10005");
    one("amex 378282246310005", C, "378282246310005");
    one("discover 6011111111111117", C, "6011111111111117");
    one("jcb 3530111333300000", C, "3530111333300000");
}

#[test]
fn card_look_alikes_are_not_cards() {
    none("card 4111 1111 1111 1112"); // fails Luhn
    none("id 1234567812345670"); // Luhn-valid, no network
    none("Order number 4111111111111111 has shipped."); // not a card by context
    none("4111-1111 1111-1111"); // mixed separators
    none("account 41111111111111110000"); // longer digit run
    none("sku AB4111111111111111");
}

#[test]
fn social_security_numbers() {
    use EntityType::UsSsn as S;
    one("SSN 123-45-6789 on file", S, "123-45-6789");
    one("applicant 204-91-2290", S, "204-91-2290");
    one("my social security number is 332 20 6469", S, "332 20 6469");
    one("SSN: 123456789", S, "123456789");
    none("Reference 000-17-9313 was rejected");
    none("SSN 666-12-3456");
    none("SSN 912-12-3456");
    none("SSN 123-00-4567");
    none("SSN 123-45-0000");
    none("Part no. 984-21-44224 is backordered");
    none("id 123 45 6789"); // spaced, no context
    none("continue 123 45 6789"); // "tin" inside a word is not context
    none("123-45 6789");
}

#[test]
fn phone_numbers_and_their_look_alikes() {
    use EntityType::PhoneNumber as P;
    one("Support line 924-625-6878 is down", P, "924-625-6878");
    one("Phone: 385.915.4999", P, "385.915.4999");
    one("call (837) 332-1707 now", P, "(837) 332-1707");
    one("Call +1-329-907-9445", P, "+1-329-907-9445");
    one(
        "Call me at +44 20 7946 0162 after 5pm.",
        P,
        "+44 20 7946 0162",
    );
    one("Support line +49 30 2430759 is down.", P, "+49 30 2430759");
    one("whatsapp +442079460162", P, "+442079460162");
    one("phone,555-123-4567,x", P, "555-123-4567");
    one("call 1-800-555-0199 today", P, "1-800-555-0199");
    one("{\"phone\": \"(415)555-0134\"}", P, "(415)555-0134");
    none("pid 1234567890 exited"); // area codes do not start with 1
    none("duration 4155550134ms");
    none("The meeting moved to 1995-07-25 at 03:59:35.");
    none("Upgrade to version 10.4.94 before 1989-05-10.");
    none("ISBN 978-6-18-352353-1 is out of print.");
    none("Invoice INV-2019-916838 totals $191,370.");
    none("Ticket #55020 was escalated.");
    none("Build 49.8.3961.1 fixed the crash.");
    none("Part no. 190-43-20976 is backordered.");
    none("Order number 555-123-4567 shipped");
    none("555-123.4567"); // mixed separators
    none("+1 2");
    // "backordered" is not "order": the number after it is still a phone.
    one(
        "Part no. 218-21-91373 is backordered. Call me at +44 20 7946 0810 after 5pm.",
        P,
        "+44 20 7946 0810",
    );
}

#[test]
fn email_addresses() {
    use EntityType::EmailAddress as E;
    one(
        "Contact: brenda.chavez+63@wright-white.com.",
        E,
        "brenda.chavez+63@wright-white.com",
    );
    one("mail rudi28@hotmail.de", E, "rudi28@hotmail.de");
    none("user@localhost");
    none("an @ sign and foo@bar");
}

#[test]
fn ibans_are_checksummed_and_sized() {
    use EntityType::IbanCode as I;
    one(
        "IBAN DE89 3704 0044 0532 0130 00.",
        I,
        "DE89 3704 0044 0532 0130 00",
    );
    one(
        "to GB82WEST12345698765432 today",
        I,
        "GB82WEST12345698765432",
    );
    one(
        "GB82 WEST 1234 5698 7654 32 SSN",
        I,
        "GB82 WEST 1234 5698 7654 32",
    );
    none("Tracking id DE89370400440532013001 is invalid."); // bad checksum
    none("ZZ89370400440532013000"); // no such country
    none("DE8937040044053201300"); // one short
}

#[test]
fn ip_addresses_v4_and_v6() {
    use EntityType::IpAddress as A;
    one(
        "Login attempts from 71.236.95.8 were blocked.",
        A,
        "71.236.95.8",
    );
    one("host 10.0.0.1:8080", A, "10.0.0.1");
    one(
        "Whitelist aed2:3b0f:b610:4b84:e490:7d4a:cc47:93d7 now",
        A,
        "aed2:3b0f:b610:4b84:e490:7d4a:cc47:93d7",
    );
    one("bind to 2001:db8::1.", A, "2001:db8::1");
    none("256.1.1.1 is not an address");
    none("Build 1.2.3.4 fixed it");
    none("version 10.4.94");
    none("at 10:20:30");
    none("mac aa:bb:cc:dd:ee:ff");
    none("1.2.3.4.5");
    none("see section 3.2.1.4 of the spec");
    one(
        "2024-01-15 10:23:45 WARN login from=192.168.1.10:8080 denied",
        A,
        "192.168.1.10",
    );
}

#[test]
fn secrets_of_common_kinds() {
    use EntityType::Secret as K;
    one("key AKIAIOSFODNN7EXAMPLE here", K, "AKIAIOSFODNN7EXAMPLE");
    one(
        "use sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345 now",
        K,
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345",
    );
    one(
        "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        K,
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    );
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    one(&format!("Authorization: Bearer {jwt}"), K, jwt);
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
    one(&format!("key:\n{pem}\n"), K, pem);
    one(
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        K,
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    none("the password is secret");
    none("sk-short");
}

#[test]
fn context_raises_confidence() {
    let plain = detect("id 4111111111111111");
    let card = detect("visa card 4111111111111111");
    assert!(card[0].score > plain[0].score);
}

#[test]
fn offsets_count_unicode_scalars() {
    let text = "Grüße — mail jörg@example.com or call 924-625-6878 ✓";
    let f = detect(text);
    assert_eq!(f.len(), 2);
    let pick = |f: &Finding| {
        text.chars()
            .skip(f.start)
            .take(f.end - f.start)
            .collect::<String>()
    };
    assert_eq!(pick(&f[0]), "jörg@example.com");
    assert_eq!(pick(&f[1]), "924-625-6878");
}

#[test]
fn overlaps_keep_the_stronger_finding() {
    // The IBAN's digits contain a Luhn-valid run; only the IBAN is kept.
    let f = found("IBAN GB82 WEST 1234 5698 7654 32");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].0, EntityType::IbanCode);
}

#[test]
fn classification_levels_are_ordered() {
    assert!(Classification::Public < Classification::Internal);
    assert!(Classification::Confidential < Classification::Restricted);
    assert_eq!(
        EntityType::CreditCard.classification(),
        Classification::Restricted
    );
    assert_eq!(
        highest_classification(&detect("ip 10.0.0.1")),
        Classification::Internal
    );
    assert_eq!(highest_classification(&[]), Classification::Public);
}

#[test]
fn redaction_replaces_each_finding() {
    let text = "Grüße, SSN 123-45-6789 and ip 10.0.0.1.";
    let f = detect(text);
    assert_eq!(
        redact(text, &f),
        "Grüße, SSN [REDACTED:US_SSN] and ip [REDACTED:IP_ADDRESS]."
    );
}

/// A body made of nothing but findings: detection and redaction stay
/// O(n log n), and what is past the cap is still covered (fail closed).
#[test]
fn many_findings_are_capped_and_still_covered() {
    let n = 100_000;
    let text: String = (0..n).map(|i| format!("user{i}@example.com ")).collect();
    let findings = detect(&text);
    assert_eq!(findings.len(), MAX_FINDINGS_PER_STRING + 1);
    let cover = &findings[MAX_FINDINGS_PER_STRING];
    assert_eq!(cover.entity_type, EntityType::EmailAddress);
    assert_eq!(cover.end, text.trim_end().len(), "covers the last finding");
    let redacted = redact(&text, &findings);
    assert!(!redacted.contains('@'), "nothing past the cap leaks");
    assert!(redacted.len() < text.len() / 2);
}

#[test]
fn a_spent_request_budget_still_covers_every_type() {
    let text = "call +1 415 555 2671 or mail a@b.io";
    let findings = detect_capped(text, 0);
    let types: Vec<EntityType> = findings.iter().map(|f| f.entity_type).collect();
    assert_eq!(
        types,
        vec![EntityType::EmailAddress, EntityType::PhoneNumber]
    );
    assert!(findings.iter().all(|f| f.start == 5 && f.score == 1.0));
    assert_eq!(
        redact(text, &findings[..1]),
        "call [REDACTED:EMAIL_ADDRESS]"
    );
}

/// Held-out formats (issue 10 #9): dotted SSNs beside a context word, as
/// Presidio's pattern accepts them, in log lines, CSV and JSON fields.
#[test]
fn dotted_ssns_next_to_context() {
    use EntityType::UsSsn as S;
    one("ssn=660.97.5960 status=ok", S, "660.97.5960");
    one(r#"{"tax_id_us": "660.97.5960"}"#, S, "660.97.5960");
    one("name,social\nAda,660.97.5960", S, "660.97.5960");
    one("SSN: 660.97.5960", S, "660.97.5960");
    none("release 660.97.5960 shipped");
    none("version 1.22.3333 and 123.45.6789");
    none("on 2024.01.1234 at noon");
}

/// International numbers written in groups.
#[test]
fn grouped_international_numbers() {
    use EntityType::PhoneNumber as P;
    one("call +31 20 853 9478 today", P, "+31 20 853 9478");
    one(r#"{"phone": "+44 20 7946 0958"}"#, P, "+44 20 7946 0958");
    one(
        "2026-11-01T10:00:00Z caller=+44 20 7946 0958 ok",
        P,
        "+44 20 7946 0958",
    );
    one("id,phone\n7,+31 20 853 9478", P, "+31 20 853 9478");
    let phones = |t: &str| found(t).into_iter().filter(|(ty, _)| *ty == P).count();
    assert_eq!(phones("from 10.20.30.40 to 10.20.30.41"), 0);
    assert_eq!(phones("dated 2026-11-01 12:30:45"), 0);
    one("tel:+31 20 853 9478", P, "+31 20 853 9478");
    one(r#""+44 20 7946 0958","x""#, P, "+44 20 7946 0958");
    one("mobile: +31 6 1234 5678;", P, "+31 6 1234 5678");
}

/// Text `inert` calls plain holds no finding, whatever its words: random
/// text over the plain bytes, seeded with the words secrets and numbers
/// are written with, finds nothing; and every finding of every kind in
/// this file's examples is not plain.
#[test]
fn plain_text_holds_no_finding() {
    const WORDS: [&str; 14] = [
        "password is ",
        "token ",
        "api key ",
        "apikey",
        "secret ",
        "sk ",
        "ghp ",
        "xoxb ",
        "fe ab cdef ",
        "jane.doe at example.com ",
        "eyj",
        "begin private key ",
        "aws ",
        "a.b.c.d ",
    ];
    const PLAIN_BYTES: &[u8] = b"abcdefghijklmnopqrstuvwxyz .,;!?'\"()/#$%&*~\n\t";
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..2000 {
        let mut text = String::new();
        for _ in 0..next(40) {
            if next(4) == 0 {
                text.push_str(WORDS[next(WORDS.len())]);
            } else {
                text.push(PLAIN_BYTES[next(PLAIN_BYTES.len())] as char);
            }
        }
        assert!(inert(&text), "{text:?}");
        assert_eq!(found(&text), vec![], "in {text:?}");
    }
    let examples = [
        "card 4111 1111 1111 1111",
        "ssn 078-05-1120",
        "call (415) 555-0132",
        "mail jane@example.com",
        "iban DE89 3704 0044 0532 0130 00",
        "host 10.0.0.1",
        "host fe80::1",
        "key AKIAIOSFODNN7EXAMPLE",
        "password = hunter2hunter2x",
        "sk-abcdefghijklmnopqrstuvwxyz",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "glpat-abcdefghijklmnopqrst",
        "xoxb-abcdefghijklmnop",
        "AIzaabcdefghijklmnopqrstuvwxyz012345678",
        "sk_live_abcdefghijklmnop",
        "atr_0123abcd_abcdefghijklmnop",
        "github_pat_abcdefghijklmnopqrstuvwx",
        "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
        "mail josé@exämple.com",
    ];
    for text in examples {
        let findings = found(text);
        assert!(!findings.is_empty(), "{text:?}");
        for (_, value) in findings {
            assert!(!inert(&value), "{value:?} in {text:?}");
        }
    }
}
