use super::*;
use crate::domain::pricing::cost;
use crate::domain::tenant::TenantId;
use crate::domain::time::parse_rfc3339;

fn at(s: &str) -> Millis {
    parse_rfc3339(s).expect("time")
}

#[test]
fn a_month_runs_from_its_first_utc_day_to_today() {
    let now = at("2026-11-29T10:00:00Z");
    let (first, last) = Period::Month.days(now);
    assert_eq!(first * DAY, at("2026-11-01T00:00:00Z"));
    assert_eq!(last, day_of(now));
    assert_eq!(
        Period::Month.window(now),
        (at("2026-11-01T00:00:00Z"), at("2026-11-30T00:00:00Z"))
    );
    // The last millisecond of October is still October's month.
    let (oct, _) = Period::Month.days(at("2026-11-01T00:00:00Z") - 1);
    assert_eq!(oct * DAY, at("2026-10-01T00:00:00Z"));
}

#[test]
fn rolling_days_include_today() {
    let now = at("2026-11-29T23:59:59Z");
    assert_eq!(Period::Days(1).days(now), (day_of(now), day_of(now)));
    let (first, last) = Period::Days(7).days(now);
    assert_eq!(last - first + 1, 7);
    assert_eq!(first * DAY, at("2026-11-23T00:00:00Z"));
}

#[test]
fn periods_parse_and_print_the_same() {
    for (raw, p) in [
        ("month", Period::Month),
        ("7d", Period::Days(7)),
        ("366d", Period::Days(366)),
    ] {
        assert_eq!(raw.parse::<Period>().expect("parses"), p);
        assert_eq!(p.to_string(), raw);
    }
    for bad in ["0d", "367d", "7", "week", "-1d", ""] {
        assert!(bad.parse::<Period>().is_err(), "{bad}");
    }
}

#[test]
fn worst_case_bounds_every_real_cost() {
    let price = Price::sonnet_like();
    let at = |input, output| {
        worst_case(
            &price,
            &Exposure {
                input,
                output,
                server_tool_uses: 0,
            },
        )
    };
    let worst = at(400, 100);
    assert_eq!(
        at(1_400, 100) - worst,
        3_750,
        "media by reference: its allowance at the dearest input price"
    );
    // 400 bytes at the cache-write price plus 100 output tokens.
    assert_eq!(worst, 400 * 3_750_000 / 1_000_000 + 100 * 15);
    for input in [1, 100, 400] {
        for output in [0, 50, 100] {
            for split in [0, input / 2, input] {
                let real = TokenCounts {
                    input: input - split,
                    output,
                    cache_read: 0,
                    cache_write: split,
                    server_tool_uses: 0,
                };
                assert!(cost(&price, &real) <= worst);
            }
        }
    }
}

#[test]
fn a_worst_case_beyond_any_limit_saturates_instead_of_wrapping() {
    let price = Price {
        input_per_mtok: 1_000_000_000_000,
        output_per_mtok: 1_000_000_000_000,
        cache_read_per_mtok: 0,
        cache_write_per_mtok: 0,
        per_request: 1_000_000_000_000,
        per_server_tool_use: 0,
    };
    let huge = Exposure {
        input: i64::MAX,
        output: i64::MAX,
        server_tool_uses: i64::MAX,
    };
    assert_eq!(worst_case(&price, &huge), i64::MAX);
    let body = serde_json::json!({});
    let e = Exposure::of(&body, 10, 9_000_000_000_000_000_000, 128);
    assert_eq!(e.output, i64::MAX);
    assert!(
        worst_case(&price, &e) > 1_000_000_000_000_000,
        "above every limit"
    );
}

#[test]
fn each_threshold_is_crossed_once() {
    let limit = 10_000_000;
    assert_eq!(thresholds_crossed(0, 4_999_999, limit), Vec::<u8>::new());
    assert_eq!(thresholds_crossed(4_999_999, 5_000_000, limit), vec![50]);
    assert_eq!(
        thresholds_crossed(5_000_000, 7_000_000, limit),
        Vec::<u8>::new()
    );
    assert_eq!(
        thresholds_crossed(7_000_000, 12_000_000, limit),
        vec![80, 100]
    );
    assert_eq!(thresholds_crossed(0, 10_000_000, limit), vec![50, 80, 100]);
    assert_eq!(
        thresholds_crossed(10_000_000, 20_000_000, limit),
        Vec::<u8>::new()
    );
}

#[test]
fn the_refusal_names_the_budget_its_limit_and_period() {
    let b = Budget {
        id: "b".into(),
        tenant_id: TenantId::parse("00000000-0000-4000-8000-000000000001").expect("id"),
        api_key_id: Some("k".into()),
        api_key_name: Some("ci".into()),
        limit_micros: 10_000_000,
        period: Period::Days(7),
        enforcement: Enforcement::Hard,
        webhook_url: None,
        updated_at: 0,
    };
    let m = b.exceeded_message(9_500_000, 1_200_000);
    assert!(
        m.starts_with("budget_exceeded: API key ci's hard budget of $10.00 per rolling 7 days"),
        "{m}"
    );
    assert!(m.contains("$0.50 left") && m.contains("up to $1.20"), "{m}");
    assert_eq!(percent_spent(9_500_000, 10_000_000), 95);
    let mut cheap = b.clone();
    cheap.limit_micros = 9_999;
    assert!(cheap.check().is_err());
    let mut hooked = b;
    hooked.webhook_url = Some("https://example.com".into());
    assert!(hooked.check().is_err(), "hard budgets do not alert");
}

#[test]
fn webhook_urls_are_masked_to_their_host() {
    assert_eq!(
        mask_webhook("https://user:pw@hooks.example.com/T000/B000/XXXX?token=s"),
        "https://hooks.example.com/…"
    );
    assert_eq!(mask_webhook("https://example.com"), "https://example.com/…");
}

#[test]
fn server_tool_uses_are_held_at_their_price_and_allowance() {
    use crate::domain::completion::ToolUses;
    let price = Price {
        input_per_mtok: 3_000_000,
        per_server_tool_use: 10_000,
        ..Price::default()
    };
    let body = serde_json::json!({});
    let plain = Exposure::of(&body, 100, 0, 1);
    let tools = plain.with_server_tools(ToolUses {
        uses: 3,
        tokens_per_use: 5_000,
    });
    assert_eq!(tools.input, 100 + 15_000);
    assert_eq!(
        worst_case(&price, &tools) - worst_case(&price, &plain),
        3 * 10_000 + 15_000 * 3,
        "three uses and their tokens at the input price"
    );
    let real = TokenCounts {
        input: 100 + 15_000,
        server_tool_uses: 3,
        ..TokenCounts::default()
    };
    assert!(
        crate::domain::pricing::request_cost(&price, &real, true) <= worst_case(&price, &tools)
    );
}
