//! SQLite connections for reads that may go on for long (audit searches),
//! kept apart from the pool's, whose statements stop once a deadline has
//! passed. SQLite has no statement timeout, and the pool's `Any`
//! connections cannot reach the handle that sets a progress handler.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Sqlite, Transaction};

use super::{Db, DbError};

/// SQLite's virtual machine steps between two looks at the clock: a few
/// hundred microseconds of work.
const STEPS_PER_LOOK: i32 = 10_000;
/// As many as searches run at once (`services::audit_turns`).
const READERS: u32 = 2;
/// The progress handler does not run while SQLite waits on a lock, which a
/// reader in WAL mode meets only briefly; this bounds that wait.
const BUSY: Duration = Duration::from_secs(1);

/// The code of a statement the progress handler stopped (`SQLITE_INTERRUPT`).
pub const SQLITE_INTERRUPTED: &str = "9";

/// The readers' pool, opened lazily: most processes never search.
pub(super) fn readers(url: &str) -> Result<SqlitePool, DbError> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(false)
        .busy_timeout(BUSY);
    Ok(SqlitePoolOptions::new()
        .max_connections(READERS)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(10))
        .after_release(|conn, _| {
            Box::pin(async move {
                // A returned connection keeps no deadline: the next search
                // sets its own.
                conn.lock_handle().await?.remove_progress_handler();
                Ok(true)
            })
        })
        .connect_lazy_with(options))
}

impl Db {
    /// A read transaction on a reader whose statements stop, as
    /// `SQLITE_INTERRUPT`, once `deadline` has passed; `None` on PostgreSQL,
    /// which has a statement timeout of its own.
    pub async fn sqlite_reader(
        &self,
        deadline: Instant,
    ) -> Result<Option<Transaction<'static, Sqlite>>, DbError> {
        let Some(pool) = &self.sqlite_readers else {
            return Ok(None);
        };
        let mut conn = pool.acquire().await?;
        conn.lock_handle()
            .await?
            .set_progress_handler(STEPS_PER_LOOK, move || Instant::now() < deadline);
        Ok(Some(Transaction::begin(conn, None).await?))
    }
}
