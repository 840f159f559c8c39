use super::*;
use crate::domain::tenant::TenantId;

const T: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
use crate::domain::pii::detect;

fn rule(id: &str, target: Target, action: Action) -> PolicyRule {
    PolicyRule {
        id: id.into(),
        tenant_id: Some(TenantId::parse(T).unwrap()),
        target,
        action,
        direction: Direction::Prompt,
        created_at: 0,
    }
}

const TEXT: &str = "card 4111 1111 1111 1111, mail a@example.com, ip 10.0.0.1";

#[test]
fn no_rules_allow_everything() {
    let d = evaluate(&[], &detect(TEXT), Direction::Prompt);
    assert_eq!(d.action, Action::Allow);
    assert_eq!(d.classification, Classification::Restricted);
}

#[test]
fn most_severe_action_wins_and_names_types() {
    let rules = [
        rule(
            "r1",
            Target::Entity(EntityType::EmailAddress),
            Action::Redact,
        ),
        rule("r2", Target::Entity(EntityType::CreditCard), Action::Block),
    ];
    let d = evaluate(&rules, &detect(TEXT), Direction::Prompt);
    assert_eq!(d.action, Action::Block);
    assert_eq!(
        d.entity_types,
        vec![EntityType::CreditCard, EntityType::EmailAddress]
    );
    assert_eq!(d.rule_ids.len(), 2);
}

#[test]
fn classification_rules_cover_that_level_and_above() {
    let rules = [rule(
        "c",
        Target::Classification(Classification::Confidential),
        Action::Redact,
    )];
    let d = evaluate(&rules, &detect(TEXT), Direction::Prompt);
    assert_eq!(d.action, Action::Redact);
    // Card (restricted) and e-mail (confidential), not the IP (internal).
    assert_eq!(d.redact.len(), 2);
}

#[test]
fn an_entity_rule_overrides_a_classification_rule() {
    let rules = [
        rule(
            "c",
            Target::Classification(Classification::Internal),
            Action::Block,
        ),
        rule("e", Target::Entity(EntityType::IpAddress), Action::Allow),
    ];
    let d = evaluate(&rules, &detect("ip 10.0.0.1"), Direction::Prompt);
    assert_eq!(d.action, Action::Allow);
}

#[test]
fn decisions_of_several_texts_merge() {
    let rules = [
        rule(
            "e",
            Target::Entity(EntityType::EmailAddress),
            Action::Redact,
        ),
        rule("c", Target::Entity(EntityType::CreditCard), Action::Block),
    ];
    let mut d = evaluate(&rules, &detect("mail a@example.com"), Direction::Prompt);
    d.merge(evaluate(
        &rules,
        &detect("card 4111 1111 1111 1111"),
        Direction::Prompt,
    ));
    assert_eq!(d.action, Action::Block);
    assert_eq!(
        d.entity_types,
        vec![EntityType::CreditCard, EntityType::EmailAddress]
    );
    assert_eq!(
        d.refusal(),
        "blocked by data policy e, c: the prompt contains CREDIT_CARD, EMAIL_ADDRESS"
    );
}

#[test]
fn a_blocked_response_is_redacted_instead() {
    let mut r = rule("r", Target::Entity(EntityType::CreditCard), Action::Block);
    r.direction = Direction::Response;
    let d = evaluate(&[r], &detect(TEXT), Direction::Response);
    assert_eq!(d.redact.len(), detect(TEXT).len());
}

#[test]
fn response_rules_do_not_apply_to_prompts() {
    let mut r = rule("r", Target::Entity(EntityType::CreditCard), Action::Block);
    r.direction = Direction::Response;
    assert_eq!(
        evaluate(&[r], &detect(TEXT), Direction::Prompt).action,
        Action::Allow
    );
}

#[test]
fn tenants_without_rules_get_the_platform_default() {
    let mut default = rule("d", Target::Entity(EntityType::UsSsn), Action::Block);
    default.tenant_id = None;
    let own = rule("o", Target::Entity(EntityType::UsSsn), Action::Flag);
    let set = PolicySet::new(vec![default, own]);
    assert_eq!(set.effective(T)[0].id, "o");
    assert_eq!(set.effective(T).len(), 1);
    assert_eq!(set.effective("other")[0].id, "d");
    assert_eq!(set.all().len(), 2);
}

#[test]
fn targets_parse_from_input() {
    assert_eq!(
        Target::parse(Some("credit_card"), None),
        Ok(Target::Entity(EntityType::CreditCard))
    );
    assert!(Target::parse(None, None).is_err());
    assert!(Target::parse(Some("CREDIT_CARD"), Some("restricted")).is_err());
    assert!(Target::parse(None, Some("secretive")).is_err());
}
