//! Streamed answers under response rules (issue 10, item 8), on SQLite and
//! PostgreSQL. Before, response rules applied only to whole answers, so a
//! client opted out of them by asking for a stream.

use crate::common::TestApp;
use crate::governance::{rule, send, setup_with, CARD, EMAIL};
use atrium::domain::pii::EntityType;
use atrium::domain::policy::{Action, Direction, Target};
use atrium::server::devtools::mock_upstream::MockOptions;
use serde_json::Value;

on_both_backends!(
    streamed_text_is_redacted_across_chunks,
    a_block_ends_the_stream_with_an_error_event,
);

/// The provider streams three characters at a time, so every value is
/// split across several events.
fn in_pieces() -> MockOptions {
    MockOptions {
        stream_piece_chars: 3,
        ..Default::default()
    }
}

/// The text the client reassembles from the stream's deltas, and the
/// events' data in order.
fn reassemble(body: &str) -> (String, Vec<Value>) {
    let events: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    let text = events
        .iter()
        .filter_map(|v| {
            v.pointer("/delta/text")
                .or_else(|| v.pointer("/choices/0/delta/content"))
                .and_then(Value::as_str)
        })
        .collect();
    (text, events)
}

async fn streamed_text_is_redacted_across_chunks(app: TestApp) -> TestApp {
    let s = setup_with(&app, "Streamed", in_pieces()).await;
    let email = Target::Entity(EntityType::EmailAddress);
    rule(
        &app.svc,
        Some(&s.tenant_id),
        email,
        Action::Redact,
        Direction::Response,
    )
    .await;
    for dialect in ["anthropic", "openai"] {
        let (status, body) =
            send(&app, &s.key, dialect, &format!("mail {EMAIL} today"), true).await;
        assert_eq!(status, 200, "{body}");
        let (text, events) = reassemble(&body);
        assert_eq!(
            text, "echo: mail [REDACTED:EMAIL_ADDRESS] today",
            "{dialect}: {body}"
        );
        assert!(
            !body.contains("jane") && !body.contains("example.com"),
            "{dialect}: {body}"
        );
        let ended =
            events.iter().any(|v| v["type"] == "message_stop") || body.contains("data: [DONE]");
        assert!(ended, "{dialect}: the stream still ends normally: {body}");
    }
    // Without response rules nothing is held back or rewritten.
    let (_, body) = send(&app, &s.key, "openai", "plain words only", true).await;
    assert_eq!(reassemble(&body).0, "echo: plain words only");
    app
}

async fn a_block_ends_the_stream_with_an_error_event(app: TestApp) -> TestApp {
    let s = setup_with(&app, "Blocked stream", in_pieces()).await;
    let card = Target::Entity(EntityType::CreditCard);
    rule(
        &app.svc,
        Some(&s.tenant_id),
        card,
        Action::Block,
        Direction::Response,
    )
    .await;
    for (dialect, error) in [
        ("anthropic", "permission_error"),
        ("openai", "permission_denied"),
    ] {
        let (status, body) = send(&app, &s.key, dialect, &format!("card {CARD} ok"), true).await;
        assert_eq!(status, 200, "the stream had started: {body}");
        let (text, events) = reassemble(&body);
        assert!(
            !text.contains("4111") && !body.contains("1111 1111"),
            "{dialect}: {body}"
        );
        let last = events.last().cloned().unwrap_or(Value::Null);
        assert!(
            last.to_string().contains(error),
            "{dialect}: ends with an error: {body}"
        );
        assert!(
            !body.contains("[DONE]") && !body.contains("message_stop"),
            "{dialect}: {body}"
        );
    }
    // Recorded before the error event was sent: no waiting for the writer.
    let blocks: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'policy.block' AND details LIKE '%response%'",
    )
    .fetch_one(&app.svc.db.pool)
    .await
    .expect("count");
    assert_eq!(blocks, 2);
    app
}
