//! The names of everything the audit trail records.

use serde::{Deserialize, Serialize};

/// Everything the audit trail records, by name. New kinds of change add a
/// variant here, so a writer cannot misspell one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    #[serde(rename = "admin_api.read")]
    AdminApiRead,
    #[serde(rename = "admin_token.create")]
    AdminTokenCreate,
    #[serde(rename = "admin_token.revoke")]
    AdminTokenRevoke,
    #[serde(rename = "api_key.create")]
    ApiKeyCreate,
    #[serde(rename = "api_key.revoke")]
    ApiKeyRevoke,
    #[serde(rename = "audit.export")]
    AuditExport,
    #[serde(rename = "audit.purge")]
    AuditPurge,
    #[serde(rename = "auth.sign_in")]
    AuthSignIn,
    #[serde(rename = "auth.sign_out")]
    AuthSignOut,
    #[serde(rename = "budget.set")]
    BudgetSet,
    #[serde(rename = "budget.remove")]
    BudgetRemove,
    #[serde(rename = "budget.alert")]
    BudgetAlert,
    #[serde(rename = "invoice.issue")]
    InvoiceIssue,
    #[serde(rename = "flag.create")]
    FlagCreate,
    #[serde(rename = "flag.rules")]
    FlagRules,
    #[serde(rename = "flag.rollout")]
    FlagRollout,
    #[serde(rename = "flag.enable")]
    FlagEnable,
    #[serde(rename = "flag.disable")]
    FlagDisable,
    #[serde(rename = "flag.archive")]
    FlagArchive,
    #[serde(rename = "flag.restore")]
    FlagRestore,
    #[serde(rename = "custom_model.register")]
    CustomModelRegister,
    #[serde(rename = "custom_model.validate")]
    CustomModelValidate,
    #[serde(rename = "custom_model.deploy")]
    CustomModelDeploy,
    #[serde(rename = "custom_model.undeploy")]
    CustomModelUndeploy,
    #[serde(rename = "custom_model.rollback")]
    CustomModelRollback,
    #[serde(rename = "custom_model.deprecate")]
    CustomModelDeprecate,
    #[serde(rename = "custom_model.retire")]
    CustomModelRetire,
    #[serde(rename = "custom_model.pin")]
    CustomModelPin,
    #[serde(rename = "pool.create")]
    PoolCreate,
    #[serde(rename = "pool.add_endpoint")]
    PoolAddEndpoint,
    #[serde(rename = "pool.remove")]
    PoolRemove,
    #[serde(rename = "model.upsert")]
    ModelUpsert,
    #[serde(rename = "model.remove")]
    ModelRemove,
    #[serde(rename = "model.server_tools")]
    ModelServerTools,
    #[serde(rename = "price.set")]
    PriceSet,
    #[serde(rename = "plan.create")]
    PlanCreate,
    #[serde(rename = "plan.archive")]
    PlanArchive,
    #[serde(rename = "tenant.set_plan")]
    TenantSetPlan,
    #[serde(rename = "model_alias.set")]
    ModelAliasSet,
    #[serde(rename = "model_alias.remove")]
    ModelAliasRemove,
    #[serde(rename = "policy.add")]
    PolicyAdd,
    #[serde(rename = "policy.update")]
    PolicyUpdate,
    #[serde(rename = "policy.remove")]
    PolicyRemove,
    #[serde(rename = "policy.block")]
    PolicyBlock,
    #[serde(rename = "policy.redact")]
    PolicyRedact,
    #[serde(rename = "policy.flag")]
    PolicyFlag,
    #[serde(rename = "provider.create")]
    ProviderCreate,
    #[serde(rename = "provider.remove")]
    ProviderRemove,
    #[serde(rename = "provider.update")]
    ProviderUpdate,
    #[serde(rename = "tenant.create")]
    TenantCreate,
    #[serde(rename = "tenant.update")]
    TenantUpdate,
    #[serde(rename = "tenant.suspend")]
    TenantSuspend,
    #[serde(rename = "tenant.resume")]
    TenantResume,
    #[serde(rename = "tenant.delete")]
    TenantDelete,
    #[serde(rename = "tenant.erase")]
    TenantErase,
    #[serde(rename = "tenant.set_isolation")]
    TenantSetIsolation,
    #[serde(rename = "tenant.audit_retention")]
    TenantAuditRetention,
    #[serde(rename = "tenant.request_log")]
    TenantRequestLog,
    #[serde(rename = "tenant.contacts")]
    TenantContacts,
    #[serde(rename = "request_log.purge")]
    RequestLogPurge,
    #[serde(rename = "compliance.report")]
    ComplianceReport,
    #[serde(rename = "compliance.erase")]
    ComplianceErase,
    #[serde(rename = "data.read")]
    DataRead,
    #[serde(rename = "breach.record")]
    BreachRecord,
    #[serde(rename = "breach.notify")]
    BreachNotify,
    #[serde(rename = "breach.inform")]
    BreachInform,
    #[serde(rename = "breach.art34")]
    BreachArt34,
    #[serde(rename = "user.delete")]
    UserDelete,
    #[serde(rename = "user.mfa_enable")]
    UserMfaEnable,
    #[serde(rename = "user.mfa_reset")]
    UserMfaReset,
    #[serde(rename = "mfa.require")]
    MfaRequire,
    #[serde(rename = "access_review.start")]
    AccessReviewStart,
    #[serde(rename = "access_review.attest")]
    AccessReviewAttest,
    #[serde(rename = "user.create")]
    UserCreate,
    #[serde(rename = "user.reset_password")]
    UserResetPassword,
    #[serde(rename = "user.disable")]
    UserDisable,
    #[serde(rename = "user.enable")]
    UserEnable,
}

impl AuditAction {
    pub const ALL: [AuditAction; 77] = [
        AuditAction::AdminApiRead,
        AuditAction::AdminTokenCreate,
        AuditAction::AdminTokenRevoke,
        AuditAction::ApiKeyCreate,
        AuditAction::ApiKeyRevoke,
        AuditAction::AuditExport,
        AuditAction::AuditPurge,
        AuditAction::AuthSignIn,
        AuditAction::AuthSignOut,
        AuditAction::BudgetSet,
        AuditAction::BudgetRemove,
        AuditAction::BudgetAlert,
        AuditAction::InvoiceIssue,
        AuditAction::FlagCreate,
        AuditAction::FlagRules,
        AuditAction::FlagRollout,
        AuditAction::FlagEnable,
        AuditAction::FlagDisable,
        AuditAction::FlagArchive,
        AuditAction::FlagRestore,
        AuditAction::CustomModelRegister,
        AuditAction::CustomModelValidate,
        AuditAction::CustomModelDeploy,
        AuditAction::CustomModelUndeploy,
        AuditAction::CustomModelRollback,
        AuditAction::CustomModelDeprecate,
        AuditAction::CustomModelRetire,
        AuditAction::CustomModelPin,
        AuditAction::PoolCreate,
        AuditAction::PoolAddEndpoint,
        AuditAction::PoolRemove,
        AuditAction::ModelUpsert,
        AuditAction::ModelRemove,
        AuditAction::PriceSet,
        AuditAction::PlanCreate,
        AuditAction::PlanArchive,
        AuditAction::TenantSetPlan,
        AuditAction::ModelAliasSet,
        AuditAction::ModelAliasRemove,
        AuditAction::ModelServerTools,
        AuditAction::PolicyAdd,
        AuditAction::PolicyUpdate,
        AuditAction::PolicyRemove,
        AuditAction::PolicyBlock,
        AuditAction::PolicyRedact,
        AuditAction::PolicyFlag,
        AuditAction::ProviderCreate,
        AuditAction::ProviderRemove,
        AuditAction::ProviderUpdate,
        AuditAction::TenantCreate,
        AuditAction::TenantUpdate,
        AuditAction::TenantSuspend,
        AuditAction::TenantResume,
        AuditAction::TenantDelete,
        AuditAction::TenantErase,
        AuditAction::TenantSetIsolation,
        AuditAction::TenantAuditRetention,
        AuditAction::TenantRequestLog,
        AuditAction::TenantContacts,
        AuditAction::RequestLogPurge,
        AuditAction::ComplianceReport,
        AuditAction::ComplianceErase,
        AuditAction::DataRead,
        AuditAction::BreachRecord,
        AuditAction::BreachNotify,
        AuditAction::BreachInform,
        AuditAction::BreachArt34,
        AuditAction::UserDelete,
        AuditAction::UserMfaEnable,
        AuditAction::UserMfaReset,
        AuditAction::MfaRequire,
        AuditAction::AccessReviewStart,
        AuditAction::AccessReviewAttest,
        AuditAction::UserCreate,
        AuditAction::UserResetPassword,
        AuditAction::UserDisable,
        AuditAction::UserEnable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::AdminApiRead => "admin_api.read",
            AuditAction::AdminTokenCreate => "admin_token.create",
            AuditAction::AdminTokenRevoke => "admin_token.revoke",
            AuditAction::ApiKeyCreate => "api_key.create",
            AuditAction::ApiKeyRevoke => "api_key.revoke",
            AuditAction::AuditExport => "audit.export",
            AuditAction::AuditPurge => "audit.purge",
            AuditAction::AuthSignIn => "auth.sign_in",
            AuditAction::AuthSignOut => "auth.sign_out",
            AuditAction::BudgetSet => "budget.set",
            AuditAction::BudgetRemove => "budget.remove",
            AuditAction::BudgetAlert => "budget.alert",
            AuditAction::InvoiceIssue => "invoice.issue",
            AuditAction::FlagCreate => "flag.create",
            AuditAction::FlagRules => "flag.rules",
            AuditAction::FlagRollout => "flag.rollout",
            AuditAction::FlagEnable => "flag.enable",
            AuditAction::FlagDisable => "flag.disable",
            AuditAction::FlagArchive => "flag.archive",
            AuditAction::FlagRestore => "flag.restore",
            AuditAction::CustomModelRegister => "custom_model.register",
            AuditAction::CustomModelValidate => "custom_model.validate",
            AuditAction::CustomModelDeploy => "custom_model.deploy",
            AuditAction::CustomModelUndeploy => "custom_model.undeploy",
            AuditAction::CustomModelRollback => "custom_model.rollback",
            AuditAction::CustomModelDeprecate => "custom_model.deprecate",
            AuditAction::CustomModelRetire => "custom_model.retire",
            AuditAction::CustomModelPin => "custom_model.pin",
            AuditAction::PoolCreate => "pool.create",
            AuditAction::PoolAddEndpoint => "pool.add_endpoint",
            AuditAction::PoolRemove => "pool.remove",
            AuditAction::ModelUpsert => "model.upsert",
            AuditAction::ModelRemove => "model.remove",
            AuditAction::PriceSet => "price.set",
            AuditAction::PlanCreate => "plan.create",
            AuditAction::PlanArchive => "plan.archive",
            AuditAction::TenantSetPlan => "tenant.set_plan",
            AuditAction::ModelAliasSet => "model_alias.set",
            AuditAction::ModelAliasRemove => "model_alias.remove",
            AuditAction::ModelServerTools => "model.server_tools",
            AuditAction::PolicyAdd => "policy.add",
            AuditAction::PolicyUpdate => "policy.update",
            AuditAction::PolicyRemove => "policy.remove",
            AuditAction::PolicyBlock => "policy.block",
            AuditAction::PolicyRedact => "policy.redact",
            AuditAction::PolicyFlag => "policy.flag",
            AuditAction::ProviderCreate => "provider.create",
            AuditAction::ProviderRemove => "provider.remove",
            AuditAction::ProviderUpdate => "provider.update",
            AuditAction::TenantCreate => "tenant.create",
            AuditAction::TenantUpdate => "tenant.update",
            AuditAction::TenantSuspend => "tenant.suspend",
            AuditAction::TenantResume => "tenant.resume",
            AuditAction::TenantDelete => "tenant.delete",
            AuditAction::TenantErase => "tenant.erase",
            AuditAction::TenantSetIsolation => "tenant.set_isolation",
            AuditAction::TenantAuditRetention => "tenant.audit_retention",
            AuditAction::TenantRequestLog => "tenant.request_log",
            AuditAction::TenantContacts => "tenant.contacts",
            AuditAction::RequestLogPurge => "request_log.purge",
            AuditAction::ComplianceReport => "compliance.report",
            AuditAction::ComplianceErase => "compliance.erase",
            AuditAction::DataRead => "data.read",
            AuditAction::BreachRecord => "breach.record",
            AuditAction::BreachNotify => "breach.notify",
            AuditAction::BreachInform => "breach.inform",
            AuditAction::BreachArt34 => "breach.art34",
            AuditAction::UserDelete => "user.delete",
            AuditAction::UserMfaEnable => "user.mfa_enable",
            AuditAction::UserMfaReset => "user.mfa_reset",
            AuditAction::MfaRequire => "mfa.require",
            AuditAction::AccessReviewStart => "access_review.start",
            AuditAction::AccessReviewAttest => "access_review.attest",
            AuditAction::UserCreate => "user.create",
            AuditAction::UserResetPassword => "user.reset_password",
            AuditAction::UserDisable => "user.disable",
            AuditAction::UserEnable => "user.enable",
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AuditAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown audit action {s}"))
    }
}
