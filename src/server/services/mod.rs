//! Use-cases, one module per concept: the only place business rules live.
//! The portal, the CLI and the gateway are thin adapters over these functions.

pub mod actor;
pub mod api_keys;
pub mod audit;
pub mod bootstrap;
pub mod control;
pub mod error;
pub mod tenants;
pub mod users;

use std::sync::Arc;

pub use actor::Actor;
pub use error::ServiceError;

use super::config::Config;
use super::db::Db;

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// The shared core every adapter holds: the database, the config and the
/// caches the hot path reads instead of the database.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub config: Arc<Config>,
    pub keys: Arc<api_keys::KeyCache>,
}

impl Services {
    pub fn new(db: Db, config: Config) -> Self {
        Self {
            db,
            config: Arc::new(config),
            keys: Arc::new(api_keys::KeyCache::default()),
        }
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
