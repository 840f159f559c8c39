use thiserror::Error;

use crate::domain::validation::Invalid;
use crate::server::db::DbError;

/// The service layer's one error type. Adapters map it to their caller's
/// shape; `Internal` and `Db` details go to logs, never to callers.
#[derive(Debug, Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(#[from] Invalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("sign in required")]
    Unauthenticated,
    /// The password was right; a one-time code is missing or wrong, or the
    /// role requires MFA and the user has not enrolled.
    #[error("{0}")]
    MfaRequired(String),
    #[error("you do not have permission to do this")]
    Forbidden,
    #[error("{0}")]
    TooManyAttempts(String),
    /// A conditional write whose precondition (a revision) no longer holds.
    #[error("{0}")]
    Stale(String),
    /// Worth retrying shortly: the data moved under a write.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
    #[error("database error")]
    Db(#[source] sqlx::Error),
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        ServiceError::Db(e)
    }
}

impl From<crate::server::crypto::CryptoError> for ServiceError {
    fn from(e: crate::server::crypto::CryptoError) -> Self {
        use crate::server::crypto::CryptoError;
        match e {
            CryptoError::Busy => ServiceError::Unavailable(e.to_string()),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<DbError> for ServiceError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Sql(e) => ServiceError::Db(e),
            DbError::NoStore => ServiceError::NotFound("tenant data store"),
            DbError::MoveRunning | DbError::MovePending(_) | DbError::ErasureRunning(_) => {
                ServiceError::Conflict(e.to_string())
            }
            DbError::Moved => ServiceError::Unavailable(e.to_string()),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl ServiceError {
    /// Whether trying again later may succeed: a lost connection, a busy
    /// or locked database, a serialization failure, a store that moved
    /// mid-write. Anything else (bad data, a broken constraint, an event
    /// for the wrong store) fails the same way every time, so a write-behind
    /// queue dead-letters it instead of retrying for ever.
    pub fn is_transient(&self) -> bool {
        match self {
            ServiceError::Db(e) => sql_transient(e),
            ServiceError::Unavailable(_) => true,
            _ => false,
        }
    }

    /// Unique-constraint failures become a readable conflict on `what`.
    pub fn conflict_on(what: &str) -> impl FnOnce(sqlx::Error) -> ServiceError + '_ {
        move |e| {
            let unique = e
                .as_database_error()
                .is_some_and(|d| d.is_unique_violation());
            if unique {
                ServiceError::Conflict(format!("{what} already exists"))
            } else {
                ServiceError::Db(e)
            }
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            ServiceError::Invalid(_) => 400,
            ServiceError::NotFound(_) => 404,
            ServiceError::Conflict(_) => 409,
            ServiceError::Unauthenticated | ServiceError::MfaRequired(_) => 401,
            ServiceError::Forbidden => 403,
            ServiceError::TooManyAttempts(_) => 429,
            ServiceError::Stale(_) => 412,
            ServiceError::Unavailable(_) => 503,
            ServiceError::Internal(_) | ServiceError::Db(_) => 500,
        }
    }
}

fn sql_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite BUSY (5) and LOCKED (6), with their extended codes.
                matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(5 | 6))
            } else {
                // PostgreSQL classes 08 (connection), 40 (rollback:
                // serialization, deadlock), 53 (resources), 57 (operator).
                ["08", "40", "53", "57"].iter().any(|c| code.starts_with(c))
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_) => true,
        _ => false,
    }
}
