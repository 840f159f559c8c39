//! Where one tenant's data physically lives, and the names of those places.

use std::fmt;
use std::ops::Deref;

use crate::domain::tenant::IsolationLevel;
use crate::server::db::{Backend, DbError};

/// The name of a schema, table prefix, database or file that holds one
/// tenant's data. Such names are spliced into SQL and paths, so only names
/// of the shape Atrium makes are accepted: when made, and again when read
/// back from the database (a row edited by hand cannot inject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreName(String);

/// PostgreSQL's identifier limit.
const MAX_NAME: usize = 63;

impl StoreName {
    pub fn parse(raw: &str) -> Result<Self, DbError> {
        let bare = raw
            .strip_prefix("tenants/")
            .and_then(|r| r.strip_suffix(".db"))
            .unwrap_or(raw);
        let ok = !bare.is_empty()
            && raw.len() <= MAX_NAME
            && bare
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(StoreName(raw.to_string()))
        } else {
            Err(DbError::Store(format!(
                "refusing a tenant store name of an unexpected shape: {raw:?}"
            )))
        }
    }
}

impl StoreName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for StoreName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StoreName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant store's place. Names carry a random suffix so that a store
/// provisioned again (after a move away and back) never shares a name with
/// one an older pool may still hold open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Row level: the shared tables, fenced by tenant_id (and RLS on PostgreSQL).
    Shared,
    /// A PostgreSQL schema, or a table-name prefix in the main SQLite file.
    Namespace(StoreName),
    /// A PostgreSQL database name, or a SQLite file relative to the data directory.
    Database(StoreName),
}

impl Location {
    /// A fresh place for `tenant_id` at `level`.
    pub fn fresh(
        level: IsolationLevel,
        tenant_id: &str,
        backend: Backend,
        main_db: &str,
    ) -> Result<Self, DbError> {
        let id = ident(tenant_id);
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
        let name = match (level, backend) {
            (IsolationLevel::RowLevel, _) => return Ok(Location::Shared),
            (IsolationLevel::SchemaPerTenant, _) => format!("t_{id}_{suffix}"),
            (IsolationLevel::DatabasePerTenant, Backend::Sqlite) => {
                format!("tenants/{id}_{suffix}.db")
            }
            // PostgreSQL names stop at 63 bytes: 20 + 3 + 32 + 1 + 6.
            (IsolationLevel::DatabasePerTenant, Backend::Postgres) => {
                let main: String = ident_of(main_db).chars().take(20).collect();
                format!("{main}_t_{id}_{suffix}")
            }
        };
        Self::from_stored(level, &name)
    }

    pub fn from_stored(level: IsolationLevel, stored: &str) -> Result<Self, DbError> {
        Ok(match level {
            IsolationLevel::RowLevel => Location::Shared,
            IsolationLevel::SchemaPerTenant => Location::Namespace(StoreName::parse(stored)?),
            IsolationLevel::DatabasePerTenant => Location::Database(StoreName::parse(stored)?),
        })
    }

    pub fn level(&self) -> IsolationLevel {
        match self {
            Location::Shared => IsolationLevel::RowLevel,
            Location::Namespace(_) => IsolationLevel::SchemaPerTenant,
            Location::Database(_) => IsolationLevel::DatabasePerTenant,
        }
    }

    pub fn stored(&self) -> &str {
        match self {
            Location::Shared => "",
            Location::Namespace(n) | Location::Database(n) => n,
        }
    }

    /// Whether the store lives in the main database (and can share its transactions).
    pub fn in_main(&self) -> bool {
        !matches!(self, Location::Database(_))
    }

    /// For people: what an operator would look for to find the data.
    pub fn describe(&self, backend: Backend) -> String {
        match (self, backend) {
            (Location::Shared, Backend::Postgres) => {
                "shared table usage_events (row level security on tenant_id)".into()
            }
            (Location::Shared, Backend::Sqlite) => "shared table usage_events (tenant_id)".into(),
            (Location::Namespace(n), Backend::Postgres) => format!("schema {n}"),
            (Location::Namespace(n), Backend::Sqlite) => {
                format!("tables {n}_* in the main database file")
            }
            (Location::Database(n), Backend::Postgres) => format!("database {n}"),
            (Location::Database(n), Backend::Sqlite) => format!("file {n}"),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Shared => f.write_str("shared"),
            Location::Namespace(n) | Location::Database(n) => f.write_str(n),
        }
    }
}

/// Tenant ids are UUIDs; only their hex digits reach SQL identifiers and paths.
fn ident(tenant_id: &str) -> String {
    tenant_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(32)
        .collect()
}

fn ident_of(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_of_another_shape_are_refused() {
        for bad in [
            "",
            "t_x; DROP TABLE tenants",
            "T_UPPER",
            "tenants/../../etc/passwd.db",
            "tenants/x.db/..",
            &"a".repeat(64),
            "x\"y",
        ] {
            assert!(StoreName::parse(bad).is_err(), "{bad:?}");
            assert!(Location::from_stored(IsolationLevel::SchemaPerTenant, bad).is_err());
        }
        assert!(StoreName::parse("t_0b6f_a1b2c3").is_ok());
        assert!(StoreName::parse("tenants/t_0b6f_a1b2c3.db").is_ok());
    }

    const ID: &str = "0b6f7c1e-4f1a-4d2b-9d0e-8f3a2b1c0d9e";

    #[test]
    fn names_are_safe_identifiers_within_postgres_limits() {
        let long_main = "atrium_test_0123456789abcdef0123456789abcdef";
        for level in IsolationLevel::ALL {
            for backend in [Backend::Sqlite, Backend::Postgres] {
                let loc = Location::fresh(level, ID, backend, long_main).expect("name");
                assert!(loc.stored().len() <= 63, "{loc}");
                assert!(loc
                    .stored()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_/.".contains(c)));
                assert_eq!(loc.level(), level);
                assert_eq!(
                    Location::from_stored(level, loc.stored()).expect("read"),
                    loc
                );
            }
        }
    }

    #[test]
    fn fresh_names_differ_each_time() {
        let a = Location::fresh(IsolationLevel::SchemaPerTenant, ID, Backend::Postgres, "m");
        let b = Location::fresh(IsolationLevel::SchemaPerTenant, ID, Backend::Postgres, "m");
        let (a, b) = (a.expect("a"), b.expect("b"));
        assert_ne!(a, b);
    }

    #[test]
    fn hostile_ids_cannot_inject() {
        let loc = Location::fresh(
            IsolationLevel::SchemaPerTenant,
            "x\"; DROP TABLE tenants; --",
            Backend::Postgres,
            "main",
        )
        .expect("name");
        assert!(loc
            .stored()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }
}
