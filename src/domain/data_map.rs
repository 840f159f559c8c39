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

const fn config(name: &'static str, purpose: &'static str) -> Table {
    Table {
        name,
        store: Store::ControlPlane,
        purpose,
        subjects: &[],
        categories: &[],
        basis: LawfulBasis::NotPersonal,
        retention: Retention::Configuration,
        erasure: Erasure::NotPersonal,
    }
}

/// A tenant's own configuration: no personal data, gone with the tenant.
const fn tenant_config(name: &'static str, purpose: &'static str) -> Table {
    Table {
        subjects: &[SubjectKey::Tenant],
        basis: LawfulBasis::Contract,
        retention: Retention::TenantLifetime,
        erasure: Erasure::WithTenant,
        ..config(name, purpose)
    }
}

use Category as C;
use SubjectKey as S;

/// Every table, control plane first.
pub const TABLES: &[Table] = &[
    tenant_config("tenants", "the tenants served, their limits and settings"),
    Table {
        subjects: &[S::Tenant, S::ApiKey, S::User],
        categories: &[C::Credentials],
        retention: Retention::UntilSubjectDeleted,
        erasure: Erasure::WithSubject,
        ..tenant_config("api_keys", "authenticating API clients (hashes only)")
    },
    Table {
        subjects: &[S::User, S::Tenant],
        categories: &[C::ContactDetails, C::Credentials],
        retention: Retention::UntilSubjectDeleted,
        erasure: Erasure::WithSubject,
        ..tenant_config("users", "portal accounts: e-mail, role, password hash")
    },
    Table {
        subjects: &[S::User],
        categories: &[C::Credentials],
        retention: Retention::Expires,
        erasure: Erasure::OnExpiry,
        ..tenant_config("sessions", "signed-in portal sessions (token hashes)")
    },
    Table {
        subjects: &[S::Email, S::ClientIp],
        categories: &[C::ContactDetails, C::NetworkIdentifiers],
        basis: LawfulBasis::LegitimateInterests,
        retention: Retention::Expires,
        erasure: Erasure::OnExpiry,
        ..config(
            "sign_in_throttle",
            "slowing password guessing per account and address",
        )
    },
    Table {
        subjects: &[S::Tenant, S::User, S::Email, S::ClientIp],
        categories: &[C::ActivityRecords, C::ContactDetails, C::NetworkIdentifiers],
        basis: LawfulBasis::LegitimateInterests,
        retention: Retention::AuditRetention,
        erasure: Erasure::RetentionPurge,
        ..config(
            "audit_events",
            "the keyed audit trail of every change and decision",
        )
    },
    config(
        "audit_chains",
        "each audit chain's head and last checkpoint",
    ),
    config(
        "control_version",
        "tells replicas when cached configuration changed",
    ),
    config("providers", "the model providers and their regions"),
    config("models", "the model catalog"),
    config("model_prices", "model prices with their history"),
    config("deployments", "which providers serve which models"),
    config(
        "evaluation_prices",
        "the price of a flag evaluation, with history",
    ),
    tenant_config("model_aliases", "a tenant's names for catalog models"),
    tenant_config(
        "policies",
        "data policies: PII detection, redaction, blocking",
    ),
    tenant_config(
        "tenant_stores",
        "where each tenant's data lives (isolation)",
    ),
    Table {
        categories: &[C::ActivityRecords],
        ..tenant_config("dead_letters", "writes that failed, kept to be replayed")
    },
    tenant_config("flags", "feature flags: the platform's and tenants' own"),
    config("plans", "billing plans"),
    tenant_config("subscriptions", "which plan a tenant is on, from when"),
    tenant_config("budgets", "spend limits and their alert webhooks"),
    tenant_config(
        "budget_alerts",
        "budget thresholds crossed and their delivery",
    ),
    Table {
        categories: &[C::BillingRecords],
        basis: LawfulBasis::LegalObligation,
        retention: Retention::Bookkeeping,
        erasure: Erasure::KeptForBookkeeping,
        ..tenant_config("invoices", "issued invoices, unchanged once issued")
    },
    config(
        "invoice_sequences",
        "invoice numbers, one sequence per month",
    ),
    tenant_config("meter_samples", "daily samples of stored data per tenant"),
    tenant_config("custom_models", "tenants' fine-tuned (LoRA) model versions"),
    tenant_config(
        "custom_model_routes",
        "which version a custom model name serves",
    ),
    tenant_config(
        "custom_model_served",
        "when each version was served, for billing",
    ),
    config("serving_pools", "the vLLM pools that serve custom models"),
    config("pool_endpoints", "each pool's engines"),
    Table {
        store: Store::Tenant,
        subjects: &[S::Tenant, S::ApiKey, S::EndUser],
        categories: &[C::UsageRecords, C::PseudonymousIds],
        ..tenant_config("usage_events", "the ledger: one row per request, priced")
    },
    Table {
        store: Store::Tenant,
        subjects: &[S::Tenant, S::ApiKey],
        categories: &[C::UsageRecords],
        ..tenant_config(
            "usage_hourly",
            "hourly rollups of the ledger for dashboards",
        )
    },
    Table {
        store: Store::Tenant,
        subjects: &[S::Tenant, S::ApiKey, S::DataSubject],
        categories: &[C::PromptContent, C::UsageRecords],
        retention: Retention::RequestLogRetention,
        erasure: Erasure::BySubject,
        ..tenant_config(
            "request_log",
            "the opt-in request log: prompts and answers after redaction",
        )
    },
    Table {
        store: Store::Tenant,
        subjects: &[S::DataSubject],
        categories: &[C::PseudonymousIds],
        retention: Retention::RequestLogRetention,
        erasure: Erasure::BySubject,
        ..tenant_config(
            "request_log_subjects",
            "keyed hashes of identifiers found in the request log",
        )
    },
    Table {
        subjects: &[S::Tenant, S::DataSubject],
        categories: &[C::ActivityRecords, C::PromptContent, C::PseudonymousIds],
        basis: LawfulBasis::LegalObligation,
        retention: Retention::Bookkeeping,
        erasure: Erasure::BySubject,
        ..tenant_config(
            "compliance_reports",
            "issued compliance reports and erasure receipts, signed",
        )
    },
    Table {
        subjects: &[S::Tenant],
        categories: &[C::ActivityRecords, C::ContactDetails],
        basis: LawfulBasis::LegalObligation,
        retention: Retention::Bookkeeping,
        erasure: Erasure::KeptForBookkeeping,
        ..config(
            "breaches",
            "the breach register (Art. 33(5)): every breach, notified or not",
        )
    },
    Table {
        subjects: &[S::Tenant],
        categories: &[C::ActivityRecords],
        basis: LawfulBasis::LegalObligation,
        retention: Retention::Bookkeeping,
        erasure: Erasure::KeptForBookkeeping,
        ..config(
            "breach_notices",
            "which tenants were informed of a breach, when",
        )
    },
    Table {
        subjects: &[S::User],
        categories: &[C::Credentials],
        retention: Retention::UntilSubjectDeleted,
        erasure: Erasure::WithSubject,
        ..tenant_config("user_recovery_codes", "MFA recovery codes (hashes only)")
    },
    config("mfa_requirements", "the roles that must sign in with MFA"),
    Table {
        subjects: &[S::Tenant, S::User, S::ApiKey],
        categories: &[C::ActivityRecords],
        basis: LawfulBasis::LegitimateInterests,
        retention: Retention::Bookkeeping,
        erasure: Erasure::KeptForBookkeeping,
        ..config("access_reviews", "access reviews: who attested what, when")
    },
    Table {
        subjects: &[S::User, S::ApiKey],
        categories: &[C::ActivityRecords, C::ContactDetails],
        basis: LawfulBasis::LegitimateInterests,
        retention: Retention::Bookkeeping,
        erasure: Erasure::KeptForBookkeeping,
        ..config(
            "access_review_items",
            "each user and key reviewed, and the decision",
        )
    },
];

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
