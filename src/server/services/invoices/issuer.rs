//! Issues last month's invoices on its own once the grace period for late
//! usage has passed, so finance never waits for someone to run a command.

use super::{issuable_from, issue};
use crate::domain::invoice::Month;
use crate::domain::tenant::TenantId;
use crate::domain::time::now_millis;
use crate::server::services::{Actor, Result, Services};

/// Issues last month's invoice for every tenant that existed in it and
/// has none yet; returns how many it issued.
pub async fn run_once(svc: &Services) -> Result<usize> {
    let month = Month::of(now_millis()).prev();
    if now_millis() < issuable_from(svc, month) {
        return Ok(0);
    }
    let (_, end) = month.window();
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM tenants WHERE created_at < $1 AND id NOT IN \
         (SELECT tenant_id FROM invoices WHERE month = $2)",
    )
    .bind(end)
    .bind(month.to_string())
    .fetch_all(&svc.db.pool)
    .await?;
    let actor = Actor::system("billing");
    let mut issued = 0;
    for id in due {
        let Ok(id) = TenantId::parse(&id) else {
            continue;
        };
        issue(svc, &actor, &id, month).await?;
        issued += 1;
    }
    Ok(issued)
}
