//! Flags beyond on/off (issue 11), on SQLite and PostgreSQL: typed flags
//! and ordered rules from the CLI, served by OFREP; a flag's history; who
//! gets a platform flag; where a targeting key falls.

use serde_json::json;

use crate::cli::{atrium, cli_json};
use crate::common::TestApp;
use crate::flags::{cli, ofrep};
use crate::portal::s;

on_both_backends!(typed_flags_rules_and_history_from_the_cli,);

const RULES: &str = r#"[
  {"kind": "conditions", "all": [{"attribute": "plan", "operator": "in", "values": ["pro"]}], "variant": "high"},
  {"kind": "split", "weights": [{"variant": "low", "weight": 50}, {"variant": "high", "weight": 50}]}
]"#;

async fn typed_flags_rules_and_history_from_the_cli(app: TestApp) -> TestApp {
    let tenant = cli_json(&app, &["tenant", "create", "--name", "Insight A", "--json"]);
    let flag = cli_json(
        &app,
        &[
            "flag",
            "create",
            "--key",
            "checkout.limit",
            "--tenant",
            "Insight A",
            "--type",
            "number",
            "--variant",
            "low=10",
            "--variant",
            "high=100",
            "--json",
        ],
    );
    assert_eq!(flag["kind"], "number");
    assert_eq!(flag["variants"][1]["value"], json!(100));
    let bad = atrium(
        &app,
        &[
            "flag",
            "create",
            "--key",
            "x",
            "--type",
            "number",
            "--variant",
            "x=ten",
        ],
        None,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not JSON"));
    cli(
        &app,
        &[
            "flag",
            "rules",
            "checkout.limit",
            "--tenant",
            "Insight A",
            "--set",
            RULES,
        ],
    );
    let broken = atrium(
        &app,
        &[
            "flag",
            "rules",
            "checkout.limit",
            "--tenant",
            "Insight A",
            "--set",
            r#"[{"kind":"rollout","percentage":5,"variant":"nope"}]"#,
        ],
        None,
    );
    assert!(
        !broken.status.success(),
        "a rule naming no variant is refused"
    );

    // The CLI explains a key's place; evaluation agrees with it.
    let e = cli_json(
        &app,
        &[
            "flag",
            "eval",
            "checkout.limit",
            "--tenant",
            "Insight A",
            "--targeting-key",
            "user-7",
            "--json",
        ],
    );
    assert_eq!(
        (e["reason"].as_str(), e["rule"].as_u64()),
        (Some("SPLIT"), Some(1)),
        "{e}"
    );
    assert_eq!(e["buckets"][0]["out_of"], 100);
    assert_eq!(e["buckets"][0]["variant"], e["variant"]);

    // OFREP serves the number; the condition wins for a pro user.
    let tid = atrium::domain::tenant::TenantId::parse(&s(&tenant, "id")).expect("id");
    let system = atrium::server::services::Actor::system("test");
    let api_key = atrium::server::services::api_keys::create(&app.svc, &system, &tid, "app", None)
        .await
        .expect("key")
        .key;
    let path = "/ofrep/v1/evaluate/flags/checkout.limit";
    let pro = r#"{"context": {"targetingKey": "user-7", "plan": "pro"}}"#;
    // The server's cache follows the CLI's changes (the flag, then its
    // rules) within its poll; a poll between the two sees the flag alone.
    let started = std::time::Instant::now();
    let (status, body) = loop {
        let (status, body, _) = ofrep(&app, &api_key, path, pro).await;
        if body["reason"] == "TARGETING_MATCH" || started.elapsed().as_secs() >= 5 {
            break (status, body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        (status, body["value"].clone(), body["reason"].as_str()),
        (200, json!(100), Some("TARGETING_MATCH")),
        "{body}"
    );
    let (_, body, _) = ofrep(
        &app,
        &api_key,
        path,
        r#"{"context": {"targetingKey": "user-7"}}"#,
    )
    .await;
    assert_eq!(body["variant"], e["variant"], "OFREP and the CLI agree");

    let history = cli_json(
        &app,
        &[
            "flag",
            "history",
            "checkout.limit",
            "--tenant",
            "Insight A",
            "--json",
        ],
    );
    let summaries: Vec<(&str, &str)> = history
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["action"].as_str().unwrap_or(""),
                c["summary"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summaries,
        [
            ("flag.rules", "rules changed (0 → 2)"),
            ("flag.create", "created (2 variants)")
        ]
    );

    // Archived: kept with its history, no longer served; restored: served again.
    cli(
        &app,
        &["flag", "archive", "checkout.limit", "--tenant", "Insight A"],
    );
    let gone = std::time::Instant::now();
    while ofrep(&app, &api_key, path, pro).await.0 != 404 {
        assert!(gone.elapsed().as_secs() < 2, "an archived flag is served");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    cli(
        &app,
        &[
            "flag",
            "archive",
            "checkout.limit",
            "--tenant",
            "Insight A",
            "--restore",
        ],
    );
    let history = cli_json(
        &app,
        &[
            "flag",
            "history",
            "checkout.limit",
            "--tenant",
            "Insight A",
            "--json",
        ],
    );
    assert_eq!(
        (
            history[0]["action"].as_str(),
            history[0]["summary"].as_str()
        ),
        (Some("flag.restore"), Some("restored"))
    );
    assert_eq!(history[1]["summary"], "archived");
    let refused = atrium(&app, &["flag", "archive", "gateway.streaming"], None);
    assert!(
        !refused.status.success(),
        "a capability's flag cannot be archived"
    );

    // Who gets a platform flag: the targeted tenant first, everyone counted.
    cli(&app, &["tenant", "create", "--name", "Insight B"]);
    cli(&app, &["flag", "create", "--key", "router.v2"]);
    cli(
        &app,
        &["flag", "target", "router.v2", "--tenants", "Insight A"],
    );
    let p = cli_json(&app, &["flag", "preview", "router.v2", "--json"]);
    assert_eq!(p["listed"][0][1], tenant["id"], "{p}");
    assert_eq!(p["listed"][0][2]["reason"], "TARGETING_MATCH");
    let on = p["by_variant"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v[0] == "on");
    assert_eq!(on.map(|v| v[1].clone()), Some(json!(1)), "{p}");
    assert_eq!(
        p["tenants"].as_u64(),
        p["listed"].as_array().map(|l| l.len() as u64)
    );

    // Platform flags see the tenant's plan: a condition on it switches
    // Insight B on once it subscribes, and leaves Insight A (no plan) off.
    cli(&app, &["plan", "create", "--name", "Pro"]);
    cli(&app, &["flag", "create", "--key", "router.pro"]);
    cli(
        &app,
        &[
            "flag",
            "rules",
            "router.pro",
            "--set",
            r#"[{"kind":"conditions","all":[{"attribute":"plan","operator":"eq","values":["Pro"]}],"variant":"on"}]"#,
        ],
    );
    let reason = |tenant: &str| {
        let e = cli_json(
            &app,
            &["flag", "eval", "router.pro", "--tenant", tenant, "--json"],
        );
        (
            e["variant"].as_str().map(String::from),
            e["reason"].as_str().map(String::from),
        )
    };
    assert_eq!(reason("Insight B").0.as_deref(), Some("off"));
    cli(&app, &["tenant", "set-plan", "Insight B", "Pro"]);
    assert_eq!(
        reason("Insight B"),
        (Some("on".into()), Some("TARGETING_MATCH".into()))
    );
    assert_eq!(reason("Insight A").0.as_deref(), Some("off"));
    app
}
