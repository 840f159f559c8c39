//! Each admin token's requests per minute (GCRA): in Redis when it is
//! configured, so every replica counts against one limit, otherwise in
//! this process. A runaway script holding one token cannot crowd out the
//! portal or other tokens.

use std::collections::HashMap;
use std::sync::Mutex;

use redis::aio::ConnectionManager;
use redis::Script;

use crate::domain::admin_token::AdminToken;
use crate::domain::gcra::{self, Decision, Limit};

const TAKE_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = 60000 / tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local used = new_tat - now
if used > 60000 then return tostring(used - 60000) end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(used) + 1000)
return '0'
"#;

/// Tokens tracked in-process before the idle ones are forgotten.
const MAX_LOCAL: usize = 10_000;

pub struct TokenLimiter {
    local: Mutex<HashMap<String, f64>>,
    redis: Option<ConnectionManager>,
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
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
        if let Some(conn) = &self.redis {
            match self.take_redis(conn.clone(), token).await {
                Ok(wait_ms) if wait_ms > 0.0 => return Err(seconds(wait_ms)),
                Ok(_) => return Ok(()),
                Err(e) => {
                    tracing::warn!(error = %e, "redis unavailable; limiting admin tokens in-process")
                }
            }
        }
        self.take_local(token)
    }

    async fn take_redis(
        &self,
        mut conn: ConnectionManager,
        token: &AdminToken,
    ) -> redis::RedisResult<f64> {
        let wait: String = Script::new(TAKE_LUA)
            .key(format!("atrium:adm:{{{}}}", token.id))
            .arg(token.rate_per_minute.max(1))
            .invoke_async(&mut conn)
            .await?;
        Ok(wait.parse().unwrap_or(0.0))
    }

    fn take_local(&self, token: &AdminToken) -> Result<(), u64> {
        let limit = Limit {
            per_minute: token.rate_per_minute,
        };
        let now = now_ms();
        let mut map = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_LOCAL {
            map.retain(|_, tat| *tat > now);
        }
        let tat = map.get(&token.id).copied().unwrap_or(0.0);
        match gcra::check(limit, tat, now, 1) {
            Decision::Allow { tat, .. } => {
                map.insert(token.id.clone(), tat);
                Ok(())
            }
            Decision::Deny { retry_after_ms } => Err(seconds(retry_after_ms)),
        }
    }
}

fn seconds(ms: f64) -> u64 {
    if ms.is_finite() {
        (ms / 1000.0).ceil().max(1.0) as u64
    } else {
        60
    }
}
