use serde_json::json;

use super::*;

fn key(k: &str) -> FlagKey {
    FlagKey::parse(k).expect("key")
}

fn ctx(targeting: &str, attrs: serde_json::Value) -> Context {
    let mut c: Context = serde_json::from_value(attrs).expect("context");
    c.targeting_key = Some(targeting.to_string());
    c
}

fn cond(attribute: &str, operator: Operator, values: &[&str]) -> Condition {
    Condition {
        attribute: attribute.into(),
        operator,
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

/// Three rules and a rollout: the shape the benchmark measures.
pub fn three_rules_and_a_rollout() -> Flag {
    let mut f = Flag::boolean(key("gateway.new-router"), "three rules and a rollout");
    f.rules = vec![
        Rule::Targets {
            keys: vec!["t-vip".into(), "t-beta".into()],
            variant: "on".into(),
        },
        Rule::Conditions {
            all: vec![cond("location", Operator::In, &["eu-west", "eu-central"])],
            variant: "off".into(),
        },
        Rule::Conditions {
            all: vec![cond("version", Operator::SemverGte, &["2.1.0"])],
            variant: "on".into(),
        },
        Rule::Rollout {
            percentage: 25,
            variant: "on".into(),
            group_id: None,
        },
    ];
    f.check().expect("valid");
    f
}

#[test]
fn the_first_matching_rule_wins() {
    let f = three_rules_and_a_rollout();
    let vip_in_eu = ctx("t-vip", json!({ "location": "eu-west" }));
    let e = f.evaluate(&vip_in_eu);
    assert_eq!(
        (e.variant, e.reason, e.rule),
        ("on", Reason::TargetingMatch, Some(0))
    );
    let eu = f.evaluate(&ctx(
        "t-1",
        json!({ "location": "eu-central", "version": "3.0.0" }),
    ));
    assert_eq!(
        (e.value, eu.variant, eu.rule),
        (&json!(true), "off", Some(1))
    );
    let new = f.evaluate(&ctx(
        "t-1",
        json!({ "location": "us-east", "version": "v2.1.0" }),
    ));
    assert_eq!((new.variant, new.rule), ("on", Some(2)));
}

#[test]
fn rollout_serves_a_stable_share_and_grows_monotonically() {
    let mut f = three_rules_and_a_rollout();
    let keys: Vec<String> = (0..20_000).map(|i| format!("tenant-{i}")).collect();
    let on = |f: &Flag| -> Vec<bool> {
        keys.iter()
            .map(|k| f.evaluate(&ctx(k, json!({}))).variant == "on")
            .collect()
    };
    let at25 = on(&f);
    let share = at25.iter().filter(|b| **b).count() as f64 / keys.len() as f64;
    assert!((share - 0.25).abs() < 0.015, "{share}");
    assert_eq!(on(&f), at25, "the same keys every time");
    f.rules[3] = Rule::Rollout {
        percentage: 50,
        variant: "on".into(),
        group_id: None,
    };
    let at50 = on(&f);
    assert!(
        at25.iter().zip(&at50).all(|(a, b)| !a || *b),
        "everyone in at 25% is in at 50%"
    );
    let miss = f.evaluate(&ctx("tenant-x", json!({})));
    assert!(matches!(miss.reason, Reason::Split | Reason::Default));
}

#[test]
fn the_kill_switch_wins_over_every_rule() {
    let mut f = three_rules_and_a_rollout();
    f.enabled = false;
    let e = f.evaluate(&ctx("t-vip", json!({})));
    assert_eq!(
        (e.variant, e.reason, e.rule),
        ("off", Reason::Disabled, None)
    );
}

#[test]
fn no_rules_is_static_and_no_match_is_default() {
    let f = Flag::boolean(key("plain"), "");
    assert_eq!(f.evaluate(&Context::default()).reason, Reason::Static);
    let mut f = f;
    f.rules = vec![Rule::Targets {
        keys: vec!["a".into()],
        variant: "on".into(),
    }];
    let e = f.evaluate(&ctx("b", json!({})));
    assert_eq!((e.variant, e.reason), ("off", Reason::Default));
    // A rollout without a targeting key places nobody.
    assert!(f.needs_targeting_key());
    assert_eq!(f.evaluate(&Context::default()).reason, Reason::Default);
}

#[test]
fn every_operator() {
    let c = ctx(
        "user-7",
        json!({ "plan": "enterprise", "seats": 120, "app": "v1.10.2", "region": "eu-west-1" }),
    );
    let holds = |a: &str, op: Operator, v: &[&str]| cond(a, op, v).holds(&c);
    assert!(holds("plan", Operator::In, &["team", "enterprise"]));
    assert!(!holds("plan", Operator::In, &["team"]));
    assert!(holds("plan", Operator::NotIn, &["team"]));
    assert!(holds("missing", Operator::NotIn, &["x"]) && !holds("missing", Operator::In, &["x"]));
    assert!(
        holds("plan", Operator::Eq, &["enterprise"])
            && !holds("plan", Operator::Eq, &["Enterprise"])
    );
    assert!(holds("region", Operator::StartsWith, &["eu-"]));
    assert!(
        holds("app", Operator::SemverGte, &["1.9.0"])
            && holds("app", Operator::SemverGte, &["1.10.2"])
    );
    assert!(
        !holds("app", Operator::SemverGte, &["1.11"]),
        "10 < 11 as numbers, not text"
    );
    assert!(holds("seats", Operator::Gt, &["100"]) && !holds("seats", Operator::Lt, &["100"]));
    assert!(!holds("plan", Operator::Gt, &["1"]), "text is not a number");
    assert!(holds("targetingKey", Operator::StartsWith, &["user-"]));
}

#[test]
fn weighted_splits_follow_their_weights() {
    let mut f = Flag::boolean(key("split"), "");
    f.kind = FlagKind::String;
    f.variants = ["a", "b", "c"]
        .map(|n| Variant {
            name: n.into(),
            value: json!(n),
        })
        .to_vec();
    f.default_variant = "a".into();
    f.off_variant = "a".into();
    let w = |v: &str, weight| Weighted {
        variant: v.into(),
        weight,
    };
    f.rules = vec![Rule::Split {
        weights: vec![w("a", 500), w("b", 300), w("c", 200)],
        group_id: None,
    }];
    f.check().expect("valid");
    let mut counts = std::collections::BTreeMap::new();
    for i in 0..30_000 {
        let e = f.evaluate(&ctx(&format!("u{i}"), json!({})));
        assert_eq!(e.reason, Reason::Split);
        *counts.entry(e.variant.to_string()).or_insert(0) += 1;
    }
    for (v, share) in [("a", 0.5), ("b", 0.3), ("c", 0.2)] {
        let got = f64::from(counts[v]) / 30_000.0;
        assert!((got - share).abs() < 0.02, "{v}: {got}");
    }
}

#[test]
fn flags_are_checked() {
    assert!(FlagKey::parse("gateway.streaming").is_ok());
    for bad in ["", "Upper", "9lives", "has space", &"x".repeat(65)] {
        assert!(FlagKey::parse(bad).is_err(), "{bad:?}");
    }
    let mut f = three_rules_and_a_rollout();
    f.rules.push(Rule::Rollout {
        percentage: 101,
        variant: "on".into(),
        group_id: None,
    });
    assert_eq!(f.check().map_err(|e| e.field), Err("percentage"));
    let mut f = three_rules_and_a_rollout();
    f.default_variant = "maybe".into();
    assert_eq!(f.check().map_err(|e| e.field), Err("variant"));
    let mut f = three_rules_and_a_rollout();
    f.variants[0].value = json!("yes");
    assert_eq!(f.check().map_err(|e| e.field), Err("variants"));
    let mut f = three_rules_and_a_rollout();
    f.rules[0] = Rule::Targets {
        keys: vec!["k".into(); 10_001],
        variant: "on".into(),
    };
    assert_eq!(f.check().map_err(|e| e.field), Err("targets"));
    let bad = cond("v", Operator::SemverGte, &["latest"]);
    assert!(bad.check().is_err());
    assert!(cond("n", Operator::Gt, &["1", "2"]).check().is_err());
}

#[test]
fn buckets_explain_what_evaluation_decides() {
    let mut f = Flag::boolean(key("beta"), "");
    f.rules = vec![Rule::Rollout {
        percentage: 40,
        variant: "on".into(),
        group_id: None,
    }];
    for i in 0..2_000 {
        let k = format!("user-{i}");
        let b = &f.buckets(&k)[0];
        assert_eq!(b.bucket, bucket::normalized("beta", &k, 0));
        let served = f.evaluate(&ctx(&k, json!({})));
        assert_eq!(b.variant.as_deref() == Some("on"), served.variant == "on");
    }
    // Unleash's vector, through the explanation: "123" in group "gr1" is bucket 73.
    f.rules = vec![Rule::Rollout {
        percentage: 73,
        variant: "on".into(),
        group_id: Some("gr1".into()),
    }];
    let b = &f.buckets("123")[0];
    assert_eq!(
        (b.bucket, b.out_of, b.variant.as_deref()),
        (73, 100, Some("on"))
    );
}

#[test]
fn typed_flags_from_specs() {
    let n = Flag::from_spec(
        key("limit"),
        FlagKind::Number,
        "",
        &["low=10", "high=2.5e3"],
    )
    .expect("number");
    assert_eq!(
        (n.variants[1].value.clone(), n.default_variant.as_str()),
        (json!(2500.0), "low")
    );
    let j = Flag::from_spec(
        key("ui"),
        FlagKind::Json,
        "",
        &[r#"plain={"theme":"light"}"#],
    )
    .expect("json");
    assert_eq!(j.variants[0].value, json!({"theme": "light"}));
    let s = Flag::from_spec(key("copy"), FlagKind::String, "", &["a=Buy = now"]).expect("string");
    assert_eq!(s.variants[0].value, json!("Buy = now"));
    for (kind, spec) in [
        (FlagKind::Number, "x=ten"),
        (FlagKind::Json, "x={"),
        (FlagKind::String, "no-equals"),
        (FlagKind::Number, "x=\"10\""),
    ] {
        assert!(
            Flag::from_spec(key("bad"), kind, "", &[spec]).is_err(),
            "{spec}"
        );
    }
    assert!(Flag::from_spec(key("bad"), FlagKind::String, "", &[]).is_err());
    assert_eq!(FlagKind::parse("json"), Ok(FlagKind::Json));
}

#[test]
fn changes_read_as_a_line() {
    let before = Flag::boolean(key("beta"), "");
    let mut after = before.clone();
    after.rules.push(Rule::Rollout {
        percentage: 50,
        variant: "on".into(),
        group_id: None,
    });
    assert_eq!(
        describe_change(Some(&before), &after),
        "rollout none → 50%, rules changed (0 → 1)"
    );
    let mut off = after.clone();
    off.enabled = false;
    assert_eq!(
        describe_change(Some(&after), &off),
        "disabled (kill switch)"
    );
    assert_eq!(describe_change(None, &before), "created (2 variants)");
}

/// Issue 21, items 14 and 17: a split's weights cannot overflow its total,
/// and a flag is bounded in bytes.
#[test]
fn splits_and_sizes_are_bounded() {
    let mut f = Flag::boolean(FlagKey::parse("big").expect("key"), "");
    f.rules = vec![Rule::Split {
        weights: vec![
            Weighted {
                variant: "on".into(),
                weight: u32::MAX,
            },
            Weighted {
                variant: "off".into(),
                weight: 2,
            },
        ],
        group_id: None,
    }];
    let e = f.check().expect_err("overflowing weights");
    assert_eq!(e.field, "weights");
    // A stored flag with such weights picks nothing instead of wrapping.
    if let Rule::Split { weights, .. } = &f.rules[0] {
        assert_eq!(super::eval::split_total(weights), None);
    }
    let mut json = Flag::boolean(FlagKey::parse("doc").expect("key"), "");
    json.kind = FlagKind::Json;
    json.variants = vec![Variant {
        name: "huge".into(),
        value: serde_json::json!({ "blob": "x".repeat(MAX_VARIANT_BYTES) }),
    }];
    json.default_variant = "huge".into();
    json.off_variant = "huge".into();
    assert_eq!(json.check().expect_err("too big").field, "variants");
}
