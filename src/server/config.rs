use std::net::SocketAddr;
use std::path::PathBuf;

/// Every setting, from flags or the environment. The defaults run a demo
/// with nothing set: SQLite under `./data`, the portal on 127.0.0.1:3000.
#[derive(clap::Args, Debug, Clone)]
pub struct Config {
    /// `postgres://…` for PostgreSQL; unset means SQLite at `<data-dir>/atrium.db`.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory for the embedded database and other local state.
    #[arg(long, env = "ATRIUM_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Address the portal and API listen on.
    #[arg(
        long = "listen",
        env = "LEPTOS_SITE_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub addr: SocketAddr,

    /// Where the built site (wasm, js, css) is served from.
    #[arg(
        long,
        env = "LEPTOS_SITE_ROOT",
        default_value = "target/site",
        global = true
    )]
    pub site_root: String,

    /// URL users reach the portal at; `https://…` turns on Secure cookies.
    #[arg(long, env = "ATRIUM_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// First admin's email, used only when no platform admin exists yet.
    #[arg(long, env = "ATRIUM_ADMIN_EMAIL", global = true)]
    pub admin_email: Option<String>,

    /// First admin's password; generated and printed once when unset.
    #[arg(
        long,
        env = "ATRIUM_ADMIN_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    pub admin_password: Option<String>,

    /// Skip creating the demo tenant and key on first run.
    #[arg(long, env = "ATRIUM_NO_DEMO", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub no_demo: bool,

    /// Portal session lifetime in hours.
    #[arg(
        long,
        env = "ATRIUM_SESSION_HOURS",
        default_value_t = 12,
        global = true
    )]
    pub session_hours: i64,

    /// Trust `X-Forwarded-For` / `X-Forwarded-Proto` from a reverse proxy.
    #[arg(long, env = "ATRIUM_TRUST_PROXY", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub trust_proxy: bool,

    /// With `--trust-proxy`: how many proxies of yours append to
    /// `X-Forwarded-For`. The client is that many entries from the right;
    /// anything further left was written by the client and is not trusted.
    #[arg(long, env = "ATRIUM_TRUSTED_HOPS", default_value_t = 1, global = true)]
    pub trusted_hops: usize,

    /// How often caches check the database for control-plane changes.
    #[arg(
        long,
        env = "ATRIUM_CACHE_POLL_MS",
        default_value_t = 500,
        global = true
    )]
    pub cache_poll_ms: u64,

    /// 64 hex characters sealing provider secrets at rest; generated into
    /// `<data-dir>/secret.key` when unset. Replicas must share it.
    #[arg(long, env = "ATRIUM_SECRET_KEY", global = true, hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Earlier `ATRIUM_SECRET_KEY`s, comma separated: audit chain links made
    /// under them still verify after a rotation.
    #[arg(
        long,
        env = "ATRIUM_AUDIT_RETIRED_KEYS",
        value_delimiter = ',',
        global = true,
        hide_env_values = true
    )]
    pub audit_retired_keys: Vec<String>,

    /// Where signed checkpoints of the audit chain heads go:
    /// `file:///path` (appended) or an `https://` webhook. A database
    /// writer who rewrites or truncates the chains cannot rewrite these.
    #[arg(long, env = "ATRIUM_AUDIT_ANCHOR", global = true)]
    pub audit_anchor: Option<String>,

    /// Seconds between audit checkpoints (written only when a chain grew).
    #[arg(
        long,
        env = "ATRIUM_AUDIT_ANCHOR_SECS",
        default_value_t = 60,
        global = true
    )]
    pub audit_anchor_secs: u64,

    /// How long one statement of an audit search may run on PostgreSQL
    /// (on SQLite, the whole search) before it is stopped and the caller
    /// asked to narrow it; PostgreSQL takes at most `i32::MAX` milliseconds.
    #[arg(
        long,
        env = "ATRIUM_AUDIT_SEARCH_TIMEOUT_MS",
        default_value_t = 5_000,
        value_parser = clap::value_parser!(u64).range(1..=i32::MAX as u64),
        global = true
    )]
    pub audit_search_timeout_ms: u64,

    /// Bearer token that opens `/metrics` on the public listener. Without it
    /// (and without `--metrics-addr`) metrics are not served at all.
    #[arg(
        long,
        env = "ATRIUM_METRICS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,

    /// A separate listen address for `/metrics` only (no token), e.g. on a
    /// private interface for the scraper.
    #[arg(long, env = "ATRIUM_METRICS_ADDR", global = true)]
    pub metrics_addr: Option<SocketAddr>,

    /// Provider hosts allowed although private (or over plain http), comma
    /// separated: self-hosted engines on an internal network, tests.
    #[arg(
        long,
        env = "ATRIUM_ALLOW_PRIVATE_UPSTREAMS",
        value_delimiter = ',',
        global = true
    )]
    pub allow_private_upstreams: Vec<String>,

    /// Directories local LoRA adapters may be registered from, comma
    /// separated (default: `<data-dir>/adapters`). A tenant admin names a
    /// path; anything outside these is refused, so the server's own files
    /// cannot be probed through validation.
    #[arg(
        long,
        env = "ATRIUM_ADAPTER_ROOTS",
        value_delimiter = ',',
        global = true
    )]
    pub adapter_roots: Vec<std::path::PathBuf>,

    /// URI prefixes remote (s3:// or https://) adapters may be registered
    /// under, `{tenant}` standing for the tenant's id; none: no remote adapters.
    #[arg(
        long,
        env = "ATRIUM_ADAPTER_REMOTE_PREFIXES",
        value_delimiter = ',',
        global = true
    )]
    pub adapter_remote_prefixes: Vec<String>,

    /// Connections to the main PostgreSQL database (SQLite uses 8).
    #[arg(long, env = "ATRIUM_DB_POOL_SIZE", default_value_t = 12, global = true)]
    pub db_pool_size: u32,

    /// Database-per-tenant stores kept open at once (least recently used close first).
    #[arg(long, env = "ATRIUM_TENANT_POOLS", default_value_t = 8, global = true)]
    pub tenant_pools: usize,

    /// Connections to each open database-per-tenant store.
    #[arg(
        long,
        env = "ATRIUM_TENANT_POOL_SIZE",
        default_value_t = 2,
        global = true
    )]
    pub tenant_pool_size: u32,

    /// `redis://…` makes rate limits hold across gateway replicas.
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Lets a second replica start on PostgreSQL without `REDIS_URL`. Each
    /// replica then counts rate limits and budget holds for itself, so a
    /// tenant can get up to N times its limit across N replicas.
    #[arg(long, env = "ATRIUM_REPLICAS_WITHOUT_REDIS", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub replicas_without_redis: bool,

    /// Stores each usage event in the database (group commit) before its
    /// response is released, instead of appending it to the local spool:
    /// nothing answered is lost even with the machine, for a database
    /// round trip per request.
    #[arg(long, env = "ATRIUM_LEDGER_SYNC", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub ledger_sync: bool,

    /// Largest completion request body accepted, in bytes.
    #[arg(long, env = "ATRIUM_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// Capacity of the usage ledger queue; producers wait when it is full.
    #[arg(
        long,
        env = "ATRIUM_LEDGER_QUEUE",
        default_value_t = 10_000,
        global = true
    )]
    pub ledger_queue: usize,

    /// Threads that serve connections, each with a runtime of its own
    /// (`net::shards`): faster, but a connection's work stays on its
    /// shard (see the README). 0, the default, serves them on the runtime
    /// background work shares, where idle workers take work from busy ones.
    #[arg(long, env = "ATRIUM_SERVE_SHARDS", default_value_t = 0,
          value_parser = clap::value_parser!(u16).range(0..=256), global = true)]
    pub serve_shards: u16,

    /// On a stop, how long in-flight requests (streams included) may run
    /// before their connections are closed; what they recorded is flushed
    /// either way. A client that never finishes cannot hold a stop open.
    #[arg(long, env = "ATRIUM_DRAIN_SECS", default_value_t = 30, global = true)]
    pub drain_secs: u64,

    /// After a month ends, how long late usage may still arrive before its
    /// invoices are issued (and become immutable).
    #[arg(
        long,
        env = "ATRIUM_INVOICE_GRACE_SECS",
        default_value_t = 3600,
        global = true
    )]
    pub invoice_grace_secs: u64,

    /// How often the custom-model reconciler compares what each engine has
    /// loaded with what it should hold, and repairs the difference.
    #[arg(
        long,
        env = "ATRIUM_RECONCILE_MS",
        default_value_t = 3000,
        global = true
    )]
    pub reconcile_ms: u64,

    /// On a fresh database, register the mock provider at this address
    /// (`atrium mock-upstream`, which `make run` starts) as the demo providers.
    #[arg(long, env = "ATRIUM_DEMO_UPSTREAM", global = true)]
    pub demo_upstream: Option<String>,

    /// Log format.
    #[arg(
        long,
        env = "ATRIUM_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Where local adapters may live: the configured roots, or the data
    /// directory's `adapters`.
    pub fn adapter_roots(&self) -> Vec<std::path::PathBuf> {
        if self.adapter_roots.is_empty() {
            vec![self.data_dir.join("adapters")]
        } else {
            self.adapter_roots.clone()
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.clone(),
            _ => format!("sqlite://{}", self.data_dir.join("atrium.db").display()),
        }
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.addr))
    }

    /// How many trusted proxies append to `X-Forwarded-For`; `None` when
    /// the header is not trusted at all.
    pub fn proxies(&self) -> Option<usize> {
        self.trust_proxy.then_some(self.trusted_hops)
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

impl Config {
    /// The most connections this replica opens to PostgreSQL: the main
    /// pool and every open tenant database's. The defaults keep three
    /// replicas (12 + 8 × 2 = 28 each) under PostgreSQL's default 100.
    pub fn connection_budget(&self) -> u64 {
        let tenants = (self.tenant_pools as u64).saturating_mul(u64::from(self.tenant_pool_size));
        u64::from(self.db_pool_size).saturating_add(tenants)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        config: super::Config,
    }

    #[test]
    fn the_default_connection_budget_fits_three_replicas_in_postgres_default() {
        let config = Args::parse_from(["atrium"]).config;
        let budget = config.connection_budget();
        assert_eq!(budget, 12 + 8 * 2);
        assert!(
            3 * budget <= 100 - 3,
            "three replicas and the superuser slots"
        );
        let big = Args::parse_from(["atrium", "--tenant-pools", "18446744073709551615"]).config;
        assert_eq!(big.connection_budget(), u64::MAX, "saturates, never wraps");
    }
}
