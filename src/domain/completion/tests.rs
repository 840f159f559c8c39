use super::*;

fn parse(dialect: Dialect, body: &str) -> Result<CompletionRequest, RequestError> {
    CompletionRequest::parse(dialect, body.as_bytes())
}

#[test]
fn a_valid_request_parses_once() {
    let r = parse(
        Dialect::OpenAi,
        r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},
            "messages":[{"role":"user","content":"hi"}],"extra":1}"#,
    )
    .expect("valid");
    assert_eq!(r.model, "m");
    assert!(r.stream && r.include_usage);
    assert_eq!(r.body["extra"], 1, "unknown fields pass through");
}

#[test]
fn bad_bodies_name_the_field() {
    let cases = [
        ("not json", "not valid JSON"),
        ("[1]", "JSON object"),
        (r#"{"messages":[{"role":"user"}]}"#, "model"),
        (r#"{"model":" ","messages":[{"role":"user"}]}"#, "model"),
        (r#"{"model":"m"}"#, "messages"),
        (r#"{"model":"m","messages":[]}"#, "at least one"),
        (r#"{"model":"m","messages":[{"content":"x"}]}"#, "role"),
        (
            r#"{"model":"m","messages":[{"role":"user"}],"stream":"yes"}"#,
            "stream",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user","content":5}]}"#,
            "messages[0].content",
        ),
        (
            r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#,
            "messages[0].role",
        ),
        (
            r#"{"model":"m","max_tokens":-1,"messages":[{"role":"user"}]}"#,
            "max_tokens",
        ),
        (
            r#"{"model":"m","max_tokens":"ten","messages":[{"role":"user"}]}"#,
            "max_tokens",
        ),
        (
            r#"{"model":"m","temperature":"hot","messages":[{"role":"user"}]}"#,
            "temperature",
        ),
        (
            r#"{"model":"m","temperature":2.5,"messages":[{"role":"user"}]}"#,
            "temperature",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user","content":"a\u0000b"}]}"#,
            "NUL",
        ),
        (
            r#"{"model":"m\u0000","messages":[{"role":"user"}]}"#,
            "model",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"video"}]}]}"#,
            "content[0].type",
        ),
    ];
    let long = format!(
        r#"{{"model":"{}","messages":[{{"role":"user"}}]}}"#,
        "m".repeat(257)
    );
    assert!(
        parse(Dialect::OpenAi, &long).is_err(),
        "a 257-byte model name"
    );
    let unknown =
        r#"{"model":"m","messages":[{"role":"user","content":"x"}],"seed":7,"x_custom":{}}"#;
    assert!(
        parse(Dialect::OpenAi, unknown).is_ok(),
        "unknown fields pass through"
    );
    for (body, needle) in cases {
        let err = parse(Dialect::OpenAi, body).expect_err(body);
        let (RequestError::NotJson(m) | RequestError::Invalid(m)) = err;
        assert!(m.contains(needle), "{body}: {m}");
    }
}

#[test]
fn json_errors_and_rule_errors_differ() {
    assert!(matches!(
        parse(Dialect::OpenAi, "{"),
        Err(RequestError::NotJson(_))
    ));
    assert!(matches!(
        parse(Dialect::OpenAi, r#"{"model":"m"}"#),
        Err(RequestError::Invalid(_))
    ));
}

#[test]
fn anthropic_requires_max_tokens() {
    let body = r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#;
    assert!(parse(Dialect::OpenAi, body).is_ok());
    let err = parse(Dialect::Anthropic, body).expect_err("no max_tokens");
    assert!(matches!(err, RequestError::Invalid(m) if m.starts_with("max_tokens")));
    let zero = r#"{"model":"m","max_tokens":0,"messages":[{"role":"user"}]}"#;
    assert!(parse(Dialect::Anthropic, zero).is_err());
}

#[test]
fn estimate_counts_the_body_and_the_output_limit() {
    let body = r#"{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"}]}"#;
    let r = parse(Dialect::Anthropic, body).expect("valid");
    assert_eq!(r.estimate_tokens(), body.len() as i64 / 4 + 100);
    let huge = r#"{"model":"m","max_tokens":99999999,"messages":[{"role":"user"}]}"#;
    let r = parse(Dialect::Anthropic, huge).expect("valid");
    assert_eq!(
        r.estimate_tokens(),
        huge.len() as i64 / 4 + MAX_OUTPUT_TOKENS
    );
    let none = r#"{"model":"m","messages":[{"role":"user"}]}"#;
    let r = parse(Dialect::OpenAi, none).expect("valid");
    assert_eq!(
        r.estimate_tokens(),
        none.len() as i64 / 4 + DEFAULT_OUTPUT_TOKENS
    );
}

#[test]
fn dialects_round_trip_and_shape_errors() {
    for d in [Dialect::Anthropic, Dialect::OpenAi] {
        assert_eq!(d.as_str().parse::<Dialect>(), Ok(d));
    }
    let a = Dialect::Anthropic.error_body(ErrorKind::RateLimit, "slow down");
    assert_eq!(a["type"], "error");
    assert_eq!(a["error"]["type"], "rate_limit_error");
    let o = Dialect::OpenAi.error_body(ErrorKind::Authentication, "bad key");
    assert_eq!(o["error"]["code"], "invalid_api_key");
    assert_eq!(o["error"]["message"], "bad key");
    let broke = Dialect::Anthropic.error_body(ErrorKind::Upstream, "ended early");
    assert_eq!(
        broke["error"]["type"], "api_error",
        "ledger-only kinds are API errors"
    );
    for k in ErrorKind::ALL {
        assert_eq!(k.as_str().parse::<ErrorKind>(), Ok(k));
        assert_eq!(serde_json::to_value(k).expect("json"), k.as_str());
    }
}
