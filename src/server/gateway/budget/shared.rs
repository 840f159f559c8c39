//! Budget counts in Redis, shared by every replica. Per budget: a counter
//! per UTC day, and a sorted set of in-flight reservations (`AMOUNT:REQUEST`,
//! scored by when they lapse, so a crashed replica's holds expire). Check
//! and hold is one Lua script, atomic in Redis. The counters are seeded
//! from the ledger once (`seeded:PERIOD` marks it); Redis keeps nothing on
//! disk here, so after its restart the first request seeds them again.

use redis::aio::ConnectionManager;
use redis::Script;

use super::{load, Held, Spent};
use crate::domain::budget::{Budget, Day};
use crate::domain::pricing::Micros;
use crate::domain::time::now_millis;
use crate::server::gateway::error::GatewayError;
use crate::server::services::Services;

/// A reservation lapses after this long: longer than any request lasts.
const HOLD_MS: i64 = 15 * 60 * 1000;
/// Day counters outlive the longest period.
const DAY_TTL_S: i64 = 400 * 86_400;

/// -1: not seeded yet. 0: refused, with spend and holds. 1: held.
const RESERVE_LUA: &str = r#"
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1, 0, 0} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local amount = tonumber(ARGV[2])
if amount == 0 then return {1, 0, 0} end
local held = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  held = held + tonumber(string.match(m, '^(%d+):'))
end
local spent = 0
for d = tonumber(ARGV[6]), tonumber(ARGV[7]) do
  spent = spent + tonumber(redis.call('GET', ARGV[5] .. d) or '0')
end
if spent + held + amount > tonumber(ARGV[1]) then return {0, spent, held} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) * 2)
return {1, spent, held}
"#;

/// Days already counted (by requests settled since Redis started) are
/// kept: `NX`. Returns 1 when this call seeded.
const SEED_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 3, #ARGV, 2 do
  redis.call('SET', ARGV[1] .. ARGV[i], ARGV[i + 1], 'NX', 'EX', tonumber(ARGV[2]))
end
redis.call('SET', KEYS[1], '1')
return 1
"#;

/// Drops the hold, counts the cost today, returns the period's spend.
const SETTLE_LUA: &str = r#"
redis.call('ZREM', KEYS[1], ARGV[1])
local cost = tonumber(ARGV[3])
if cost > 0 then
  redis.call('INCRBY', ARGV[2], cost)
  redis.call('EXPIRE', ARGV[2], tonumber(ARGV[4]))
end
local spent = 0
for d = tonumber(ARGV[6]), tonumber(ARGV[7]) do
  spent = spent + tonumber(redis.call('GET', ARGV[5] .. d) or '0')
end
return spent
"#;

/// Keys share the budget id as hash tag, so a cluster keeps them together.
fn prefix(budget: &Budget) -> String {
    format!("atrium:budget:{{{}}}:", budget.id)
}

pub(super) enum Failure {
    Redis(redis::RedisError),
    Load(GatewayError),
}

impl From<redis::RedisError> for Failure {
    fn from(e: redis::RedisError) -> Self {
        Failure::Redis(e)
    }
}

pub(super) async fn reserve(
    svc: &Services,
    mut conn: ConnectionManager,
    budget: &Budget,
    amount: Micros,
    member: &str,
) -> Result<Result<(), Spent>, Failure> {
    let p = prefix(budget);
    let (first, last) = budget.period.days(now_millis());
    let seeded = format!("{p}seeded:{}", budget.period);
    for _ in 0..2 {
        let (ok, spent, held): (i64, i64, i64) = Script::new(RESERVE_LUA)
            .key(format!("{p}held"))
            .key(&seeded)
            .arg(budget.limit_micros)
            .arg(amount)
            .arg(member)
            .arg(HOLD_MS)
            .arg(format!("{p}d:"))
            .arg(first)
            .arg(last)
            .invoke_async(&mut conn)
            .await?;
        match ok {
            1 => return Ok(Ok(())),
            0 => return Ok(Err(Spent { spent, held })),
            _ => seed(svc, &mut conn, budget, &seeded).await?,
        }
    }
    Err(Failure::Load(GatewayError::Internal(format!(
        "budget {} could not be seeded in Redis",
        budget.id
    ))))
}

async fn seed(
    svc: &Services,
    conn: &mut ConnectionManager,
    budget: &Budget,
    seeded: &str,
) -> Result<(), Failure> {
    let days = load(svc, budget).await.map_err(Failure::Load)?;
    let script = Script::new(SEED_LUA);
    let mut invocation = script.prepare_invoke();
    invocation
        .key(seeded)
        .arg(format!("{}d:", prefix(budget)))
        .arg(DAY_TTL_S);
    for (day, micros) in days {
        invocation.arg(day).arg(micros);
    }
    let _: i64 = invocation.invoke_async(conn).await?;
    Ok(())
}

/// Settles one hold; `None` if Redis could not be reached (the hold then
/// lapses on its own, and the ledger still has the cost).
pub(super) async fn settle(
    mut conn: ConnectionManager,
    h: &Held,
    cost: Micros,
    today: Day,
) -> Option<Micros> {
    let p = prefix(&h.budget);
    let (first, last) = h.budget.period.days(now_millis());
    let spent: Result<i64, _> = Script::new(SETTLE_LUA)
        .key(format!("{p}held"))
        .arg(&h.member)
        .arg(format!("{p}d:{today}"))
        .arg(cost)
        .arg(DAY_TTL_S)
        .arg(format!("{p}d:"))
        .arg(first)
        .arg(last)
        .invoke_async(&mut conn)
        .await;
    match spent {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, budget_id = %h.budget.id, "budget settle in Redis failed");
            None
        }
    }
}
