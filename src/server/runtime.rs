//! The server process's life: open the database, start the server and its
//! background tasks, run until a signal, and shut down without losing
//! anything queued. Used by `serve`, the CLI and the tests.

use std::net::SocketAddr;

use axum::serve::ListenerExt;
use leptos::config::{Env, LeptosOptions};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::server::config::Config;
use crate::server::crypto::SecretBox;
use crate::server::db::{Db, DbError};
use crate::server::gateway::Gateway;
use crate::server::jobs;
use crate::server::net::shards;
use crate::server::services::{
    api_keys, audit_anchor, bootstrap, control, flags, replicas, ServiceError, Services,
};

use super::http::{router, AppState};

#[derive(Debug, Error)]
pub enum ServeError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error(transparent)]
    Crypto(#[from] crate::server::crypto::CryptoError),
    #[error(transparent)]
    Gateway(#[from] crate::server::gateway::StartError),
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Refused(String),
}

/// Opens the database and brings it up to date; shared by every subcommand.
pub async fn open(config: Config) -> Result<Services, ServeError> {
    let secrets = SecretBox::load(config.secret_key.as_deref(), &config.data_dir)?
        .with_retired_audit_keys(&config.audit_retired_keys)?;
    let db = Db::connect_with(&config.database_url(), config.db_pool_size).await?;
    log_connection_budget(&db, &config).await?;
    db.migrate().await?;
    let services = Services::new(db, config, secrets);
    let lock = services.db.startup_lock().await?;
    flags::seed_capabilities(&services).await?;
    let migrated = services.stores.migrate_all().await?;
    lock.release().await?;
    if migrated > 0 {
        tracing::info!(migrated, "tenant stores migrated");
    }
    Ok(services)
}

/// Says how many PostgreSQL connections this replica may open, and how
/// many replicas that leaves room for, so a fleet is sized before it hits
/// `max_connections`.
async fn log_connection_budget(db: &Db, config: &Config) -> Result<(), ServeError> {
    let Some(max) = db.max_connections().await? else {
        return Ok(());
    };
    let budget = config.connection_budget();
    // PostgreSQL keeps 3 connections for superusers.
    let replicas = (max - 3).max(0) as u64 / budget.max(1);
    if replicas < 3 {
        tracing::warn!(budget, max_connections = max, replicas,
            "fewer than three replicas fit in max_connections; lower ATRIUM_DB_POOL_SIZE or ATRIUM_TENANT_POOLS");
    } else {
        tracing::info!(
            budget,
            max_connections = max,
            replicas,
            "database connections this replica may open"
        );
    }
    Ok(())
}

/// A running server: its address, and the handle that stops it gracefully.
pub struct Running {
    pub addr: SocketAddr,
    pub services: Services,
    pub gateway: Gateway,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), std::io::Error>>,
    joined: Option<shards::Joined>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (for at most
    /// `drain_secs`), then flushes buffers.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait().await
    }

    async fn wait(mut self) -> Result<(), ServeError> {
        let result = self.drain().await;
        if let Some(shards) = self.joined.take() {
            shards.join().await;
        }
        // Every request has finished or been closed: write what the ledger
        // and the audit writers still hold.
        self.gateway.audit.flush().await;
        self.gateway.audit.close();
        self.gateway.ledger.flush().await;
        self.gateway.ledger.close();
        self.gateway.budgets.give_back().await;
        self.services.keys.flush_last_used(&self.services).await;
        if let Err(e) = replicas::leave(&self.services).await {
            tracing::warn!(error = %e, "replica row not removed; it lapses instead");
        }
        // Another replica picks the periodic jobs up at its next period.
        if let Err(e) = jobs::release(&self.services).await {
            tracing::warn!(error = %e, "job leases not given back; they lapse instead");
        }
        // The last events get a checkpoint too, so a tail written just
        // before a stop cannot be cut unnoticed.
        if let Err(e) = audit_anchor::anchor_now(&self.services).await {
            tracing::error!(error = %e, "final audit checkpoint failed");
        }
        self.services.db.close().await;
        match result {
            Ok(r) => Ok(r?),
            Err(e) => Err(ServeError::Io(std::io::Error::other(e))),
        }
    }
}

impl Running {
    /// The serve task after a stop: finished, or aborted at the deadline so
    /// one stuck connection cannot keep the buffers from being flushed.
    async fn drain(&mut self) -> Result<Result<(), std::io::Error>, tokio::task::JoinError> {
        let deadline = std::time::Duration::from_secs(self.services.config.drain_secs);
        match tokio::time::timeout(deadline, &mut self.task).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(
                    drain_secs = deadline.as_secs(),
                    "in-flight requests outlived the drain deadline; closing them"
                );
                self.task.abort();
                match (&mut self.task).await {
                    Err(e) if e.is_cancelled() => Ok(Ok(())),
                    other => other,
                }
            }
        }
    }
}

pub async fn start(services: Services) -> Result<Running, ServeError> {
    let addr = services.config.addr;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| ServeError::Bind(addr, e))?;
    let addr = listener.local_addr()?;
    let leptos_options = LeptosOptions::builder()
        .output_name("atrium")
        .site_root(services.config.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .env(Env::PROD)
        .build();
    let state = AppState {
        leptos_options,
        services: services.clone(),
    };
    let version = control::prime(&services).await?;
    let gateway = Gateway::start(services.clone()).await?;
    let watcher = control::spawn_watcher(services.clone(), version);
    let flusher = api_keys::spawn_last_used_flusher(services.clone());
    let periodic = jobs::spawn_all(&services);
    replicas::register(&services, Some(addr)).await?;
    let heartbeat = replicas::spawn_heartbeat(services.clone(), addr);
    let metrics = serve_metrics(&services, &gateway).await?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(state, gateway.clone());
    let (shards, joined) = match services.config.serve_shards {
        0 => (None, None),
        n => {
            let (shards, joined) = shards::start(&app, usize::from(n))?;
            (Some(shards), Some(joined))
        }
    };
    let task = tokio::spawn(async move {
        let result = match shards {
            None => serve_shared(listener, app, stopped).await,
            Some(shards) => shards.serve(listener, stopped).await,
        };
        watcher.abort();
        flusher.abort();
        heartbeat.abort();
        for job in &periodic {
            job.abort();
        }
        if let Some(m) = metrics {
            m.abort();
        }
        result
    });
    Ok(Running {
        addr,
        services,
        gateway,
        stop: Some(stop),
        task,
        joined,
    })
}

/// Serves on the runtime background work shares (`ATRIUM_SERVE_SHARDS=0`).
async fn serve_shared(
    listener: TcpListener,
    app: axum::Router,
    stopped: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let listener = listener.tap_io(crate::server::net::no_delay);
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .await
}

/// `/metrics` on its own address, when one is configured.
async fn serve_metrics(
    services: &Services,
    gateway: &Gateway,
) -> Result<Option<tokio::task::JoinHandle<()>>, ServeError> {
    let Some(addr) = services.config.metrics_addr else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| ServeError::Bind(addr, e))?;
    let app = crate::server::http::ops::metrics_routes(gateway.clone());
    Ok(Some(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    })))
}

/// `atrium serve`: first-run set-up, then serve until SIGTERM or ctrl-c.
pub async fn run(config: Config) -> Result<(), ServeError> {
    let services = open(config).await?;
    let _held = hold_serve_locks(&services)?;
    replicas::admit(&services).await?;
    let (admin, demo) = first_run(&services).await?;
    let running = start(services.clone()).await?;
    print_banner(&services, running.addr, admin, demo);
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await
}

/// Locks that last as long as this process: its data directory (spool,
/// secret key) is one replica's, and on SQLite the database file is one
/// replica's (SQLite cannot share limits, budgets or jobs across
/// processes). The kernel drops them when the process dies, so a replica
/// killed and restarted is never refused.
fn hold_serve_locks(services: &Services) -> Result<Vec<std::fs::File>, ServeError> {
    let config = &services.config;
    let mut paths = vec![(
        config.data_dir.join("serve.lock"),
        "its data directory is in use by another `atrium serve`; give each replica its own ATRIUM_DATA_DIR",
    )];
    if services.db.backend == crate::server::db::Backend::Sqlite {
        let url = config.database_url();
        let db = crate::server::db::sqlite_path(&url);
        let db = std::path::Path::new(db.split('?').next().unwrap_or(db));
        // One file however its path is spelt (relative, through links).
        let db = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf());
        paths.push((
            std::path::PathBuf::from(format!("{}.serve.lock", db.display())),
            "another `atrium serve` is live on this SQLite database; one replica serves SQLite, run several on PostgreSQL with Redis",
        ));
    }
    paths
        .into_iter()
        .map(|(path, why)| {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            match file.try_lock() {
                Ok(()) => Ok(file),
                Err(std::fs::TryLockError::WouldBlock) => Err(ServeError::Refused(format!(
                    "refusing to start: {why} ({} is locked)",
                    path.display()
                ))),
                Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
            }
        })
        .collect()
}

/// The first admin and the demo tenant on a fresh database, made by one
/// replica however many start at once (the others find them made).
pub async fn first_run(
    services: &Services,
) -> Result<
    (
        Option<bootstrap::FirstAdmin>,
        Option<crate::domain::api_key::CreatedKey>,
    ),
    ServeError,
> {
    let lock = services.db.startup_lock().await?;
    let admin = bootstrap::ensure_first_admin(services).await?;
    let demo = bootstrap::ensure_demo_tenant(services).await?;
    // `make run` starts `atrium mock-upstream` beside the server and names
    // its address here; the demo catalog points at it.
    if let Some(addr) = services.config.demo_upstream.clone() {
        bootstrap::ensure_demo_catalog(services, &addr).await?;
    }
    lock.release().await?;
    Ok((admin, demo))
}

fn print_banner(
    services: &Services,
    addr: SocketAddr,
    admin: Option<bootstrap::FirstAdmin>,
    demo: Option<crate::domain::api_key::CreatedKey>,
) {
    let url = services
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    println!(
        "\nAtrium is running on {} ({})",
        url,
        services.db.backend.as_str()
    );
    println!("  Sign in:  {url}/login");
    if let Some(admin) = admin {
        println!("  First platform admin created: {}", admin.email);
        match admin.generated_password {
            Some(p) => println!("  Password (shown once, change it after signing in): {p}"),
            None => println!("  Password: the one in ATRIUM_ADMIN_PASSWORD"),
        }
    }
    if let Some(key) = demo {
        println!(
            "  Demo tenant \"{}\" created with API key (shown once, expires in {} days):",
            bootstrap::DEMO_TENANT,
            bootstrap::DEMO_KEY_DAYS
        );
        println!("    {}", key.key);
        if services.config.demo_upstream.is_some() {
            println!(
                "  Try it: models demo-claude and demo-gpt answer from the built-in mock provider:"
            );
            println!(
                "    curl -s {url}/v1/messages -H 'x-api-key: {}' -H 'content-type: application/json' \\",
                key.key
            );
            println!(
                "      -d '{{\"model\":\"demo-claude\",\"max_tokens\":64,\"messages\":[{{\"role\":\"user\",\"content\":\"Hello\"}}]}}'"
            );
        }
    }
    println!();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
