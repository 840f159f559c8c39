//! Audit trail forgeries by someone who can write the database (issue 10,
//! item 15), on SQLite and PostgreSQL. Before, the chain was plain
//! SHA-256: such a writer could rewrite history and recompute every hash,
//! or explain away deleted events with a purge marker outside the chain.

use crate::common::TestApp;
use crate::governance::{broken, make_events};
use atrium::server::services::audit_anchor;
use atrium::server::services::audit_chain::{self, Link, GENESIS, LINK_COLUMNS};

pub fn trials() -> Vec<libtest_mimic::Trial> {
    use crate::common::{both, both_configured, Needs};
    let m = "abuse_audit";
    let mut out = Vec::new();
    out.extend(both(
        m,
        "a_rewritten_chain_cannot_be_resealed_without_the_key",
        Needs::Nothing,
        a_rewritten_chain_cannot_be_resealed_without_the_key,
    ));
    out.extend(both(
        m,
        "a_purge_marker_outside_the_chain_explains_nothing",
        Needs::Nothing,
        a_purge_marker_outside_the_chain_explains_nothing,
    ));
    out.extend(both(
        m,
        "one_event_per_chain_position",
        Needs::Nothing,
        one_event_per_chain_position,
    ));
    out.extend(both(
        m,
        "a_cut_tail_is_caught_by_the_signed_checkpoint",
        Needs::Nothing,
        a_cut_tail_is_caught_by_the_signed_checkpoint,
    ));
    out.extend(both_configured(
        m,
        "the_server_writes_checkpoints_on_its_own",
        Needs::Nothing,
        anchored,
        the_server_writes_checkpoints_on_its_own,
    ));
    out
}

fn anchored(c: &mut atrium::server::config::Config) {
    c.audit_anchor = Some(format!(
        "file://{}",
        c.data_dir.join("anchor.jsonl").display()
    ));
    c.audit_anchor_secs = 1;
}

/// With `ATRIUM_AUDIT_ANCHOR` set, the server checkpoints a grown chain
/// within its interval, and the checkpoint verifies.
async fn the_server_writes_checkpoints_on_its_own(app: TestApp) -> TestApp {
    let chain = make_events(&app.svc, 3).await;
    let file = app.svc.config.data_dir.join("anchor.jsonl");
    let mut covered = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if let Ok(cp) = audit_anchor::last_in_file(&file) {
            covered = cp
                .heads
                .iter()
                .any(|h| h.chain == chain.as_str() && h.seq >= 4);
            if covered {
                assert!(audit_anchor::verify_against(&app.svc, &cp)
                    .await
                    .expect("verify")
                    .is_empty());
                break;
            }
        }
    }
    assert!(
        covered,
        "no checkpoint covering the tenant's chain within 5 s"
    );
    let mode = std::fs::metadata(&file)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    app
}

pub(crate) async fn links(app: &TestApp, chain: &str) -> Vec<Link> {
    sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM audit_events WHERE chain = $1 AND chain_seq > 0 ORDER BY chain_seq"
    ))
    .bind(chain)
    .fetch_all(&app.svc.db.pool)
    .await
    .expect("links")
}

/// Writes `links` back with hashes from `seal`, head included: what an
/// attacker with database access but without the key can do.
pub(crate) async fn reseal(
    app: &TestApp,
    chain: &str,
    links: Vec<Link>,
    seal: impl Fn(&Link) -> String,
) {
    let pool = &app.svc.db.pool;
    let mut prev = GENESIS.to_string();
    for mut l in links {
        l.prev_hash = prev.clone();
        l.hash = seal(&l);
        sqlx::query("UPDATE audit_events SET details = $1, prev_hash = $2, hash = $3, key_id = $4 WHERE id = $5")
            .bind(&l.details)
            .bind(&l.prev_hash)
            .bind(&l.hash)
            .bind(l.key_id.as_deref())
            .bind(&l.id)
            .execute(pool)
            .await
            .expect("reseal");
        prev = l.hash;
    }
    sqlx::query("UPDATE audit_chains SET head_hash = $1 WHERE chain = $2")
        .bind(&prev)
        .bind(chain)
        .execute(pool)
        .await
        .expect("head");
}

async fn a_rewritten_chain_cannot_be_resealed_without_the_key(app: TestApp) -> TestApp {
    let chain = make_events(&app.svc, 5).await;
    let chain = chain.as_str();
    assert!(broken(&audit_chain::verify(&app.svc).await.expect("verify"), chain).is_none());

    // 1. Rewrite event #3 and reseal everything with plain SHA-256, as the
    //    old chain allowed, marking the links as written before keys.
    let mut forged = links(&app, chain).await;
    forged[2].details = r#"{"forged":true}"#.into();
    let unkeyed: Vec<Link> = forged
        .iter()
        .map(|l| Link {
            key_id: None,
            ..l.clone()
        })
        .collect();
    let legacy = atrium::server::crypto::audit_key::AuditKeys::derive(&[0; 32]);
    reseal(&app, chain, unkeyed, |l| {
        l.expected_hash(&legacy).expect("sha256")
    })
    .await;
    let checks = audit_chain::verify(&app.svc).await.expect("verify");
    let c = checks.iter().find(|c| c.chain == chain).expect("chain");
    // Every link now looks "legacy": nothing breaks, but verify says so.
    assert!(
        c.notes.iter().any(|n| n.contains("plain SHA-256")),
        "{checks:?}"
    );

    // 2. Reseal with a key of the attacker's own, keeping a key id.
    let theirs = atrium::server::crypto::audit_key::AuditKeys::derive(&[7; 32]);
    let rekeyed: Vec<Link> = forged
        .iter()
        .map(|l| Link {
            key_id: Some(theirs.current.id.clone()),
            ..l.clone()
        })
        .collect();
    reseal(&app, chain, rekeyed, |l| {
        l.expected_hash(&theirs).expect("theirs")
    })
    .await;
    let why = broken(&audit_chain::verify(&app.svc).await.expect("verify"), chain).expect("caught");
    assert!(why.contains("#1") && why.contains("does not hold"), "{why}");

    // 3. Claim our key id but compute with theirs.
    let ours = app.svc.secrets.audit().current.id.clone();
    let claimed: Vec<Link> = forged
        .iter()
        .map(|l| Link {
            key_id: Some(ours.clone()),
            ..l.clone()
        })
        .collect();
    reseal(&app, chain, claimed, |l| {
        theirs.current.link_hash(&l.prev_hash, &l.details)
    })
    .await;
    let why = broken(&audit_chain::verify(&app.svc).await.expect("verify"), chain).expect("caught");
    assert!(why.contains("#1") && why.contains("altered"), "{why}");

    // 4. Downgrade only the tail to unkeyed links after keyed ones.
    let mut mixed = links(&app, chain).await;
    for l in mixed.iter_mut().skip(3) {
        l.key_id = None;
    }
    let ours_keys = app.svc.secrets.audit().clone();
    reseal(&app, chain, mixed, |l| {
        l.expected_hash(&ours_keys).unwrap_or_default()
    })
    .await;
    let why = broken(&audit_chain::verify(&app.svc).await.expect("verify"), chain).expect("caught");
    assert!(
        why.contains("#4") && why.contains("no key after keyed links"),
        "{why}"
    );
    app
}

/// Deleting the oldest events and inserting an `audit.purge` row at
/// position 0 (outside the chain) used to pass as a retention purge.
async fn a_purge_marker_outside_the_chain_explains_nothing(app: TestApp) -> TestApp {
    let chain = make_events(&app.svc, 4).await;
    let chain = chain.as_str();
    let pool = &app.svc.db.pool;
    let third = &links(&app, chain).await[2];
    sqlx::query("DELETE FROM audit_events WHERE chain = $1 AND chain_seq BETWEEN 1 AND 3")
        .bind(chain)
        .execute(pool)
        .await
        .expect("delete");
    sqlx::query("UPDATE audit_chains SET anchor_seq = 3, anchor_hash = $1 WHERE chain = $2")
        .bind(&third.hash)
        .bind(chain)
        .execute(pool)
        .await
        .expect("anchor");
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor, action, resource_type, tenant_id, status, details, \
         chain, chain_seq, prev_hash, hash) VALUES ($1, 0, 'retention', 'audit.purge', 'tenant', $2, \
         'success', '{\"purged_through\":3}', $2, 0, '', '')",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(chain)
    .execute(pool)
    .await
    .expect("forged marker");
    let checks = audit_chain::verify(&app.svc).await.expect("verify");
    let why = broken(&checks, chain).expect("caught");
    assert!(
        why.contains("without a purge recorded in the chain"),
        "{why}"
    );
    let c = checks.iter().find(|c| c.chain == chain).expect("chain");
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("1 events are outside the chain")),
        "{c:?}"
    );
    app
}

async fn one_event_per_chain_position(app: TestApp) -> TestApp {
    let chain = make_events(&app.svc, 2).await;
    let twin = sqlx::query(
        "INSERT INTO audit_events (id, at, actor, action, resource_type, tenant_id, status, details, \
         chain, chain_seq, prev_hash, hash) SELECT $1, at, actor, action, resource_type, tenant_id, \
         status, details, chain, chain_seq, prev_hash, hash FROM audit_events WHERE chain = $2 AND chain_seq = 2",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(chain.as_str())
    .execute(&app.svc.db.pool)
    .await;
    assert!(twin.is_err(), "a second event at position 2 was stored");
    app
}

/// Cutting the last events and moving the head back leaves a chain that
/// checks out on its own; the signed checkpoint outside the database
/// still has the old head.
async fn a_cut_tail_is_caught_by_the_signed_checkpoint(app: TestApp) -> TestApp {
    let chain = make_events(&app.svc, 5).await;
    let chain = chain.as_str();
    let file = app.svc.config.data_dir.join("anchor.jsonl");
    let sink = format!("file://{}", file.display());
    let cp = audit_anchor::checkpoint(&app.svc)
        .await
        .expect("checkpoint");
    audit_anchor::write(&app.svc, &sink, &cp)
        .await
        .expect("write");
    assert!(audit_anchor::verify_against(&app.svc, &cp)
        .await
        .expect("verify")
        .is_empty());

    let all = links(&app, chain).await;
    let keep = &all[all.len() - 3];
    let pool = &app.svc.db.pool;
    sqlx::query("DELETE FROM audit_events WHERE chain = $1 AND chain_seq > $2")
        .bind(chain)
        .bind(keep.chain_seq)
        .execute(pool)
        .await
        .expect("cut");
    sqlx::query("UPDATE audit_chains SET head_seq = $1, head_hash = $2 WHERE chain = $3")
        .bind(keep.chain_seq)
        .bind(&keep.hash)
        .bind(chain)
        .execute(pool)
        .await
        .expect("head");
    let checks = audit_chain::verify(&app.svc).await.expect("verify");
    assert!(
        broken(&checks, chain).is_none(),
        "the cut chain is consistent by itself"
    );
    let problems =
        audit_anchor::verify_against(&app.svc, &audit_anchor::last_in_file(&file).expect("read"))
            .await
            .expect("verify");
    assert!(
        problems
            .iter()
            .any(|p| p.contains(chain) && p.contains("cut back")),
        "{problems:?}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atrium"))
        .args(["audit", "verify", "--anchor"])
        .arg(&file)
        .env("DATABASE_URL", &app.db_url)
        .env("ATRIUM_DATA_DIR", &app.svc.config.data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run atrium audit verify");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && stdout.contains("cut back"),
        "{stdout}"
    );

    // A checkpoint edited to match the cut chain no longer verifies.
    let mut edited = cp.clone();
    for h in edited.heads.iter_mut().filter(|h| h.chain == chain) {
        h.seq = keep.chain_seq;
        h.hash = keep.hash.clone();
    }
    let problems = audit_anchor::verify_against(&app.svc, &edited)
        .await
        .expect("verify");
    assert!(
        problems.iter().any(|p| p.contains("signature")),
        "{problems:?}"
    );
    app
}
