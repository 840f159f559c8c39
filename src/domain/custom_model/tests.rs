use super::peft;
use super::safetensors::{check_ranks, check_targets, header_len, lora_module, parse_header};
use super::*;

const CONFIG: &str = include_str!("../../../tests/fixtures/lora-tiny/adapter_config.json");
const WEIGHTS: &[u8] =
    include_bytes!("../../../tests/fixtures/lora-tiny/adapter_model.safetensors");

fn base() -> Vec<String> {
    vec!["tiny-llama".to_string()]
}

#[test]
fn lifecycle_moves_only_along_its_edges() {
    use Status::*;
    let legal = [
        (Training, Validating),
        (Validating, Ready),
        (Validating, Failed),
        (Ready, Deploying),
        (Deploying, Deployed),
        (Deployed, Deprecated),
        (Deprecated, Retired),
        (Deployed, Ready),
        (Failed, Validating),
    ];
    for (a, b) in legal {
        assert_eq!(a.step(b), Ok(b), "{a} -> {b}");
    }
    for (a, b) in [
        (Training, Deployed),
        (Ready, Deployed),
        (Retired, Ready),
        (Retired, Deployed),
        (Failed, Deployed),
        (Deployed, Training),
        (Deployed, Retired),
    ] {
        let e = a.step(b).expect_err("illegal");
        assert!(e.message.contains(a.as_str()) && e.message.contains(b.as_str()));
    }
    // Nothing leaves Retired.
    assert!(Status::ALL.iter().all(|s| !Retired.can_become(*s)));
    assert!(Deployed.servable() && Deprecated.servable() && !Deploying.servable());
    assert!(Deploying.on_engines() && !Ready.on_engines());
    for s in Status::ALL {
        assert_eq!(s.as_str().parse::<Status>(), Ok(s));
    }
}

#[test]
fn names_sources_and_requests() {
    assert!(name("support-bot").is_ok());
    assert!(name("a:b").is_err() && name("x").is_err() && name("has space").is_err());
    assert_eq!(requested("support-bot"), ("support-bot", None));
    assert_eq!(requested("support-bot:2"), ("support-bot", Some(2)));
    assert_eq!(requested("org/model:latest"), ("org/model:latest", None));
    assert_eq!(requested("x:0"), ("x:0", None));
    assert_eq!(
        AdapterSource::parse("/srv/adapters/a/"),
        Ok(AdapterSource::Local("/srv/adapters/a".into()))
    );
    assert!(matches!(
        AdapterSource::parse("s3://bucket/a"),
        Ok(AdapterSource::Remote(_))
    ));
    for bad in ["relative/path", "ftp://x/a", "s3://", "https:///x", ""] {
        assert!(AdapterSource::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_fixture_config_passes_and_each_fault_is_named() {
    let c = peft::check(CONFIG, &base(), 64).expect("valid");
    assert_eq!((c.rank, c.alpha), (2, 16.0));
    assert_eq!(c.target_modules, ["q_proj", "v_proj"]);

    let other = peft::check(CONFIG, &["llama-70b".to_string()], 64).expect_err("base");
    assert!(other.message.contains("tiny-llama"), "{other}");
    let rank = peft::check(CONFIG, &base(), 1).expect_err("rank");
    assert!(rank.message.contains("max_lora_rank 1"), "{rank}");
    let ia3 = CONFIG.replace("\"LORA\"", "\"IA3\"");
    assert!(peft::check(&ia3, &base(), 64)
        .expect_err("type")
        .message
        .contains("IA3"));
    let regex = CONFIG.replace("[\n    \"q_proj\",\n    \"v_proj\"\n  ]", "\".*proj\"");
    assert_ne!(regex, CONFIG, "the fixture's layout changed");
    assert!(peft::check(&regex, &base(), 64).is_err());
    assert!(peft::check("{not json", &base(), 64).is_err());
    assert!(peft::check(&"x".repeat(300_000), &base(), 64).is_err());
}

fn header_of(
    file: &[u8],
) -> Result<std::collections::BTreeMap<String, safetensors::Tensor>, Invalid> {
    let n = header_len(&file[..8.min(file.len())], file.len() as u64)?;
    let end = 8 + n as usize;
    parse_header(&file[8..end], file.len() as u64 - end as u64)
}

#[test]
fn the_fixture_weights_match_their_targets() {
    let tensors = header_of(WEIGHTS).expect("header");
    assert_eq!(tensors.len(), 4);
    let a = &tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"];
    assert_eq!(
        (a.dtype.as_str(), a.shape.as_slice()),
        ("F32", &[2u64, 8][..])
    );
    let targets = vec!["q_proj".to_string(), "v_proj".to_string()];
    assert_eq!(check_targets(&tensors, &targets), Ok(()));
    let fewer = vec!["q_proj".to_string()];
    assert!(check_targets(&tensors, &fewer)
        .expect_err("v_proj unlisted")
        .message
        .contains("v_proj"));
    let more = vec!["q_proj".into(), "v_proj".into(), "k_proj".into()];
    assert!(check_targets(&tensors, &more)
        .expect_err("k_proj missing")
        .message
        .contains("k_proj"));
    assert_eq!(lora_module("a.b.q_proj.lora_B.weight"), Some("q_proj"));
    assert_eq!(lora_module("a.b.q_proj.weight"), None);
}

#[test]
fn corrupt_headers_are_refused_with_a_reason() {
    // Too short to hold the length.
    assert!(header_of(&WEIGHTS[..5]).is_err());
    // A length beyond the file, and an absurd one.
    let mut long = WEIGHTS.to_vec();
    long[..8].copy_from_slice(&(WEIGHTS.len() as u64).to_le_bytes());
    assert!(header_of(&long)
        .expect_err("long")
        .message
        .contains("longer"));
    let mut huge = WEIGHTS.to_vec();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(header_of(&huge).is_err());
    // Garbage where the JSON should be.
    let mut garbage = WEIGHTS.to_vec();
    garbage[8] = b'#';
    assert!(header_of(&garbage)
        .expect_err("json")
        .message
        .contains("not JSON"));
    // Data cut short: the last tensor's bytes are not all there.
    let cut = &WEIGHTS[..WEIGHTS.len() - 4];
    assert!(header_of(cut).is_err());
    // Offsets that disagree with the shape.
    let bad = br#"{"t.q_proj.lora_A.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#;
    assert!(parse_header(bad, 64)
        .expect_err("shape")
        .message
        .contains("shape"));
    let dtype = br#"{"t":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}"#;
    assert!(parse_header(dtype, 64).is_err());
    let overflow =
        br#"{"t":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}"#;
    assert!(parse_header(overflow, 64).is_err());
}

#[test]
fn a_full_pool_keeps_pinned_then_most_recent() {
    use super::placement::{resident, Want};
    let w = |name, pinned, last_used| Want {
        name,
        pinned,
        last_used,
    };
    let wants = [
        w("a", false, 10),
        w("b", true, 1),
        w("c", false, 30),
        w("d", false, 20),
    ];
    let names = |max| resident(&wants, max).into_iter().collect::<Vec<_>>();
    assert_eq!(names(0), ["a", "b", "c", "d"], "no limit");
    assert_eq!(names(4), ["a", "b", "c", "d"]);
    assert_eq!(names(3), ["b", "c", "d"], "a, least recently used, goes");
    assert_eq!(names(2), ["b", "c"]);
    assert_eq!(names(1), ["b"], "the pinned one is never evicted");
    // Using a makes it stay and d go.
    let used = [
        w("a", false, 40),
        w("b", true, 1),
        w("c", false, 30),
        w("d", false, 20),
    ];
    assert_eq!(
        resident(&used, 3).into_iter().collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
}

fn sample(input: Option<i64>) -> CustomModel {
    CustomModel {
        id: "abc".into(),
        tenant_id: "t".into(),
        name: "bot".into(),
        version: 2,
        base_model: "tiny-llama".into(),
        adapter: AdapterSource::Local("/a".into()),
        rank: Some(2),
        alpha: None,
        target_modules: vec![],
        fine_tune_config: serde_json::json!({}),
        status: Status::Deployed,
        status_reason: None,
        pinned: false,
        input_per_mtok: input,
        output_per_mtok: None,
        markup_percent: 20,
        hosting_fee_micros: 0,
        deprecated_until: None,
        last_used_at: 0,
        active: true,
        created_at: 0,
        updated_at: 0,
    }
}

#[test]
fn prices_follow_the_base_model_with_a_markup() {
    use crate::domain::price::{PriceHistory, PriceVersion};
    use crate::domain::pricing::Price;
    let v = |from, input, output| PriceVersion {
        effective_from: from,
        price: Price {
            input_per_mtok: input,
            output_per_mtok: output,
            ..Price::default()
        },
    };
    let base = PriceHistory::new(vec![
        v(0, 1_000_000, 2_000_000),
        v(500, 2_000_000, 4_000_000),
    ]);
    let own = sample(None).prices(&base);
    assert_eq!(own.at(10).map(|p| p.price.input_per_mtok), Some(1_200_000));
    assert_eq!(
        own.at(600).map(|p| p.price.output_per_mtok),
        Some(4_800_000)
    );
    let fixed = sample(Some(7)).prices(&base);
    assert_eq!(
        fixed
            .at(600)
            .map(|p| (p.price.input_per_mtok, p.price.output_per_mtok)),
        Some((7, 4_800_000))
    );
    assert_eq!(sample(None).versioned_name(), "bot:2");
    assert_eq!(sample(None).engine_name(), "atrium-abc");
}

/// vLLM's own refusals (`vllm/lora/peft_helper.py`), mirrored so a
/// version is never `ready` that every engine then fails to load.
#[test]
fn configs_vllm_refuses_are_refused_naming_the_field() {
    let with = |key: &str, value: serde_json::Value| {
        let mut v: serde_json::Value = serde_json::from_str(CONFIG).expect("json");
        v[key] = value;
        peft::check(&v.to_string(), &base(), 8)
    };
    for (key, value, named) in [
        ("use_dora", serde_json::json!(true), "use_dora"),
        (
            "modules_to_save",
            serde_json::json!(["lm_head"]),
            "modules_to_save",
        ),
        ("bias", serde_json::json!("all"), "bias"),
        ("bias", serde_json::json!("lora_only"), "bias"),
        ("r", serde_json::json!(0), "r (the rank)"),
        (
            "rank_pattern",
            serde_json::json!({ "q_proj": 64 }),
            "rank_pattern",
        ),
        (
            "rank_pattern",
            serde_json::json!({ "q_proj": 0 }),
            "rank_pattern",
        ),
        (
            "alpha_pattern",
            serde_json::json!({ "q_proj": "x" }),
            "alpha_pattern",
        ),
        // vLLM's tests are Python's truth and `bias != "none"`.
        ("use_dora", serde_json::json!("false"), "use_dora"),
        ("use_dora", serde_json::json!(1), "use_dora"),
        (
            "modules_to_save",
            serde_json::json!("lm_head"),
            "modules_to_save",
        ),
        ("bias", serde_json::json!(null), "bias"),
        ("r", serde_json::json!(-8), "r (the rank)"),
        ("r", serde_json::json!(null), "r (the rank)"),
        ("r", serde_json::json!(64), "r (the rank)"),
        ("lora_alpha", serde_json::json!(null), "lora_alpha"),
        ("lora_alpha", serde_json::json!("16"), "lora_alpha"),
    ] {
        let e = with(key, value.clone()).expect_err(key);
        assert!(e.message.contains(named), "{key}={value}: {}", e.message);
    }
    // Absent fields: vLLM requires r and lora_alpha, defaults the rest.
    for (key, ok) in [("r", false), ("lora_alpha", false), ("bias", true)] {
        let mut v: serde_json::Value = serde_json::from_str(CONFIG).expect("json");
        v.as_object_mut().expect("object").remove(key);
        let r = peft::check(&v.to_string(), &base(), 8);
        assert_eq!(r.is_ok(), ok, "without {key}: {r:?}");
    }
    // What vLLM loads passes.
    assert!(with("use_dora", serde_json::json!(false)).is_ok());
    assert!(with("use_dora", serde_json::json!(null)).is_ok());
    assert!(with("modules_to_save", serde_json::json!([])).is_ok());
    assert!(with("rank_pattern", serde_json::json!({ "q_proj": 8 })).is_ok());
    assert!(with("alpha_pattern", serde_json::json!({ "q_proj": 32 })).is_ok());
}

/// The weights decide the rank vLLM loads, whatever the config says.
#[test]
fn weights_of_a_rank_above_the_pool_are_refused() {
    let mut tensors = header_of(WEIGHTS).expect("header");
    assert_eq!(check_ranks(&tensors, 2), Ok(()));
    let e = check_ranks(&tensors, 1).expect_err("rank 2 > 1");
    assert!(
        e.message.contains("rank 2") && e.message.contains("max_lora_rank 1"),
        "{}",
        e.message
    );
    let b = "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight";
    if let Some(t) = tensors.get_mut(b) {
        t.shape = vec![8, 64];
    }
    assert!(check_ranks(&tensors, 8)
        .expect_err("lora_B's columns")
        .message
        .contains("v_proj.lora_B"));
    if let Some(t) = tensors.get_mut(b) {
        t.shape = vec![8, 2, 1];
    }
    assert!(check_ranks(&tensors, 8)
        .expect_err("3-D")
        .message
        .contains("2-D"));
}

#[test]
fn a_bad_header_length_is_not_echoed() {
    let e = header_len(b"\xff\xff\xff\xff\xff\xff\xff\x7f", 100).expect_err("too long");
    assert!(!e.message.contains("9223"), "{}", e.message);
}

#[test]
fn remote_adapters_only_under_the_tenants_prefixes() {
    let prefixes = vec![
        "s3://adapters/{tenant}/".to_string(),
        "https://models.example/t/{tenant}/".into(),
    ];
    let ok = |uri: &str| {
        AdapterSource::parse(uri)
            .expect("parses")
            .check_remote(&prefixes, "t1")
    };
    assert!(ok("s3://adapters/t1/support-bot").is_ok());
    assert!(ok("https://models.example/t/t1/bot/v2").is_ok());
    for bad in [
        "s3://adapters/t2/support-bot",
        "s3://adapters/t1/../t2/bot",
        "s3://adapters/t1/%2e%2e/t2",
        "https://models.example/t/t1@evil.example/x",
        "https://evil.example/t/t1/x",
        "s3://adapters/t1/",
        "https://models.example/t/t1/x?u=1",
    ] {
        assert!(ok(bad).is_err(), "{bad}");
    }
    let none: Vec<String> = vec![];
    let remote = AdapterSource::parse("s3://adapters/t1/bot").expect("parses");
    assert!(
        remote.check_remote(&none, "t1").is_err(),
        "no prefixes: no remote adapters"
    );
}
