//! Sign-in throttling with exponential back-off.
//!
//! Three keys are throttled on each attempt: the account from one address
//! prefix (tight: a guesser at one place), the address prefix (any account),
//! and the account from anywhere (loose, with a short cap: it slows a
//! distributed guesser but can never lock the real owner out for long, so
//! nobody can keep `admin@…` out of the portal by failing on purpose).
//!
//! An attempt is claimed, pessimistically counted as a failure, by one
//! conditional UPDATE *before* the password is checked; a success gives the
//! claim back. So concurrent guesses cannot all pass a check made before
//! any of them is recorded.

use serde_json::json;
use std::net::IpAddr;

use super::audit::{self, Entry};
use super::{Actor, Result, ServiceError, Services};
use crate::domain::audit::{AuditAction, AuditStatus};
use crate::domain::time::{now_millis, MINUTE, SECOND};

/// A key whose last failure is older than this starts again from zero.
const WINDOW: i64 = 15 * MINUTE;
const BASE_DELAY: i64 = SECOND;

struct Rule {
    /// Failures allowed before the back-off starts.
    free: i64,
    /// The longest wait the back-off reaches.
    cap: i64,
}

const ACCOUNT_FROM_ADDRESS: Rule = Rule {
    free: 5,
    cap: 15 * MINUTE,
};
const ADDRESS: Rule = Rule {
    free: 20,
    cap: 15 * MINUTE,
};
const ACCOUNT: Rule = Rule {
    free: 10,
    cap: MINUTE,
};

/// The attempt's claims, to give back if the password was right.
pub struct Claim {
    account: String,
    account_from_address: String,
    address: String,
}

/// Which clients count as one: an IPv4 address, or an IPv6 /64 (one
/// subscriber gets a whole /64, so single addresses are free to rotate).
pub fn client_prefix(client_ip: &str) -> String {
    match client_ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V6(v6)) => v6.to_canonical().to_string(),
        Ok(ip) => ip.to_string(),
        // Not an address (no peer known): all such clients share one key.
        Err(_) => "unknown".into(),
    }
}

/// Claims one attempt on every key, narrowest first, or refuses with how
/// long to wait. `email` is already truncated and lower-cased.
pub async fn claim(svc: &Services, attempt: &Actor, email: &str, client_ip: &str) -> Result<Claim> {
    let prefix = client_prefix(client_ip);
    let claim = Claim {
        account: format!("account:{email}"),
        account_from_address: format!("account:{email}|{prefix}"),
        address: format!("address:{prefix}"),
    };
    let now = now_millis();
    prune_now_and_then(svc, now).await?;
    for (key, rule) in [
        (&claim.account_from_address, &ACCOUNT_FROM_ADDRESS),
        (&claim.address, &ADDRESS),
        (&claim.account, &ACCOUNT),
    ] {
        if !take(svc, key, rule, now).await? {
            return Err(refuse(svc, attempt, key, now).await?);
        }
    }
    Ok(claim)
}

/// The password was right: the account's counts start again, and the
/// address gets back the one failure this attempt was charged.
pub async fn release(svc: &Services, claim: &Claim) -> Result<()> {
    sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1 OR key = $2")
        .bind(&claim.account)
        .bind(&claim.account_from_address)
        .execute(&svc.db.pool)
        .await?;
    sqlx::query(
        "UPDATE sign_in_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0",
    )
    .bind(&claim.address)
    .execute(&svc.db.pool)
    .await?;
    Ok(())
}

/// Counts a failure on `key` unless it is waiting out a back-off. Every SET
/// expression reads the row as it was, so this is one atomic step.
async fn take(svc: &Services, key: &str, rule: &Rule, now: i64) -> Result<bool> {
    // A new row is stamped `now`, so pruning (which drops rows quiet for a
    // whole window) cannot remove it between this insert and the claim.
    sqlx::query(
        "INSERT INTO sign_in_throttle (key, failures, delay_ms, next_at, last_at, denied, audited_at) \
         VALUES ($1, 0, $2, 0, $3, 0, 0) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(BASE_DELAY)
    .bind(now)
    .execute(&svc.db.pool)
    .await?;
    let taken = sqlx::query(
        "UPDATE sign_in_throttle SET \
           failures = CASE WHEN last_at < $2 THEN 1 ELSE failures + 1 END, \
           next_at = CASE WHEN last_at >= $2 AND failures + 1 >= $3 THEN $1 + delay_ms ELSE 0 END, \
           delay_ms = CASE WHEN last_at < $2 THEN $4 \
                           WHEN failures + 1 >= $3 THEN \
                             CASE WHEN delay_ms * 2 > $5 THEN $5 ELSE delay_ms * 2 END \
                           ELSE delay_ms END, \
           last_at = $1 \
         WHERE key = $6 AND next_at <= $1",
    )
    .bind(now)
    .bind(now - WINDOW)
    .bind(rule.free)
    .bind(BASE_DELAY)
    .bind(rule.cap)
    .bind(key)
    .execute(&svc.db.pool)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// The refusal, audited once per key and window: a flood of throttled
/// attempts becomes one event that says how many were suppressed.
async fn refuse(svc: &Services, attempt: &Actor, key: &str, now: i64) -> Result<ServiceError> {
    let next_at: Option<i64> =
        sqlx::query_scalar("SELECT next_at FROM sign_in_throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(&svc.db.pool)
            .await?;
    // Gone only if pruned since the claim failed: the wait is over.
    let next_at = next_at.unwrap_or(now);
    let suppressed: Option<i64> = sqlx::query_scalar(
        "UPDATE sign_in_throttle SET denied = 0, audited_at = $1 \
         WHERE key = $2 AND audited_at <= $3 RETURNING denied",
    )
    .bind(now)
    .bind(key)
    .bind(now - WINDOW)
    .fetch_optional(&svc.db.pool)
    .await?;
    let wait_secs = ((next_at - now).max(0) + SECOND - 1) / SECOND;
    match suppressed {
        Some(suppressed) => {
            let scope = key.split(':').next().unwrap_or("address");
            // The typed e-mail is audited as the attempt's keyed hash.
            let entry = Entry::success(AuditAction::AuthSignIn, "user", &attempt.label)
                .status(AuditStatus::Denied)
                .details(json!({
                    "reason": "throttled",
                    "throttled_by": scope,
                    "retry_after_secs": wait_secs,
                    "suppressed_since_last_event": suppressed,
                }));
            audit::append(svc, attempt, entry).await?;
        }
        None => {
            sqlx::query("UPDATE sign_in_throttle SET denied = denied + 1 WHERE key = $1")
                .bind(key)
                .execute(&svc.db.pool)
                .await?;
        }
    }
    Ok(ServiceError::TooManyAttempts(format!(
        "too many failed sign-ins; try again in {wait_secs} s"
    )))
}

/// Rows for keys that have gone quiet are dropped on about one attempt in
/// 64, so random e-mail addresses cannot grow the table without bound.
async fn prune_now_and_then(svc: &Services, now: i64) -> Result<()> {
    if uuid::Uuid::new_v4().as_bytes()[0] >= 4 {
        return Ok(());
    }
    sqlx::query(
        "DELETE FROM sign_in_throttle WHERE last_at < $1 AND next_at < $2 AND audited_at < $1",
    )
    .bind(now - WINDOW)
    .bind(now)
    .execute(&svc.db.pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::client_prefix;

    #[test]
    fn ipv6_clients_count_by_their_64() {
        assert_eq!(client_prefix("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            client_prefix("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            client_prefix("2001:db8:1:2::9")
        );
        assert_ne!(
            client_prefix("2001:db8:1:3::1"),
            client_prefix("2001:db8:1:2::1")
        );
    }

    #[test]
    fn ipv4_and_mapped_addresses_stay_whole() {
        assert_eq!(client_prefix("203.0.113.7"), "203.0.113.7");
        assert_eq!(client_prefix("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(client_prefix("not an address"), "unknown");
    }
}
