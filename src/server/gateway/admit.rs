//! Admission: per-tenant requests-per-minute and tokens-per-minute (GCRA).
//! In-process by default; shared through Redis when REDIS_URL is set, so
//! several replicas enforce one limit.

use crate::domain::tenant::TenantId;
use std::collections::HashMap;
use std::sync::Mutex;

use redis::aio::ConnectionManager;
use redis::Script;

use super::dialect::RateInfo;
use crate::domain::gcra::{self, Decision, Limit};
use crate::domain::tenant::Tenant;
use crate::domain::time::now_ms_f64;

pub struct Denied {
    pub retry_after_ms: f64,
    pub message: String,
}

#[derive(Default)]
struct LocalState {
    rpm_tat: f64,
    tpm_tat: f64,
}

pub struct Limiter {
    local: Mutex<HashMap<TenantId, LocalState>>,
    redis: Option<ConnectionManager>,
}

/// Both limits are checked and taken together, atomically, using Redis's
/// clock so replicas agree on time. Admission takes one request and no
/// tokens; the reservation after parsing takes tokens and no request.
const ADMIT_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local function step(key, per_min, cost)
  local interval = 60000 / per_min
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + cost * interval
  return new_tat, new_tat - now, interval
end
local r_tat, r_used, r_int = step(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[4]))
local t_tat, t_used, t_int = step(KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3]))
if r_used > 60000 or t_used > 60000 then
  return {0, tostring(math.max(r_used, t_used) - 60000), 0, '0', 0, '0'}
end
redis.call('SET', KEYS[1], tostring(r_tat), 'PX', math.ceil(r_used) + 1000)
redis.call('SET', KEYS[2], tostring(t_tat), 'PX', math.ceil(t_used) + 1000)
return {1, '0', math.floor((60000 - r_used) / r_int), tostring(r_used),
        math.floor((60000 - t_used) / t_int), tostring(t_used)}
"#;

const SETTLE_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local new_tat = math.max(tat + tonumber(ARGV[2]) * 60000 / tonumber(ARGV[1]), now)
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return 1
"#;

fn keys(tenant_id: &str) -> (String, String) {
    (
        format!("atrium:rl:{{{tenant_id}}}:rpm"),
        format!("atrium:rl:{{{tenant_id}}}:tpm"),
    )
}

impl Limiter {
    pub async fn connect(redis_url: Option<&str>) -> Result<Self, redis::RedisError> {
        let redis = match redis_url.filter(|u| !u.trim().is_empty()) {
            Some(url) => Some(ConnectionManager::new(redis::Client::open(url)?).await?),
            None => None,
        };
        Ok(Self {
            local: Mutex::new(HashMap::new()),
            redis,
        })
    }

    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// The Redis connection, for the budgets that share it.
    pub fn redis(&self) -> Option<ConnectionManager> {
        self.redis.clone()
    }

    /// Step 2 of the pipeline: takes one request before the body is read,
    /// so a request refused later (invalid, unknown model, blocked) has
    /// still spent its place in the tenant's requests per minute.
    pub async fn admit(&self, tenant: &Tenant) -> Result<RateInfo, Denied> {
        self.take(tenant, 1, 0).await
    }

    /// Reserves the parsed request's estimated tokens, or says when to retry.
    pub async fn reserve(&self, tenant: &Tenant, tokens: i64) -> Result<RateInfo, Denied> {
        if tokens > tenant.tpm_limit {
            return Err(Denied {
                retry_after_ms: 60_000.0,
                message: format!(
                    "this request needs about {tokens} tokens, more than the tenant's limit of {} tokens per minute",
                    tenant.tpm_limit
                ),
            });
        }
        self.take(tenant, 0, tokens).await
    }

    async fn take(&self, tenant: &Tenant, requests: i64, tokens: i64) -> Result<RateInfo, Denied> {
        match &self.redis {
            Some(conn) => match self
                .take_redis(conn.clone(), tenant, requests, tokens)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "redis rate limiter unavailable; limiting in-process");
                    self.take_local(tenant, requests, tokens)
                }
            },
            None => self.take_local(tenant, requests, tokens),
        }
    }

    fn take_local(&self, tenant: &Tenant, requests: i64, tokens: i64) -> Result<RateInfo, Denied> {
        let now = now_ms_f64();
        let rpm = Limit {
            per_minute: tenant.rpm_limit,
        };
        let tpm = Limit {
            per_minute: tenant.tpm_limit,
        };
        let mut map = self.local.lock().map_err(|_| Denied {
            retry_after_ms: 1000.0,
            message: "rate limiter unavailable".into(),
        })?;
        let state = map.entry(tenant.id.clone()).or_default();
        match (
            gcra::check(rpm, state.rpm_tat, now, requests),
            gcra::check(tpm, state.tpm_tat, now, tokens),
        ) {
            (
                Decision::Allow {
                    tat: r_tat,
                    remaining: r_rem,
                    reset_ms: r_reset,
                },
                Decision::Allow {
                    tat: t_tat,
                    remaining: t_rem,
                    reset_ms: t_reset,
                },
            ) => {
                state.rpm_tat = r_tat;
                state.tpm_tat = t_tat;
                Ok(RateInfo {
                    requests_limit: tenant.rpm_limit,
                    requests_remaining: r_rem,
                    requests_reset_ms: r_reset,
                    tokens_limit: tenant.tpm_limit,
                    tokens_remaining: t_rem,
                    tokens_reset_ms: t_reset,
                })
            }
            (r, t) => {
                let wait = |d: Decision| match d {
                    Decision::Deny { retry_after_ms } => retry_after_ms,
                    Decision::Allow { .. } => 0.0,
                };
                Err(denied(wait(r).max(wait(t))))
            }
        }
    }

    async fn take_redis(
        &self,
        mut conn: ConnectionManager,
        tenant: &Tenant,
        requests: i64,
        tokens: i64,
    ) -> Result<Result<RateInfo, Denied>, redis::RedisError> {
        let (rk, tk) = keys(&tenant.id);
        let (ok, retry, r_rem, r_used, t_rem, t_used): (i64, String, i64, String, i64, String) =
            Script::new(ADMIT_LUA)
                .key(rk)
                .key(tk)
                .arg(tenant.rpm_limit)
                .arg(tenant.tpm_limit)
                .arg(tokens)
                .arg(requests)
                .invoke_async(&mut conn)
                .await?;
        let f = |s: &str| s.parse::<f64>().unwrap_or(0.0);
        if ok == 1 {
            Ok(Ok(RateInfo {
                requests_limit: tenant.rpm_limit,
                requests_remaining: r_rem,
                requests_reset_ms: f(&r_used),
                tokens_limit: tenant.tpm_limit,
                tokens_remaining: t_rem,
                tokens_reset_ms: f(&t_used),
            }))
        } else {
            Ok(Err(denied(f(&retry))))
        }
    }

    /// Corrects the token reservation once the real usage is known.
    pub async fn settle(&self, tenant: &Tenant, delta: i64) {
        if delta == 0 {
            return;
        }
        if let Some(conn) = &self.redis {
            let (_, tk) = keys(&tenant.id);
            let res: Result<i64, _> = Script::new(SETTLE_LUA)
                .key(tk)
                .arg(tenant.tpm_limit)
                .arg(delta)
                .invoke_async(&mut conn.clone())
                .await;
            if res.is_ok() {
                return;
            }
        }
        self.settle_local(tenant, delta);
    }

    /// `settle` for the in-process limiter: no I/O, so callers need not wait.
    pub fn settle_local(&self, tenant: &Tenant, delta: i64) {
        let limit = Limit {
            per_minute: tenant.tpm_limit,
        };
        if let Ok(mut map) = self.local.lock() {
            let state = map.entry(tenant.id.clone()).or_default();
            state.tpm_tat = gcra::settle(limit, state.tpm_tat, now_ms_f64(), delta);
        }
    }
}

fn denied(retry_after_ms: f64) -> Denied {
    Denied {
        retry_after_ms,
        message: "rate limit exceeded for this tenant; retry after the time in retry-after".into(),
    }
}

impl From<Denied> for super::error::GatewayError {
    fn from(d: Denied) -> Self {
        super::error::GatewayError::RateLimited {
            message: d.message,
            retry_after_s: (d.retry_after_ms.min(60_000.0) / 1000.0).ceil().max(1.0) as u64,
        }
    }
}
