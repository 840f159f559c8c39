//! Where an audit search's statements run. Every search takes a turn
//! (`audit_turns`): one per tenant and two per process, so searches hold at
//! most two connections and one tenant's never queue another's behind more
//! than one. On PostgreSQL a search is one transaction with a statement
//! timeout; on SQLite, which has none, it is one read transaction on a
//! reader outside the pool, whose statements stop at the same time
//! (`Db::sqlite_reader`).

use std::time::{Duration, Instant};

use sqlx::any::AnyRow;
use sqlx::sqlite::SqliteRow;
use sqlx::FromRow;

use crate::domain::validation::Invalid;
use crate::server::db::{Backend, SQLITE_INTERRUPTED};

use super::audit_turns::{self, Lane, Turn};
use super::{Actor, Result, ServiceError, Services};

pub(super) struct SearchReader {
    reader: Option<Reader>,
    turn: Option<Turn>,
    /// The field that made the search broad, named when it is stopped.
    broad: Option<&'static str>,
    /// How long an abandoned search may take to end before its connection
    /// is dropped instead: as long as a turn is waited for, which outlasts
    /// its statements.
    end_wait: Duration,
}

enum Reader {
    Pooled(sqlx::Transaction<'static, sqlx::Any>),
    /// SQLite: a reader outside the pool, with a deadline.
    Own(sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl SearchReader {
    /// `broad` names the filter no index narrows, if any: the field a
    /// search stopped at its timeout is told to narrow.
    pub(super) async fn open(
        svc: &Services,
        actor: &Actor,
        broad: Option<&'static str>,
    ) -> Result<Self> {
        let ms = svc.config.audit_search_timeout_ms.clamp(1, i32::MAX as u64);
        let end_wait = audit_turns::wait_for(ms);
        let turn = svc.audit_turns.take(Lane::of(actor)?, end_wait).await?;
        let reader = match svc.db.backend {
            Backend::Sqlite => own(svc, ms).await?,
            Backend::Postgres => None,
        };
        let reader = match reader {
            Some(conn) => Reader::Own(conn),
            None => Reader::Pooled(pooled(svc, ms).await?),
        };
        Ok(Self {
            reader: Some(reader),
            turn: Some(turn),
            broad,
            end_wait,
        })
    }

    /// The rows `sql` selects, its `$n` bound to `values` in order.
    pub(super) async fn rows<O>(&mut self, sql: &str, values: &[Bound]) -> Result<Vec<O>>
    where
        O: Send + Unpin + for<'r> FromRow<'r, AnyRow> + for<'r> FromRow<'r, SqliteRow>,
    {
        let reader = self
            .reader
            .as_mut()
            .ok_or_else(|| ServiceError::Internal("an audit search read after its end".into()))?;
        let rows = match reader {
            Reader::Pooled(tx) => {
                let q = Bound::bind_all(sqlx::query_as::<_, O>(sql), values);
                q.fetch_all(&mut **tx).await
            }
            Reader::Own(tx) => {
                let q = Bound::bind_all(sqlx::query_as::<_, O>(sql), values);
                q.fetch_all(&mut **tx).await
            }
        };
        rows.map_err(|e| too_long(self.broad.unwrap_or("from"), e))
    }

    pub(super) async fn commit(mut self) -> Result<()> {
        match self.reader.take() {
            Some(Reader::Pooled(tx)) => Ok(tx.commit().await?),
            Some(Reader::Own(tx)) => Ok(tx.commit().await?),
            None => Ok(()),
        }
    }
}

async fn pooled(svc: &Services, ms: u64) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
    let mut tx = svc.db.pool.begin().await?;
    if svc.db.backend == Backend::Postgres {
        // SET takes no bound parameter; the value is the config's number,
        // in the range PostgreSQL accepts (checked when it is read).
        sqlx::query(&format!("SET LOCAL statement_timeout = {ms}"))
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

/// On SQLite, a read transaction on a reader of its own, so the search's
/// count and rows agree; its deadline covers the whole search.
async fn own(svc: &Services, ms: u64) -> Result<Option<sqlx::Transaction<'static, sqlx::Sqlite>>> {
    let deadline = Instant::now() + Duration::from_millis(ms);
    Ok(svc.db.sqlite_reader(deadline).await?)
}

/// A search dropped mid-statement (its caller left) gives its turn back
/// only once its connection has rolled back or closed, which waits for the
/// running statement: the next broad search cannot start beside it.
impl Drop for SearchReader {
    fn drop(&mut self) {
        let (Some(reader), turn) = (self.reader.take(), self.turn.take()) else {
            return;
        };
        let wait = self.end_wait;
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            let ended = match reader {
                Reader::Pooled(tx) => tokio::time::timeout(wait, tx.rollback()).await,
                Reader::Own(tx) => tokio::time::timeout(wait, tx.rollback()).await,
            };
            match ended {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "ending an abandoned audit search"),
                Err(_) => tracing::warn!("an abandoned audit search did not end in time"),
            }
            drop(turn);
        });
    }
}

/// A statement stopped at the search's timeout (SQLSTATE 57014 on
/// PostgreSQL, `SQLITE_INTERRUPT` from the deadline on SQLite): the search
/// was too broad to finish, which the caller can fix.
fn too_long(field: &'static str, e: sqlx::Error) -> ServiceError {
    let stopped = match &e {
        sqlx::Error::Database(d) => {
            matches!(
                d.code().as_deref(),
                Some("57014") | Some(SQLITE_INTERRUPTED)
            )
        }
        _ => false,
    };
    if !stopped {
        return e.into();
    }
    let why = match field {
        "text" => {
            "the search by text took too long: narrow it with dates, an action, an actor or a \
             longer text"
        }
        "page" => {
            "this page took too long to reach: narrow the search with dates, an action or an actor"
        }
        "resource" => {
            "the search by resource took too long: narrow it with dates, an action or an actor"
        }
        _ => "the search took too long: narrow it with dates, an action or an actor",
    };
    Invalid::new(field, why).into()
}

/// A value bound to a search's numbered parameter.
#[derive(Clone)]
pub(super) enum Bound {
    Text(String),
    Int(i64),
}

impl Bound {
    /// Binds `values` to `q`'s parameters in order, on either backend's
    /// driver (the pool's `Any`, or SQLite's own for a broad search).
    pub(super) fn bind_all<'q, DB, O>(
        mut q: sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>,
        values: &'q [Bound],
    ) -> sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>
    where
        DB: sqlx::Database,
        &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        for v in values {
            q = match v {
                Bound::Text(s) => q.bind(s.as_str()),
                Bound::Int(i) => q.bind(*i),
            };
        }
        q
    }
}
