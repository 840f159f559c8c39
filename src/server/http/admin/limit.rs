//! Each admin token's requests per minute (GCRA), and each client
//! address's failed authentications: in Redis when it is configured, so
//! every replica counts against one limit, otherwise in this process. A
//! runaway script holding one token cannot crowd out the portal or other
//! tokens, and a guesser is refused before any database lookup.

use std::collections::HashMap;
use std::sync::Mutex;

use redis::aio::ConnectionManager;
use redis::Script;

use crate::domain::admin_token::AdminToken;
use crate::domain::gcra::{self, Decision, Limit};
use crate::domain::time::now_ms_f64;

const TAKE_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = 60000 / tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local used = new_tat - now
if used > 60000 then return tostring(used - 60000) end
if ARGV[2] == 'refund' then
  redis.call('SET', KEYS[1], tostring(math.max(now, tat - interval)), 'PX', 61000)
  return '0'
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(used) + 1000)
return '0'
"#;

/// Tokens and addresses tracked in-process before the idle ones are
/// forgotten.
const MAX_LOCAL: usize = 10_000;

/// Failed authentications an address may make a minute; a script with a
/// mistyped token notices long before this, a guesser is slowed to it.
pub const FAILURES_PER_MINUTE: i64 = 120;

/// Whether a take counts one, or gives one back.
#[derive(Clone, Copy, PartialEq)]
enum Take {
    Count,
    Refund,
}

pub struct TokenLimiter {
    local: Mutex<HashMap<String, f64>>,
    redis: Option<ConnectionManager>,
}

impl TokenLimiter {
    pub fn new(redis: Option<ConnectionManager>) -> Self {
        Self {
            local: Mutex::new(HashMap::new()),
            redis,
        }
    }

    /// Takes one request from the token, or says how many seconds to wait.
    pub async fn take(&self, token: &AdminToken) -> Result<(), u64> {
        let key = format!("atrium:adm:{{{}}}", token.id);
        self.take_key(&key, token.rate_per_minute, Take::Count)
            .await
    }

    /// Counts an authentication attempt from an address (an IPv4 address
    /// or IPv6 /64) before its token is looked up, refusing one over the
    /// limit; counting first means concurrent guesses cannot all pass one
    /// check. A caller that then authenticates gives it back (`succeeded`).
    pub async fn attempt(&self, prefix: &str) -> Result<(), u64> {
        self.take_key(&failure_key(prefix), FAILURES_PER_MINUTE, Take::Count)
            .await
    }

    /// Gives back the attempt of a caller that authenticated: only
    /// failures stay counted.
    pub async fn succeeded(&self, prefix: &str) {
        let _ = self
            .take_key(&failure_key(prefix), FAILURES_PER_MINUTE, Take::Refund)
            .await;
    }

    async fn take_key(&self, key: &str, per_minute: i64, how: Take) -> Result<(), u64> {
        if let Some(conn) = &self.redis {
            match take_redis(conn.clone(), key, per_minute, how).await {
                Ok(wait_ms) if wait_ms > 0.0 => return Err(seconds(wait_ms)),
                Ok(_) => return Ok(()),
                Err(e) => {
                    tracing::warn!(error = %e, "redis unavailable; limiting admin calls in-process")
                }
            }
        }
        self.take_local(key, per_minute, how)
    }

    fn take_local(&self, key: &str, per_minute: i64, how: Take) -> Result<(), u64> {
        let limit = Limit { per_minute };
        let now = now_ms_f64();
        let mut map = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let tat = map.get(key).copied().unwrap_or(0.0);
        if how == Take::Refund {
            map.insert(key.to_string(), gcra::settle(limit, tat, now, -1));
            return Ok(());
        }
        match gcra::check(limit, tat, now, 1) {
            Decision::Allow { tat, .. } => {
                make_room(&mut map, now);
                map.insert(key.to_string(), tat);
                Ok(())
            }
            Decision::Deny { retry_after_ms } => Err(seconds(retry_after_ms)),
        }
    }
}

/// Bounds the in-process map: idle entries go first; if every entry is
/// live (many addresses at once), an arbitrary one goes, so memory and the
/// time under the lock stay bounded whatever clients do.
fn make_room(map: &mut HashMap<String, f64>, now: f64) {
    if map.len() < MAX_LOCAL {
        return;
    }
    map.retain(|_, tat| *tat > now);
    while map.len() >= MAX_LOCAL {
        let Some(victim) = map.keys().next().cloned() else {
            break;
        };
        map.remove(&victim);
    }
}

/// The address is normalised (a prefix), never the raw header text.
fn failure_key(prefix: &str) -> String {
    format!("atrium:admfail:{{{prefix}}}")
}

async fn take_redis(
    mut conn: ConnectionManager,
    key: &str,
    per_minute: i64,
    how: Take,
) -> redis::RedisResult<f64> {
    let wait: String = Script::new(TAKE_LUA)
        .key(key)
        .arg(per_minute.max(1))
        .arg(if how == Take::Refund {
            "refund"
        } else {
            "count"
        })
        .invoke_async(&mut conn)
        .await?;
    Ok(wait.parse().unwrap_or(0.0))
}

fn seconds(ms: f64) -> u64 {
    if ms.is_finite() {
        (ms / 1000.0).ceil().max(1.0) as u64
    } else {
        60
    }
}
