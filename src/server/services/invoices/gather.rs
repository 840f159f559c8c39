//! A month's draft from the ledger: its usage cut wherever a price version
//! or the tenant's plan changes (so each stretch has one price and one
//! markup), the plans in force, and the late usage of issued months.

use crate::domain::invoice::{lines, Inputs, Invoice, InvoiceStatus, Late, Month, Slice};
use crate::domain::plan::Plan;
use crate::domain::pricing::Micros;
use crate::domain::tenant::TenantId;
use crate::domain::time::Millis;
use crate::server::services::catalog::{self, Catalog};
use crate::server::services::plans::{self, Subscription};
use crate::server::services::{meters, tenants, Actor, Result, Services};

/// Months back that late usage is looked for.
const LATE_MONTHS: usize = 24;

pub(super) async fn draft(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    month: Month,
) -> Result<Invoice> {
    let tenant = tenants::get(svc, actor, tenant_id).await?;
    let subs = plans::history(svc, actor, tenant_id).await?;
    let cat = catalog::load(svc).await?;
    let slices = slices(svc, tenant_id, month, &subs, &cat).await?;
    let late = late(svc, tenant_id, month).await?;
    let (from, to) = month.window();
    let samples = meters::samples(svc, actor, tenant_id, from, to).await?;
    let in_force: Vec<(Millis, &Plan)> = subs.iter().map(|s| (s.effective_from, &s.plan)).collect();
    let usage_micros = slices.iter().map(|s| s.totals.cost_micros).sum();
    let inputs = Inputs {
        month,
        subscriptions: &in_force,
        slices,
        late,
        samples: &samples,
    };
    let lines = lines(&inputs);
    Ok(Invoice {
        tenant_id: tenant_id.clone(),
        tenant_name: tenant.name,
        month,
        status: InvoiceStatus::Draft,
        number: None,
        issued_at: None,
        total_micros: lines.iter().map(|l| l.amount_micros).sum(),
        lines,
        usage_micros,
        late: inputs.late.iter().map(|l| (l.month, l.micros)).collect(),
    })
}

/// The month's usage by model, in stretches of one price and one plan.
async fn slices(
    svc: &Services,
    tenant_id: &TenantId,
    month: Month,
    subs: &[Subscription],
    cat: &Catalog,
) -> Result<Vec<Slice>> {
    let (from, to) = month.window();
    let inside = |t: Millis| t > from && t < to;
    let mut cuts = vec![from, to];
    for m in cat.models.values() {
        cuts.extend(
            m.prices
                .versions()
                .iter()
                .map(|v| v.effective_from)
                .filter(|t| inside(*t)),
        );
    }
    cuts.extend(
        cat.evaluation_prices
            .versions()
            .iter()
            .map(|v| v.effective_from)
            .filter(|t| inside(*t)),
    );
    cuts.extend(subs.iter().map(|s| s.effective_from).filter(|t| inside(*t)));
    cuts.sort_unstable();
    cuts.dedup();
    let store = svc.stores.open(tenant_id).await?;
    let mut out = Vec::new();
    for w in cuts.windows(2) {
        let plan = subs
            .iter()
            .rev()
            .find(|s| s.effective_from <= w[0])
            .map(|s| &s.plan);
        let evaluation_price = cat.evaluation_prices.at(w[0]).map_or(0, |v| v.price);
        for (model, totals) in store.usage_by_model(w[0], w[1]).await? {
            let found = cat.resolve(tenant_id, &model);
            let name = found.as_ref().map_or(model, |m| m.name.clone());
            out.push(Slice {
                price: found.and_then(|m| m.price_at(w[0])),
                markup: plan.map(|p| (p.name.clone(), p.markup_for(&name))),
                evaluation_price,
                model: name,
                totals,
            });
        }
    }
    Ok(out)
}

/// For each issued month before `month`: what the ledger holds for it now,
/// less what its invoice billed and what later invoices already carried.
async fn late(svc: &Services, tenant_id: &TenantId, month: Month) -> Result<Vec<Late>> {
    let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT month, number, usage_micros, document FROM invoices WHERE tenant_id = $1 \
         AND month < $2 ORDER BY month",
    )
    .bind(tenant_id.as_str())
    .bind(month.to_string())
    .fetch_all(&svc.db.pool)
    .await?;
    let carried_by: Vec<Vec<(Month, Micros)>> = rows
        .iter()
        .map(|r| super::parse(&r.3).map(|i| i.late))
        .collect::<Result<_>>()?;
    let store = svc.stores.open(tenant_id).await?;
    let mut out = Vec::new();
    for (month_s, number, billed, _) in rows.iter().rev().take(LATE_MONTHS) {
        let Ok(m) = month_s.parse::<Month>() else {
            continue;
        };
        let (from, to) = m.window();
        let now: Micros = store
            .usage_by_model(from, to)
            .await?
            .iter()
            .map(|(_, t)| t.cost_micros)
            .sum();
        let carried: Micros = carried_by
            .iter()
            .flatten()
            .filter(|(lm, _)| *lm == m)
            .map(|(_, c)| c)
            .sum();
        let micros = now - billed - carried;
        if micros != 0 {
            out.push(Late {
                month: m,
                number: number.clone(),
                micros,
            });
        }
    }
    out.reverse();
    Ok(out)
}
