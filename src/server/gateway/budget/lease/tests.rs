use super::*;
use crate::domain::budget::{Enforcement, Period};
use crate::domain::tenant::TenantId;

fn budget() -> Budget {
    Budget {
        id: "b".into(),
        tenant_id: TenantId::parse("00000000-0000-4000-8000-000000000001").expect("id"),
        api_key_id: None,
        api_key_name: None,
        limit_micros: 1_000_000_000,
        period: Period::Month,
        enforcement: Enforcement::Hard,
        webhook_url: None,
        updated_at: 0,
    }
}

#[test]
fn holds_come_from_the_lease_and_costs_move_to_spend_on_flush() {
    let leases = Leases::default();
    let b = budget();
    assert_eq!(leases.take(&b, 10), None, "no lease yet");
    leases.add(&b, "r1".into(), 100, 10);
    assert_eq!(leases.take(&b, 60).as_deref(), Some("r1"));
    assert_eq!(leases.take(&b, 40), None, "90 held of 100: 40 does not fit");
    // The first request cost 4 of its 10: 6 come back; the cost waits.
    leases.settle("b", "r1", 10, 4);
    assert_eq!(leases.take(&b, 36).as_deref(), Some("r1"));
    let now = Instant::now();
    let due = leases.due(now, false);
    assert_eq!(
        due,
        vec![Flush {
            budget: b.clone(),
            id: "r1".into(),
            in_redis: 100,
            consumed: 4,
            keep: Some(96)
        }]
    );
    assert!(
        leases.due(now, false).is_empty(),
        "one flush of a lease at a time"
    );
    leases.flushed(&due[0], false);
    assert!(leases.due(now, false).is_empty(), "nothing new to send");
    // In flight still: 60 + 36. Both end; the lease, used up, goes back.
    leases.settle("b", "r1", 60, 60);
    leases.settle("b", "r1", 36, 36);
    let due = leases.due(now, false);
    assert_eq!((due[0].consumed, due[0].keep), (96, None), "{due:?}");
    leases.flushed(&due[0], false);
    assert!(leases.map.lock().expect("lock").is_empty(), "given back");
}

#[test]
fn an_idle_or_lapsed_lease_is_given_back_and_takes_no_more_holds() {
    let leases = Leases::default();
    let b = budget();
    leases.add(&b, "r1".into(), 100, 10);
    leases.settle("b", "r1", 10, 10);
    let busy = leases.due(Instant::now(), false);
    assert!(busy[0].keep.is_some(), "busy: kept");
    leases.flushed(&busy[0], false);
    let later = Instant::now() + IDLE;
    let due = leases.due(later, false);
    assert_eq!(due[0].keep, None, "idle: given back");
    assert_eq!(leases.take(&b, 1), None, "retired while it goes back");
    leases.flushed(&due[0], false);
    assert!(leases.map.lock().expect("lock").is_empty());

    leases.add(&b, "r2".into(), 100, 10);
    let due = leases.due(Instant::now(), false);
    assert!(due.is_empty(), "nothing settled, nothing idle");
    leases.settle("b", "r2", 10, 5);
    let due = leases.due(Instant::now(), false);
    leases.flushed(&due[0], true);
    assert_eq!(leases.take(&b, 1), None, "lapsed in Redis: no more holds");
}

#[test]
fn a_cost_at_the_cap_retires_the_lease_without_wrapping() {
    let leases = Leases::default();
    let b = budget();
    leases.add(&b, "r1".into(), 100, 10);
    assert_eq!(leases.take(&b, 20).as_deref(), Some("r1"));
    // A provider's absurd usage prices at the cap (`cost` saturates): the
    // lease's sums saturate too, and it takes no more holds.
    leases.settle("b", "r1", 10, i64::MAX);
    leases.settle("b", "r1", 20, i64::MAX);
    assert_eq!(leases.take(&b, 1), None, "retired");
    let due = leases.due(Instant::now(), false);
    assert_eq!((due[0].consumed, due[0].keep), (i64::MAX, None), "{due:?}");
    leases.flushed(&due[0], false);
    assert!(leases.map.lock().expect("lock").is_empty(), "given back");
}
