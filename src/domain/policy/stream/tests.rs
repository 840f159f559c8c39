//! The hold-back buffer's tests (the stream guard's tests use `rule`).

use super::*;
use crate::domain::pii::EntityType;
use crate::domain::policy::{PolicyRule, Target};

/// A platform rule on answers (the stream guard's tests use it too).
pub(crate) fn rule(entity: EntityType, action: Action) -> PolicyRule {
    PolicyRule {
        id: format!("r-{}", entity.as_str()),
        tenant_id: None,
        target: Target::Entity(entity),
        action,
        direction: Direction::Response,
        created_at: 0,
    }
}

/// Feeds `text` in pieces of `size` characters; returns what went out.
fn stream(text: &str, size: usize, rules: &[PolicyRule]) -> (String, bool) {
    stream_into(&mut StreamedText::default(), text, size, rules)
}

/// As [`stream`], through `g` (so a test can read it afterwards).
fn stream_into(
    g: &mut StreamedText,
    text: &str,
    size: usize,
    rules: &[PolicyRule],
) -> (String, bool) {
    let chars: Vec<char> = text.chars().collect();
    let (mut d, mut out) = (Decision::allow(), String::new());
    for piece in chars.chunks(size) {
        match g.push(&piece.iter().collect::<String>(), rules, &mut d) {
            Step::Release(t) => out.push_str(&t),
            Step::Block => return (out, true),
        }
    }
    match g.finish(rules, &mut d) {
        Step::Release(t) => out.push_str(&t),
        Step::Block => return (out, true),
    }
    (out, false)
}

/// A long run without a space, a byte per delta (a token a provider
/// or a prompt can make it send), is scanned a few times in all, not
/// once per delta, and still goes out redacted.
#[test]
fn a_long_run_is_not_scanned_for_every_byte() {
    let rules = [rule(EntityType::EmailAddress, Action::Redact)];
    let run: String = (0..40_000)
        .map(|i| if i % 7 == 0 { 'A' } else { '9' })
        .collect();
    let text = format!("Key: {run} jane.doe@example.com done");
    let mut g = StreamedText::default();
    let (out, blocked) = stream_into(&mut g, &text, 1, &rules);
    assert!(!blocked);
    // Once per delta it was about 800 MB (40,000 scans of 20 KB).
    assert!(g.scanned < 400_000, "{} bytes scanned", g.scanned);
    assert!(!out.contains("jane.doe"), "{}", &out[out.len() - 60..]);
    assert!(out.starts_with("Key: A999999A") && out.ends_with(" done"));
}

/// A block rule still blocks a value that comes after a stalled
/// stretch, before any of the value goes out.
#[test]
fn a_value_after_a_stalled_stretch_is_still_blocked() {
    let rules = [rule(EntityType::CreditCard, Action::Block)];
    let run = "Zx".repeat(2_000);
    let text = format!("Data: {run} then card 4111 1111 1111 1111 ok");
    let (out, blocked) = stream(&text, 1, &rules);
    assert!(blocked, "the card was not blocked");
    assert!(!out.contains("4111"), "{out}");
}

const TEXT: &str = "Sure. Write to jane.doe@example.com or call +44 20 7946 0958; \
                    the card on file is 4111 1111 1111 1111 and the IBAN is \
                    GB82 WEST 1234 5698 7654 32. That is all I have.";

#[test]
fn values_split_anywhere_are_redacted_as_a_whole() {
    let rules = [
        rule(EntityType::EmailAddress, Action::Redact),
        rule(EntityType::PhoneNumber, Action::Redact),
        rule(EntityType::CreditCard, Action::Redact),
        rule(EntityType::IbanCode, Action::Redact),
    ];
    let whole = pii::redact(
        TEXT,
        &evaluate(&rules, &pii::detect(TEXT), Direction::Response).redact,
    );
    for size in 1..=TEXT.len() {
        let (out, blocked) = stream(TEXT, size, &rules);
        assert!(!blocked);
        assert_eq!(out, whole, "pieces of {size}");
    }
    assert!(!whole.contains("jane.doe") && !whole.contains("4111") && !whole.contains("7946"));
}

#[test]
fn a_block_ends_the_stream_before_the_value_leaves() {
    let rules = [rule(EntityType::CreditCard, Action::Block)];
    for size in [1, 3, 7, 40] {
        let (out, blocked) = stream(TEXT, size, &rules);
        assert!(blocked, "pieces of {size}");
        assert!(!out.contains("4111"), "pieces of {size}: {out}");
    }
}

#[test]
fn prose_goes_out_word_by_word() {
    let text = "the answer is that nothing here looks like a value at all, so ";
    let (mut g, mut d) = (StreamedText::default(), Decision::allow());
    let (mut pushed, mut sent) = (String::new(), String::new());
    for word in text.split_inclusive(' ') {
        pushed.push_str(word);
        if let Step::Release(t) = g.push(word, &[], &mut d) {
            sent.push_str(&t);
        }
        assert_eq!(sent, pushed, "nothing held once {word:?} is complete");
    }
}

#[test]
fn values_with_spaces_in_prose_are_still_redacted_at_every_split() {
    let rules = [
        rule(EntityType::CreditCard, Action::Redact),
        rule(EntityType::PhoneNumber, Action::Redact),
        rule(EntityType::IbanCode, Action::Redact),
        rule(EntityType::Secret, Action::Redact),
    ];
    let text = "The Bank said: card 5555 5555 5555 4444, phone (212) 555-0143, \
                IBAN DE89 3704 0044 0532 0130 00 and password = hunter2hunter2hunter2. I think so.";
    let whole = pii::redact(
        text,
        &evaluate(&rules, &pii::detect(text), Direction::Response).redact,
    );
    assert!(
        !whole.contains("5555") && !whole.contains("0143") && !whole.contains("hunter2"),
        "{whole}"
    );
    for size in 1..=text.len() {
        assert_eq!(stream(text, size, &rules).0, whole, "pieces of {size}");
    }
}

#[test]
fn clean_text_is_held_back_at_most_hold_characters() {
    let text = "a plain answer without anything sensitive in it, ".repeat(10);
    let (mut g, mut d) = (StreamedText::default(), Decision::allow());
    let mut sent = 0;
    for (i, c) in text.chars().enumerate() {
        if let Step::Release(t) = g.push(&c.to_string(), &[], &mut d) {
            sent += t.chars().count();
        }
        // A word in progress may be held too, never more than that.
        assert!(i + 1 - sent <= HOLD + 16, "held {} at {i}", i + 1 - sent);
    }
}
