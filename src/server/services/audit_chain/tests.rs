//! The canonical text every link's hash covers.

use super::*;
use serde_json::json;

/// What `canonical` gave before: the hashes of every stored link
/// depend on it, byte for byte.
fn by_map(l: &Link) -> String {
    json!({
        "id": l.id, "at": l.at, "actor": l.actor, "action": l.action,
        "resource_type": l.resource_type, "resource_id": l.resource_id,
        "tenant_id": l.tenant_id, "status": l.status, "client_ip": l.client_ip,
        "details": l.details, "chain": l.chain, "chain_seq": l.chain_seq,
    })
    .to_string()
}

#[test]
fn the_canonical_text_is_the_sorted_map_it_was() {
    let tenant = Some(TenantId::random());
    let base = Link {
        id: "ev-1".into(),
        at: -5,
        actor: "user:\"quoted\" é \u{1}".into(),
        action: "policy.redact".into(),
        resource_type: "request".into(),
        resource_id: Some("req\n1".into()),
        tenant_id: tenant.clone(),
        status: "success".into(),
        client_ip: None,
        details: r#"{"rules":["r1"],"direction":"prompt"}"#.into(),
        chain: "tenant".into(),
        chain_seq: i64::MAX,
        prev_hash: GENESIS.into(),
        hash: String::new(),
        key_id: None,
    };
    let bare = Link {
        resource_id: None,
        tenant_id: None,
        client_ip: Some("::1".into()),
        details: String::new(),
        ..base.clone()
    };
    for l in [base, bare] {
        assert_eq!(l.canonical(), by_map(&l));
    }
}
