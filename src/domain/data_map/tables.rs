//! The map itself: every table, control plane first, built from the
//! shapes most tables share.

use super::{Category, Erasure, LawfulBasis, Retention, Store, SubjectKey, Table};

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
        // The creator is named as `user:<id>`, a pseudonym; tenant tokens
        // go with their tenant, platform tokens stay until revoked.
        subjects: &[S::Tenant, S::User],
        ..tenant_config(
            "admin_tokens",
            "authenticating admin API clients (hashes only; creator as user:<id>)",
        )
    },
    Table {
        retention: Retention::Expires,
        erasure: Erasure::OnExpiry,
        ..config(
            "idempotency_keys",
            "answering a retried admin API create with its first result (24 hours)",
        )
    },
    Table {
        // A form's outcome may carry a new key's secret: sealed, keyed by a
        // session hash, gone on first read or after two minutes.
        subjects: &[S::User],
        categories: &[C::Credentials],
        basis: LawfulBasis::Contract,
        retention: Retention::Expires,
        erasure: Erasure::OnExpiry,
        ..config(
            "flashes",
            "showing a form's outcome once on the next page, on any replica",
        )
    },
    config(
        "job_leases",
        "running each periodic job on one replica at a time",
    ),
    config(
        "replicas",
        "knowing which replicas are live, to refuse unsafe ones at start",
    ),
    config(
        "cache_versions",
        "rebuilding on every replica only the caches a change touched",
    ),
    config(
        "engine_states",
        "showing every replica the serving engines as last checked",
    ),
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
        retention: Retention::Expires,
        erasure: Erasure::OnExpiry,
        ..tenant_config(
            "erasure_holds",
            "erasures running, so no move of the tenant's data starts meanwhile",
        )
    },
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
