//! Pools, migrations and the backend switch. Everything above this module
//! runs one SQL text on either backend (`$1` placeholders work on both).

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};
use thiserror::Error;

mod sqlite_reader;
pub use sqlite_reader::SQLITE_INTERRUPTED;
pub mod tenant_store;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `(…), (…)` placeholders for a multi-row insert of `rows` rows of
    /// `cols` values. SQLite gets plain `?`s, bound in order: it looks a
    /// `$n` up by name in a list, once per parameter, which is quadratic in
    /// an insert of hundreds of parameters.
    pub fn value_tuples(self, cols: usize, rows: usize) -> String {
        let mark = |n: usize| match self {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${n}"),
        };
        (0..rows)
            .map(|r| {
                let p: Vec<String> = (1..=cols).map(|c| mark(r * cols + c)).collect();
                format!("({})", p.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn from_url(url: &str) -> Result<Self, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(DbError::UnsupportedUrl)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Error)]
pub enum DbError {
    #[error("DATABASE_URL must start with sqlite: or postgres://")]
    UnsupportedUrl,
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the tenant has no data store")]
    NoStore,
    #[error("the tenant's data moved during the write")]
    Moved,
    #[error("another move of this tenant's data is running")]
    MoveRunning,
    #[error(
        "the tenant's data is moving to {0}: erase once the move has ended (running the \
         move again finishes an interrupted one)"
    )]
    MovePending(String),
    #[error(
        "an erasure of this tenant's data is running: move it once that has ended (by {} \
         at the latest)",
        crate::domain::time::rfc3339(*.0)
    )]
    ErasureRunning(i64),
    #[error("copied data does not match: {0}")]
    Verify(String),
    #[error("tenant store: {0}")]
    Store(String),
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// Connections outside the pool for reads with a deadline
    /// (`sqlite_reader`); `None` on PostgreSQL.
    sqlite_readers: Option<sqlx::SqlitePool>,
}

pub type Row = AnyRow;

/// See [`Db::startup_lock`].
pub struct StartupLock(Option<sqlx::Transaction<'static, sqlx::Any>>);

impl StartupLock {
    pub async fn release(self) -> Result<(), DbError> {
        if let Some(tx) = self.0 {
            tx.commit().await?;
        }
        Ok(())
    }
}

impl Db {
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        Self::connect_with(url, 12).await
    }

    /// As `connect`, with at most `pg_connections` to PostgreSQL (SQLite
    /// keeps 8: one writer at a time, readers beside it).
    pub async fn connect_with(url: &str, pg_connections: u32) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let max = match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => pg_connections.max(2),
        };
        let pool = pool_options(backend, max).connect(&url).await?;
        let sqlite_readers = match backend {
            Backend::Sqlite => Some(sqlite_reader::readers(&url)?),
            Backend::Postgres => None,
        };
        Ok(Self {
            pool,
            backend,
            sqlite_readers,
        })
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Held while a process migrates tenant stores or creates the first
    /// admin, so replicas starting at once take turns: a PostgreSQL
    /// advisory lock bound to a transaction, released when the guard is
    /// committed or dropped, or when a dying process's connection closes.
    /// SQLite writes one at a time already, so it needs none.
    pub async fn startup_lock(&self) -> Result<StartupLock, DbError> {
        match self.backend {
            Backend::Sqlite => Ok(StartupLock(None)),
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(7263540102)")
                    .execute(&mut *tx)
                    .await?;
                Ok(StartupLock(Some(tx)))
            }
        }
    }

    /// The current time in milliseconds, as SQL: PostgreSQL's own clock on
    /// PostgreSQL, so replicas whose clocks disagree still agree on it; on
    /// SQLite (one machine) the parameter `sqlite_param`, which the caller
    /// binds to `now_millis()` (see `binds_clock`).
    pub fn now_ms_sql(&self, sqlite_param: &str) -> String {
        match self.backend {
            Backend::Postgres => {
                "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)".into()
            }
            Backend::Sqlite => sqlite_param.into(),
        }
    }

    /// The database's time now (see `now_ms_sql`): leases that several
    /// replicas compare are stamped and read on one clock.
    /// On SQLite (one machine) that is this process's clock, with no query.
    pub async fn clock_ms(&self) -> Result<i64, DbError> {
        if self.binds_clock() {
            return Ok(crate::domain::time::now_millis());
        }
        let sql = format!("SELECT {}", self.now_ms_sql("$1"));
        Ok(sqlx::query_scalar::<_, i64>(&sql)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Whether `now_ms_sql` asked for its parameter to be bound.
    pub fn binds_clock(&self) -> bool {
        self.backend == Backend::Sqlite
    }

    /// PostgreSQL's `max_connections`, for the start-up budget line.
    pub async fn max_connections(&self) -> Result<Option<i64>, DbError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let n: i64 = sqlx::query_scalar(
            "SELECT CAST(setting AS BIGINT) FROM pg_settings WHERE name = 'max_connections'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(n))
    }

    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        if let Some(readers) = &self.sqlite_readers {
            readers.close().await;
        }
        self.pool.close().await;
    }
}

/// Pool settings for a backend; SQLite connections get WAL, a busy timeout
/// (the CLI and the server share one file) and foreign keys.
pub(crate) fn pool_options(backend: Backend, max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute(
                        "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000; \
                         PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
}

/// Creates `dir` and missing parents as owner-only (0700 on Unix).
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Creates `path` empty as owner-only (0600) unless it exists; SQLite gives
/// its -wal and -shm files the database file's permissions.
fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map(drop)
}

/// The file path inside a `sqlite:` URL.
pub fn sqlite_path(url: &str) -> &str {
    url.trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default()
}

/// Makes sure the file and its directory can be created on first start,
/// readable by this user only (the database holds hashes, sealed secrets
/// and every tenant's usage).
fn sqlite_url(url: &str) -> Result<String, DbError> {
    let path = sqlite_path(url);
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            create_private_dir(dir).map_err(|e| DbError::DataDir(dir.display().to_string(), e))?;
        }
    }
    if !path.is_empty() && !path.starts_with(':') {
        create_private_file(std::path::Path::new(path))
            .map_err(|e| DbError::DataDir(path.to_string(), e))?;
    }
    Ok(if url.contains('?') {
        url.to_string()
    } else {
        format!("{url}?mode=rwc")
    })
}

/// Tenant ids bind and read as text; a stored id that is not one is refused
/// on read, like any other corrupt row.
mod tenant_id_sql {
    use crate::domain::tenant::TenantId;
    use sqlx::any::{AnyTypeInfo, AnyValueRef};
    use sqlx::encode::IsNull;
    use sqlx::error::BoxDynError;
    use sqlx::{Any, Database, Decode, Encode, Sqlite, Type};

    impl Type<Any> for TenantId {
        fn type_info() -> AnyTypeInfo {
            <String as Type<Any>>::type_info()
        }
        fn compatible(ty: &AnyTypeInfo) -> bool {
            <String as Type<Any>>::compatible(ty)
        }
    }

    impl<'q> Encode<'q, Any> for TenantId {
        fn encode_by_ref(
            &self,
            buf: &mut <Any as Database>::ArgumentBuffer<'q>,
        ) -> Result<IsNull, BoxDynError> {
            <String as Encode<'q, Any>>::encode_by_ref(&self.as_str().to_string(), buf)
        }
    }

    impl<'r> Decode<'r, Any> for TenantId {
        fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
            let raw = <String as Decode<'r, Any>>::decode(value)?;
            Ok(TenantId::parse(&raw)?)
        }
    }

    /// Read on SQLite's own driver too (`sqlite_reader`).
    impl Type<Sqlite> for TenantId {
        fn type_info() -> <Sqlite as Database>::TypeInfo {
            <String as Type<Sqlite>>::type_info()
        }
        fn compatible(ty: &<Sqlite as Database>::TypeInfo) -> bool {
            <String as Type<Sqlite>>::compatible(ty)
        }
    }

    impl<'r> Decode<'r, Sqlite> for TenantId {
        fn decode(value: <Sqlite as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
            let raw = <String as Decode<'r, Sqlite>>::decode(value)?;
            Ok(TenantId::parse(&raw)?)
        }
    }
}
