//! Fixtures for unit tests of services and gateway steps: the real service
//! layer on a fresh SQLite file, a tenant with a key, no HTTP server.

use clap::Parser;

use crate::domain::api_key::CreatedKey;
use crate::domain::tenant::{IsolationLevel, Tenant, TenantSettings};
use crate::server::cli::Cli;
use crate::server::services::{api_keys, tenants, Actor, Services};

pub struct Fixture {
    pub svc: Services,
    pub admin: Actor,
    _dir: tempfile::TempDir,
}

/// Services on a new database, migrated, with the caches loaded.
pub async fn services() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Cli::parse_from(["atrium"]).config;
    config.data_dir = dir.path().to_path_buf();
    config.database_url = Some(format!("sqlite://{}", dir.path().join("t.db").display()));
    config.redis_url = None;
    let svc = crate::server::runtime::open(config).await.expect("open");
    svc.refresh_caches().await.expect("caches");
    Fixture {
        svc,
        admin: Actor::system("test"),
        _dir: dir,
    }
}

impl Fixture {
    pub async fn tenant(&self, name: &str, rpm: i64, tpm: i64) -> Tenant {
        let settings =
            TenantSettings::new(name, IsolationLevel::RowLevel, "any", rpm, tpm).expect("settings");
        tenants::create(&self.svc, &self.admin, settings)
            .await
            .expect("tenant")
    }

    pub async fn key(&self, tenant: &Tenant) -> CreatedKey {
        api_keys::create(&self.svc, &self.admin, &tenant.id, "test", None)
            .await
            .expect("key")
    }
}
