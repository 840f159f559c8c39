//! Records of processing (GDPR Art. 30): the tenant's, as controller
//! (30(1)), and the operator's, as processor (30(2)). Built from the data
//! map, the ledger's per-request facts and the tenant's settings; the body
//! holds no generation time, so a closed period re-generates to the same hash.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::super::{policies, Result, Services};
use crate::domain::compliance::{is_transfer, jurisdiction, Period};
use crate::domain::data_map::{self, LawfulBasis};
use crate::domain::pii::EntitySet;
use crate::domain::tenant::Tenant;
use crate::server::db::tenant_store::ProcessingRow;

/// Providers that received the tenant's requests, with the classes they saw.
#[derive(Default)]
struct Recipient {
    requests: i64,
    classes: EntitySet,
}

/// The facts of a period the records share.
pub(super) struct Processing {
    /// Requests per PII class (`EntityType` names).
    classes: BTreeMap<String, i64>,
    /// By (provider, region).
    recipients: BTreeMap<(String, String), Recipient>,
    requests: i64,
}

impl Processing {
    fn from_rows(rows: Vec<ProcessingRow>) -> Self {
        let mut p = Processing {
            classes: BTreeMap::new(),
            recipients: BTreeMap::new(),
            requests: 0,
        };
        for r in rows {
            let set = EntitySet::from_bits(r.pii_classes);
            p.requests += r.requests;
            for t in set.types() {
                *p.classes.entry(t.as_str().to_string()).or_default() += r.requests;
            }
            let Some(provider) = r.provider else { continue };
            let key = (provider, r.provider_region.unwrap_or_default());
            let rec = p.recipients.entry(key).or_default();
            rec.requests += r.requests;
            rec.classes = rec.classes.union(set);
        }
        p
    }

    /// Recipients as the reports list them, with jurisdiction and transfer.
    pub(super) fn recipients(&self, home: Option<&str>) -> Vec<Value> {
        self.recipients
            .iter()
            .map(|((provider, region), r)| {
                let j = jurisdiction(region);
                json!({
                    "provider": provider, "region": region,
                    "jurisdiction": j.clone().unwrap_or_else(|| "unpinned".into()),
                    "requests": r.requests,
                    "pii_classes": r.classes.types().map(|t| t.as_str()).collect::<Vec<_>>(),
                    "transfer": is_transfer(home, j.as_deref()),
                })
            })
            .collect()
    }
}

pub(super) async fn processing(svc: &Services, t: &Tenant, period: &Period) -> Result<Processing> {
    let store = svc.stores.open(&t.id).await?;
    let rows = store.processing(period.from, period.to).await?;
    Ok(Processing::from_rows(rows))
}

/// The data map's personal-data tables, as purposes with their retention.
fn purposes() -> Vec<Value> {
    data_map::TABLES
        .iter()
        .filter(|t| t.basis != LawfulBasis::NotPersonal)
        .map(|t| {
            json!({ "table": t.name, "store": t.store, "purpose": t.purpose,
                    "categories": t.categories, "lawful_basis": t.basis,
                    "retention": t.retention, "erasure": t.erasure })
        })
        .collect()
}

async fn mfa_roles(svc: &Services) -> Result<Vec<String>> {
    let roles = super::super::mfa::required_roles(svc).await?;
    Ok(roles.iter().map(|r| r.as_str().to_string()).collect())
}

/// The measures in force for the tenant.
fn security(svc: &Services, t: &Tenant, mfa_roles: &[String]) -> Value {
    json!({
        "isolation": t.isolation,
        "provider_secrets_sealed": "ChaCha20-Poly1305 under a key outside the database",
        "keys_and_sessions": "stored as hashes only; passwords argon2id",
        "data_policies": policies::effective(svc, &t.id).len(),
        "audit_trail": "HMAC-SHA256 chain per tenant, key outside the database, signed checkpoints",
        "request_log": t.request_log,
        "mfa": { "method": "TOTP (RFC 6238) with recovery codes", "required_for_roles": mfa_roles },
    })
}

/// Art. 30(1): the tenant's record as controller.
pub async fn controller(svc: &Services, t: &Tenant, period: &Period) -> Result<Value> {
    let p = processing(svc, t, period).await?;
    let home = jurisdiction(&t.data_location);
    let recipients = p.recipients(home.as_deref());
    let transfers: Vec<&Value> = recipients
        .iter()
        .filter(|r| r["transfer"] == Value::Bool(true))
        .collect();
    let audit_days = t.audit_retention_days;
    Ok(json!({
        "article": "GDPR Art. 30(1)",
        "controller": { "tenant_id": t.id, "name": t.name,
                        "contact": t.controller_contact, "dpo": t.dpo_contact },
        "data_location": { "region": t.data_location,
                           "jurisdiction": home.unwrap_or_else(|| "unknown".into()) },
        "purposes": ["answering the tenant's API clients through language-model providers",
                     "metering, billing and budgets", "security and audit"],
        "data_subjects": ["the tenant's API clients and their end users",
                          "people named in prompts", "the tenant's portal users"],
        "personal_data": p.classes.iter()
            .map(|(class, n)| json!({ "class": class, "requests": n })).collect::<Vec<_>>(),
        "requests": p.requests,
        "recipients": recipients,
        "transfers": transfers,
        "retention": { "request_log": t.request_log, "audit_events_days": audit_days,
                       "tables": purposes() },
        "security_measures": security(svc, t, &mfa_roles(svc).await?),
        "audit_pseudonymity": "events before issue 22 may name users by e-mail; they are \
                               kept under Art. 17(3)(b) and (e)",
        "changes_since_period_end": super::changes_since(svc, Some(&t.id), period.to).await?,
    }))
}

/// Art. 30(2): the operator's record as processor, for one controller or
/// all of them; providers are the sub-processors.
pub async fn processor(svc: &Services, tenants_in: &[Tenant], period: &Period) -> Result<Value> {
    let mut controllers = Vec::with_capacity(tenants_in.len());
    for t in tenants_in {
        let p = processing(svc, t, period).await?;
        let home = jurisdiction(&t.data_location);
        controllers.push(json!({
            "tenant_id": t.id, "name": t.name, "contact": t.controller_contact,
            "dpo": t.dpo_contact, "requests": p.requests,
            "categories_of_processing": ["forwarding prompts to language-model providers",
                                         "PII detection and redaction", "metering and billing"],
            "sub_processors": p.recipients(home.as_deref()),
            "security_measures": security(svc, t, &mfa_roles(svc).await?),
        }));
    }
    Ok(json!({
        "article": "GDPR Art. 30(2)",
        "processor": "the operator of this Atrium deployment",
        "controllers": controllers,
    }))
}
