//! The generic cell rate algorithm: one number (the theoretical arrival
//! time) per limit, so checks are O(1) and the same math runs in-process
//! and in Redis.

/// A limit of `per_minute` units, allowed to burst up to a full minute's worth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub per_minute: i64,
}

impl Limit {
    /// Milliseconds one unit "costs".
    pub fn interval_ms(&self) -> f64 {
        60_000.0 / self.per_minute.max(1) as f64
    }

    pub fn burst_ms(&self) -> f64 {
        60_000.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Admitted; the new state and how many units remain right now.
    Allow {
        tat: f64,
        remaining: i64,
        reset_ms: f64,
    },
    /// Refused; retry after this many milliseconds.
    Deny { retry_after_ms: f64 },
}

/// Decides whether `cost` units fit, given the stored `tat` (0 when new).
pub fn check(limit: Limit, tat: f64, now_ms: f64, cost: i64) -> Decision {
    let interval = limit.interval_ms();
    let burst = limit.burst_ms();
    let base = tat.max(now_ms);
    let new_tat = base + cost.max(0) as f64 * interval;
    let used = new_tat - now_ms;
    if used > burst + 1e-6 {
        // A cost larger than a whole minute can never fit; say so plainly.
        let retry = if cost as f64 * interval > burst {
            f64::INFINITY
        } else {
            used - burst
        };
        return Decision::Deny {
            retry_after_ms: retry,
        };
    }
    Decision::Allow {
        tat: new_tat,
        remaining: ((burst - used) / interval).floor() as i64,
        reset_ms: used,
    }
}

/// Moves the state by a correction in units (positive: more was used than
/// reserved; negative: refund), never into the past.
pub fn settle(limit: Limit, tat: f64, now_ms: f64, delta: i64) -> f64 {
    (tat + delta as f64 * limit.interval_ms()).max(now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(d: Decision) -> (f64, i64) {
        match d {
            Decision::Allow { tat, remaining, .. } => (tat, remaining),
            Decision::Deny { .. } => panic!("expected allow, got {d:?}"),
        }
    }

    #[test]
    fn admits_exactly_the_limit_in_a_burst() {
        let l = Limit { per_minute: 60 };
        let mut tat = 0.0;
        for i in 0..60 {
            let (t, remaining) = allow(check(l, tat, 1_000.0, 1));
            tat = t;
            assert_eq!(remaining, 59 - i);
        }
        assert!(matches!(check(l, tat, 1_000.0, 1), Decision::Deny { .. }));
    }

    #[test]
    fn refills_over_time() {
        let l = Limit { per_minute: 60 };
        let mut tat = 0.0;
        for _ in 0..60 {
            tat = allow(check(l, tat, 0.0, 1)).0;
        }
        match check(l, tat, 0.0, 1) {
            Decision::Deny { retry_after_ms } => assert!((retry_after_ms - 1000.0).abs() < 1.0),
            d => panic!("{d:?}"),
        }
        assert!(matches!(check(l, tat, 1_000.0, 1), Decision::Allow { .. }));
    }

    #[test]
    fn weighted_costs_and_settlement() {
        let l = Limit { per_minute: 1000 };
        let (tat, remaining) = allow(check(l, 0.0, 0.0, 800));
        assert_eq!(remaining, 200);
        assert!(matches!(check(l, tat, 0.0, 300), Decision::Deny { .. }));
        // Only 100 of the 800 reserved were used: refund 700.
        let tat = settle(l, tat, 0.0, -700);
        assert_eq!(allow(check(l, tat, 0.0, 300)).1, 600);
    }

    #[test]
    fn oversize_cost_is_never_admitted() {
        let l = Limit { per_minute: 10 };
        match check(l, 0.0, 0.0, 11) {
            Decision::Deny { retry_after_ms } => assert!(retry_after_ms.is_infinite()),
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn settle_never_goes_into_the_past() {
        let l = Limit { per_minute: 60 };
        assert_eq!(settle(l, 100.0, 5_000.0, -10), 5_000.0);
    }
}
