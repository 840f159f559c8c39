//! Names for what audit events refer to: the audit table shows a tenant's
//! name, a user's e-mail, a key's prefix or a model's name, linked to its
//! page, instead of bare identifiers. One query per kind per page of events.

use std::collections::{HashMap, HashSet};

use crate::domain::audit::{detail_pairs, AuditEvent, AuditRow, Named};

use super::{Result, Services};

/// Per kind of resource, the ids on this page that need a name.
#[derive(Default)]
struct Wanted {
    by_kind: HashMap<&'static str, HashSet<String>>,
}

/// The kinds named, the query that names them, and the page they link to.
const KINDS: [(&str, &str); 5] = [
    ("tenant", "SELECT id, name, id FROM tenants WHERE id IN "),
    ("user", "SELECT id, email, '' FROM users WHERE id IN "),
    (
        "api_key",
        "SELECT id, prefix, tenant_id FROM api_keys WHERE id IN ",
    ),
    ("model", "SELECT id, name, '' FROM models WHERE id IN "),
    (
        "provider",
        "SELECT id, name, '' FROM providers WHERE id IN ",
    ),
];

fn href(kind: &str, id: &str, extra: &str) -> Option<String> {
    match kind {
        "tenant" => Some(format!("/tenants/{id}")),
        "api_key" if !extra.is_empty() => Some(format!("/tenants/{extra}")),
        "user" => Some("/users".into()),
        "model" | "provider" => Some("/models".into()),
        _ => None,
    }
}

/// The table's rows for a page of events.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn rows(svc: &Services, events: Vec<AuditEvent>) -> Result<Vec<AuditRow>> {
    let mut wanted = Wanted::default();
    for e in &events {
        if let Some(t) = &e.tenant_id {
            wanted.add("tenant", t);
        }
        if let (Some(kind), Some(id)) = (kind_of(&e.resource_type), &e.resource_id) {
            wanted.add(kind, id);
        }
        if let Some(user) = e.actor.strip_prefix("user:") {
            wanted.add("user", user);
        }
    }
    let names = wanted.resolve(svc).await?;
    let named = |kind: &str, id: &str| names.get(&(kind.to_string(), id.to_string())).cloned();
    Ok(events
        .into_iter()
        .map(|event| {
            let tenant = event.tenant_id.as_deref().map(|t| {
                named("tenant", t).unwrap_or_else(|| Named {
                    label: t.to_string(),
                    href: None,
                })
            });
            let id = event.resource_id.clone().unwrap_or_default();
            let resource = kind_of(&event.resource_type)
                .and_then(|k| named(k, &id))
                .unwrap_or(Named {
                    label: id,
                    href: None,
                });
            let details = detail_pairs(&event.details);
            let actor = event
                .actor
                .strip_prefix("user:")
                .and_then(|u| named("user", u))
                .unwrap_or(Named {
                    label: event.actor.clone(),
                    href: None,
                });
            AuditRow {
                actor,
                event,
                tenant,
                resource,
                details,
            }
        })
        .collect())
}

fn kind_of(resource_type: &str) -> Option<&'static str> {
    KINDS.iter().map(|(k, _)| *k).find(|k| *k == resource_type)
}

impl Wanted {
    fn add(&mut self, kind: &'static str, id: &str) {
        self.by_kind.entry(kind).or_default().insert(id.to_string());
    }

    async fn resolve(&self, svc: &Services) -> Result<HashMap<(String, String), Named>> {
        let mut out = HashMap::new();
        for (kind, select) in KINDS {
            let Some(ids) = self.by_kind.get(kind).filter(|ids| !ids.is_empty()) else {
                continue;
            };
            let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            let sql = format!("{select}({})", marks.join(", "));
            let mut q = sqlx::query_as::<_, (String, String, String)>(&sql);
            for id in ids {
                q = q.bind(id);
            }
            for (id, label, extra) in q.fetch_all(&svc.db.pool).await? {
                let link = href(kind, &id, &extra);
                out.insert((kind.to_string(), id), Named { label, href: link });
            }
        }
        Ok(out)
    }
}

/// The actor filter as searched: an e-mail of a portal user becomes the
/// e-mail and `user:<id>` (newline separated: no actor name has one).
pub(super) async fn actor_alias(svc: &Services, given: String) -> Result<String> {
    if !given.contains('@') {
        return Ok(given);
    }
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE LOWER(email) = $1")
        .bind(given.trim().to_lowercase())
        .fetch_optional(&svc.db.pool)
        .await?;
    Ok(match id {
        Some(id) => format!("{given}\nuser:{id}"),
        None => given,
    })
}
