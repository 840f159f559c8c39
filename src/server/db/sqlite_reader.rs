//! A SQLite connection of its own, whose statements stop once a deadline
//! has passed. SQLite has no statement timeout, and the pool's `Any`
//! connections cannot reach the handle that sets a progress handler; a
//! read that may go on for long (an audit search) takes one of these
//! instead, and leaves the pool to the writers besides.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::ConnectOptions;

use super::{Db, DbError};

/// SQLite's virtual machine steps between two looks at the clock: a few
/// hundred microseconds of work.
const STEPS_PER_LOOK: i32 = 10_000;

/// The code of a statement the progress handler stopped (`SQLITE_INTERRUPT`).
pub const SQLITE_INTERRUPTED: &str = "9";

impl Db {
    /// A connection to the same file whose statements stop, as
    /// `SQLITE_INTERRUPT`, once `deadline` has passed; `None` on PostgreSQL,
    /// which has a statement timeout of its own.
    pub async fn sqlite_reader(
        &self,
        deadline: Instant,
    ) -> Result<Option<SqliteConnection>, DbError> {
        let Some(url) = &self.sqlite_url else {
            return Ok(None);
        };
        // The progress handler does not run while SQLite waits on a lock.
        let busy = deadline.saturating_duration_since(Instant::now());
        let mut conn = SqliteConnectOptions::from_str(url)?
            .create_if_missing(false)
            .busy_timeout(busy.min(Duration::from_secs(10)))
            .connect()
            .await?;
        conn.lock_handle()
            .await?
            .set_progress_handler(STEPS_PER_LOOK, move || Instant::now() < deadline);
        Ok(Some(conn))
    }
}
