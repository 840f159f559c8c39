//! Issue 22, item 4, on both backends: new audit events name portal users
//! as `user:<id>` and carry typed e-mails of sign-in attempts as keyed
//! hashes; the portal still shows and finds them by e-mail while the user
//! exists, and erasing the user ends the mapping.

use atrium::domain::audit::AuditQuery;
use atrium::domain::page::PageRequest;
use atrium::server::services::{audit, audit_names, Actor};

use crate::common::{client, TestApp};
use crate::portal::{create_tenant, create_user, s};

on_both_backends!(audit_events_name_users_by_id_and_attempts_by_hash);

async fn audit_events_name_users_by_id_and_attempts_by_hash(app: TestApp) -> TestApp {
    let admin = app.admin().await;
    let t = s(&create_tenant(&app, &admin, "Pseudo Co").await, "id");
    create_user(&app, &admin, "pat@pseudo.io", "tenant_admin", &t).await;
    let pat = client();
    app.sign_in(&pat, "pat@pseudo.io", "a-long-password-1")
        .await;
    let (status, _) = app
        .call(
            &pat,
            "create_key",
            &[
                ("tenant_id", t.as_str()),
                ("name", "k1"),
                ("expires_in_days", ""),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let failed = client()
        .post(app.url("/auth/sign-in"))
        .form(&[
            ("email", "Typo@Pseudo.io"),
            ("password", "wrong-password-here"),
        ])
        .send()
        .await
        .expect("sign-in");
    assert_eq!(failed.status().as_u16(), 303);

    let user_id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind("pat@pseudo.io")
        .fetch_one(&app.svc.db.pool)
        .await
        .expect("user");
    let rows: Vec<(String, String, Option<String>, String)> =
        sqlx::query_as("SELECT actor, action, resource_id, details FROM audit_events ORDER BY seq")
            .fetch_all(&app.svc.db.pool)
            .await
            .expect("events");
    let named = format!("user:{user_id}");
    assert!(
        rows.iter()
            .any(|(a, act, ..)| *a == named && act == "api_key.create"),
        "{rows:?}"
    );
    for (actor, action, resource, details) in &rows {
        let all = format!("{actor} {resource:?} {details}").to_lowercase();
        assert!(
            !all.contains("pat@pseudo.io") || action == "user.create",
            "{all}"
        );
        assert!(
            !all.contains("typo@pseudo.io"),
            "a typed e-mail in clear: {all}"
        );
    }
    let attempt = rows
        .iter()
        .find(|(_, act, _, d)| act == "auth.sign_in" && d.contains("unknown_email"))
        .expect("the failed attempt is audited");
    assert!(attempt.0.starts_with("attempt:") && attempt.2.as_deref() == Some(attempt.0.as_str()));

    // Searching by e-mail finds the user's events; the table shows the e-mail.
    let q = AuditQuery {
        actor: "pat@pseudo.io".into(),
        ..Default::default()
    };
    let admin_actor = Actor::system("test");
    let found = audit::search(&app.svc, &admin_actor, &q, PageRequest::new(Some(1), None))
        .await
        .expect("search");
    assert!(
        found.items.iter().any(|e| e.action == "api_key.create"),
        "{:?}",
        found.items
    );
    let shown = audit_names::rows(&app.svc, found.items)
        .await
        .expect("rows");
    assert!(shown.iter().all(|r| r.actor.label == "pat@pseudo.io"));
    app
}
