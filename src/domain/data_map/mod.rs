//! Every table Atrium keeps, in the control plane and in tenant stores:
//! whose data it holds (its subject keys), which categories of personal
//! data, why and how long it is kept, and how it is erased. Compliance
//! reports (record of processing, access, erasure) are built from this
//! map, not from SQL written per report; a test fails when a migration
//! creates a table the map does not list.

use serde::Serialize;

/// Where a table lives. Tenant-store tables also exist in the control
/// plane's database, shared at the row-level isolation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Store {
    ControlPlane,
    Tenant,
}

/// The columns that say whose data a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKey {
    /// `tenant_id`: the tenant (a controller, and its people through it).
    Tenant,
    /// A portal user: `user_id`, or the user's id as the actor.
    User,
    /// An API key, and through its creator a person.
    ApiKey,
    /// The end user a client names (OpenAI `user`, Anthropic `metadata.user_id`).
    EndUser,
    /// An e-mail address held in clear (sign-in throttling, older audit events).
    Email,
    /// A client IP address.
    ClientIp,
    /// People named in prompts and answers: found through the request
    /// log's subject index (keyed hashes of e-mails, phones, end-user ids).
    DataSubject,
}

/// Categories of personal data (GDPR Art. 30(1)(c)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// E-mail addresses of portal users.
    ContactDetails,
    /// Hashes of passwords, keys and session tokens: never the secrets.
    Credentials,
    /// Client IP addresses.
    NetworkIdentifiers,
    /// Who called what, when, at what cost: the ledger and rollups.
    UsageRecords,
    /// Who changed what, when: the audit trail.
    ActivityRecords,
    /// Invoices and the usage they bill.
    BillingRecords,
    /// Pseudonymous identifiers: end-user ids, keyed hashes.
    PseudonymousIds,
    /// The text of prompts and answers, after the tenant's redaction.
    PromptContent,
}

/// Why a table is kept (GDPR Art. 6(1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LawfulBasis {
    /// Art. 6(1)(b): providing the service the tenant contracted for.
    Contract,
    /// Art. 6(1)(c): bookkeeping retention of issued invoices.
    LegalObligation,
    /// Art. 6(1)(f): security of the service (audit, throttling).
    LegitimateInterests,
    /// Configuration that holds no personal data.
    NotPersonal,
}

/// How long rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    /// As long as the tenant (or the platform) exists.
    TenantLifetime,
    /// Until its subject is deleted (a user, a key).
    UntilSubjectDeleted,
    /// Rows expire on their own (sessions, throttling windows).
    Expires,
    /// The tenant's audit retention in days, or the platform's.
    AuditRetention,
    /// Bookkeeping retention: kept after the tenant is deleted.
    Bookkeeping,
    /// Configuration, kept while the deployment runs.
    Configuration,
    /// The tenant's request-log retention in days (purges are audited).
    RequestLogRetention,
}

/// How rows are erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Erasure {
    /// Deleted with the tenant (cascade, or the tenant store erased).
    WithTenant,
    /// Deleted with the user or key they belong to, and with the tenant.
    WithSubject,
    /// Deleted when they expire, and with the tenant.
    OnExpiry,
    /// Purged by audit retention; the keyed chain keeps verifying.
    /// Events name users by id from issue 22 on; older ones are kept under
    /// Art. 17(3)(b) and (e).
    RetentionPurge,
    /// Kept for bookkeeping after the tenant is deleted.
    KeptForBookkeeping,
    /// Erased per subject through the subject index (Art. 17), purged by
    /// retention, and with the tenant.
    BySubject,
    /// Holds no personal data.
    NotPersonal,
}

/// One table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Table {
    pub name: &'static str,
    pub store: Store,
    pub purpose: &'static str,
    pub subjects: &'static [SubjectKey],
    pub categories: &'static [Category],
    pub basis: LawfulBasis,
    pub retention: Retention,
    pub erasure: Erasure,
}

mod tables;

pub use tables::TABLES;

/// The map's entry for `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// The tables of one store.
pub fn in_store(store: Store) -> impl Iterator<Item = &'static Table> {
    TABLES.iter().filter(move |t| t.store == store)
}

/// Tables the database keeps for itself, not Atrium's data.
pub fn is_bookkeeping(name: &str) -> bool {
    name.starts_with("_sqlx") || name.starts_with("sqlite_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_once_and_personal_data_has_a_basis() {
        let mut names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a table listed twice");
        for t in TABLES.iter().filter(|t| !t.categories.is_empty()) {
            assert_ne!(
                t.basis,
                LawfulBasis::NotPersonal,
                "{}: a lawful basis",
                t.name
            );
            assert_ne!(
                t.erasure,
                Erasure::NotPersonal,
                "{}: a way to erase",
                t.name
            );
            assert!(!t.subjects.is_empty(), "{}: whose data it is", t.name);
        }
    }
}
