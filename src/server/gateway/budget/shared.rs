//! Budget counts in Redis, shared by every replica. Per budget: a counter
//! per UTC day and one per month, the in-flight reservations (a sorted set
//! of `AMOUNT:REQUEST` scored by when they lapse, so a crashed replica's
//! holds expire) and their running sum. Check and hold is one Lua script,
//! atomic in Redis, of a handful of commands: a month budget reads one
//! counter, a rolling one sums its days. The counters are seeded from the
//! ledger once (`seeded:PERIOD` marks it); Redis keeps nothing on disk
//! here, so after its restart the first request seeds them again.

use std::sync::LazyLock;

use redis::aio::ConnectionManager;
use redis::Script;

use super::lease::Flush;
use super::{load, Spent};
use crate::domain::budget::{Budget, Day, Period};
use crate::domain::pricing::Micros;
use crate::domain::time::now_millis;
use crate::server::gateway::error::GatewayError;
use crate::server::services::Services;

/// One budget's settles of one day in a batch.
pub(super) struct Group {
    pub budget: Budget,
    pub today: Day,
    /// Each hold's member (`AMOUNT:REQUEST`).
    pub members: Vec<String>,
    pub cost: Micros,
}

/// A reservation lapses after this long: longer than any request lasts.
const HOLD_MS: i64 = 15 * 60 * 1000;
/// Day and month counters outlive the longest period.
const DAY_TTL_S: i64 = 400 * 86_400;

/// The period's spend: one month counter, or the sum of its days.
const SPENT_LUA: &str = r#"
local function spent(month_key, prefix, first, last)
  if month_key ~= '' then return tonumber(redis.call('GET', month_key) or '0') end
  local s = 0
  for d = tonumber(first), tonumber(last) do
    s = s + tonumber(redis.call('GET', prefix .. d) or '0')
  end
  return s
end
"#;

/// Counts `cost` spent today (day and month counters, kept `ttl` s) and
/// renews the holds' expiry: the end of every settle.
const COUNT_LUA: &str = r#"
local function count(cost, ttl, day_key, month_key, holds, held_sum, hold_ms)
  if cost > 0 then
    redis.call('INCRBY', day_key, cost)
    redis.call('EXPIRE', day_key, ttl)
    redis.call('INCRBY', month_key, cost)
    redis.call('EXPIRE', month_key, ttl)
  end
  redis.call('PEXPIRE', holds, hold_ms * 2)
  redis.call('PEXPIRE', held_sum, hold_ms * 2)
end
"#;

/// KEYS: holds, seeded marker, sum of holds. ARGV: limit, amount, hold
/// id, hold ms, day prefix, first day, last day, month key ('' if
/// rolling), now (ms), lease factor (0: no lease). Returns -1: not seeded
/// yet; 0: refused, with spend and holds; 1: held, with what was granted
/// (more than the amount: a lease, see `lease`). The hold's member is
/// `GRANTED:ID`. Lean, as it runs on every request that has no lease: the
/// keys' expiry is renewed by settles, and here when a hold starts them.
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{SPENT_LUA}{}",
        r#"
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1, 0, 0, 0} end
local amount = tonumber(ARGV[2])
if amount == 0 then return {1, 0, 0, 0} end
local now = tonumber(ARGV[9])
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  redis.call('DECRBY', KEYS[3], tonumber(string.match(m, '^(%d+):')))
  redis.call('ZREM', KEYS[1], m)
end
local held = tonumber(redis.call('GET', KEYS[3]) or '0')
local s = spent(ARGV[8], ARGV[5], ARGV[6], ARGV[7])
local room = tonumber(ARGV[1]) - s - held
if amount > room then return {0, s, held, 0} end
local grant = amount
local f = tonumber(ARGV[10])
if f > 0 and room >= f * amount then grant = math.floor(room / f) end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), string.format('%d:%s', grant, ARGV[3]))
redis.call('INCRBY', KEYS[3], grant)
if held == 0 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) * 2)
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[4]) * 2)
end
return {1, s, held, grant}
"#
    ))
});

/// KEYS: seeded marker. ARGV: day prefix, ttl, month key ('' if rolling),
/// month total, then day/amount pairs. Counters already there (requests
/// settled since Redis started) are kept: `NX`.
static SEED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 5, #ARGV, 2 do
  redis.call('SET', ARGV[1] .. ARGV[i], ARGV[i + 1], 'NX', 'EX', tonumber(ARGV[2]))
end
if ARGV[3] ~= '' then redis.call('SET', ARGV[3], ARGV[4], 'NX', 'EX', tonumber(ARGV[2])) end
redis.call('SET', KEYS[1], '1')
return 1
"#,
    )
});

/// KEYS: holds, sum of holds. ARGV: cost, ttl, day key, month key, day
/// prefix, first, last, period's month key ('' if rolling), hold ms, then
/// the members (`AMOUNT:REQUEST`). Drops the holds (those still there: a
/// lapsed one was already given back), counts the cost today, returns the
/// spend.
static SETTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{SPENT_LUA}{COUNT_LUA}{}",
        r#"
for i = 10, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('DECRBY', KEYS[2], tonumber(string.match(ARGV[i], '^(%d+):')))
  end
end
count(tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], KEYS[1], KEYS[2],
  tonumber(ARGV[9]))
return spent(ARGV[8], ARGV[5], ARGV[6], ARGV[7])
"#
    ))
});

/// KEYS: sum of holds. ARGV: day prefix, first, last, period's month key.
/// Returns the period's spend and what is held, read at one moment.
static OBSERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{SPENT_LUA}{}",
        r#"
return {spent(ARGV[4], ARGV[1], ARGV[2], ARGV[3]), tonumber(redis.call('GET', KEYS[1]) or '0')}
"#
    ))
});

/// A budget's spend in its period and its holds (leases included), as
/// Redis counts them now.
pub(super) async fn observe(
    mut conn: ConnectionManager,
    budget: &Budget,
) -> redis::RedisResult<(Micros, Micros)> {
    let p = prefix(budget);
    let (first, last) = budget.period.days(now_millis());
    OBSERVE
        .key(format!("{p}held_sum"))
        .arg(format!("{p}d:"))
        .arg(first)
        .arg(last)
        .arg(period_month_key(&p, budget, first))
        .invoke_async(&mut conn)
        .await
}

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

/// The counter of the month that starts on `first` (a day number).
fn month_key(p: &str, first: Day) -> String {
    format!("{p}m:{first}")
}

/// The period's month counter, or '' for a rolling period.
fn period_month_key(p: &str, budget: &Budget, first: Day) -> String {
    match budget.period {
        Period::Month => month_key(p, first),
        Period::Days(_) => String::new(),
    }
}

/// Holds `amount` under `id` (or, with `lease` and room enough, a lease);
/// what Redis granted, or the spend and holds that refused it.
pub(super) async fn reserve(
    svc: &Services,
    mut conn: ConnectionManager,
    budget: &Budget,
    amount: Micros,
    id: &str,
    lease: bool,
) -> Result<Result<Micros, Spent>, Failure> {
    let p = prefix(budget);
    let (first, last) = budget.period.days(now_millis());
    let seeded = format!("{p}seeded:{}", budget.period);
    for _ in 0..2 {
        let (ok, spent, held, granted): (i64, i64, i64, i64) = RESERVE
            .key(format!("{p}held"))
            .key(&seeded)
            .key(format!("{p}held_sum"))
            .arg(budget.limit_micros)
            .arg(amount)
            .arg(id)
            .arg(HOLD_MS)
            .arg(format!("{p}d:"))
            .arg(first)
            .arg(last)
            .arg(period_month_key(&p, budget, first))
            .arg(now_millis())
            .arg(if lease { super::lease::FACTOR } else { 0 })
            .invoke_async(&mut conn)
            .await?;
        match ok {
            1 => return Ok(Ok(granted)),
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
    let p = prefix(budget);
    let (first, _) = budget.period.days(now_millis());
    let mut invocation = SEED.prepare_invoke();
    invocation
        .key(seeded)
        .arg(format!("{p}d:"))
        .arg(DAY_TTL_S)
        .arg(period_month_key(&p, budget, first))
        .arg(days.iter().map(|(_, m)| m).sum::<Micros>());
    for (day, micros) in days {
        invocation.arg(day).arg(micros);
    }
    let _: i64 = invocation.invoke_async(conn).await?;
    Ok(())
}

/// Settles a batch of one budget's holds; `None` if Redis could not be
/// reached (the holds then lapse on their own, and the ledger still has
/// the cost).
pub(super) async fn settle(mut conn: ConnectionManager, g: &Group) -> Option<Micros> {
    let p = prefix(&g.budget);
    let now = now_millis();
    let (first, last) = g.budget.period.days(now);
    let (this_month, _) = Period::Month.days(now);
    let mut invocation = SETTLE.prepare_invoke();
    invocation
        .key(format!("{p}held"))
        .key(format!("{p}held_sum"))
        .arg(g.cost)
        .arg(DAY_TTL_S)
        .arg(format!("{p}d:{}", g.today))
        .arg(month_key(&p, this_month))
        .arg(format!("{p}d:"))
        .arg(first)
        .arg(last)
        .arg(period_month_key(&p, &g.budget, first))
        .arg(HOLD_MS);
    for member in &g.members {
        invocation.arg(member);
    }
    match invocation.invoke_async::<i64>(&mut conn).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, budget_id = %g.budget.id, "budget settle in Redis failed");
            None
        }
    }
}

/// KEYS: holds, sum of holds. ARGV: cost, ttl, day key, month key, day
/// prefix, first, last, period's month key ('' if rolling), hold ms, the
/// lease's member, its new amount (0: give it back), its id, now. Moves
/// the lease's consumption to spend and renames the lease to its new
/// amount (renewing its lapse), or drops it. Returns the period's spend
/// and 1 if the lease had lapsed.
static LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{SPENT_LUA}{COUNT_LUA}{}",
        r#"
local lapsed = 1
if redis.call('ZREM', KEYS[1], ARGV[10]) == 1 then
  lapsed = 0
  redis.call('DECRBY', KEYS[2], tonumber(string.match(ARGV[10], '^(%d+):')))
  local keep = tonumber(ARGV[11])
  if keep > 0 then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[13]) + tonumber(ARGV[9]),
      string.format('%d:%s', keep, ARGV[12]))
    redis.call('INCRBY', KEYS[2], keep)
  end
end
count(tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], KEYS[1], KEYS[2],
  tonumber(ARGV[9]))
return {spent(ARGV[8], ARGV[5], ARGV[6], ARGV[7]), lapsed}
"#
    ))
});

/// Applies one lease flush; the period's spend after it and whether the
/// lease had lapsed, or `None` if Redis could not be reached (the flush
/// is tried again next time).
pub(super) async fn flush_lease(
    mut conn: ConnectionManager,
    f: &Flush,
    today: Day,
) -> Option<(Micros, bool)> {
    let p = prefix(&f.budget);
    let now = now_millis();
    let (first, last) = f.budget.period.days(now);
    let (this_month, _) = Period::Month.days(now);
    let done: Result<(i64, i64), _> = LEASE
        .key(format!("{p}held"))
        .key(format!("{p}held_sum"))
        .arg(f.consumed)
        .arg(DAY_TTL_S)
        .arg(format!("{p}d:{today}"))
        .arg(month_key(&p, this_month))
        .arg(format!("{p}d:"))
        .arg(first)
        .arg(last)
        .arg(period_month_key(&p, &f.budget, first))
        .arg(HOLD_MS)
        .arg(format!("{}:{}", f.in_redis, f.id))
        .arg(f.keep.unwrap_or(0))
        .arg(&f.id)
        .arg(now)
        .invoke_async(&mut conn)
        .await;
    match done {
        Ok((spent, lapsed)) => Some((spent, lapsed == 1)),
        Err(e) => {
            tracing::warn!(error = %e, budget_id = %f.budget.id, "budget lease flush in Redis failed");
            None
        }
    }
}
