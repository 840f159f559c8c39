//! One module per page.

pub mod account;
pub mod admin_tokens;
pub mod audit;
pub mod billing;
pub mod budgets;
pub mod compliance;
pub mod dashboard;
pub mod deployments;
pub mod flag_detail;
pub mod flags;
pub mod invoice;
pub mod layout;
pub mod login;
pub mod models;
pub mod not_found;
pub mod operations;
pub mod platform_usage;
pub mod policies;
pub mod tenant_detail;
pub mod tenants;
pub mod usage;
pub mod usage_summary;
pub mod users;
