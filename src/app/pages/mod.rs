//! One module per page.

pub mod audit;
pub mod billing;
pub mod budgets;
pub mod dashboard;
pub mod flag_detail;
pub mod flags;
pub mod layout;
pub mod login;
pub mod models;
pub mod not_found;
pub mod policies;
pub mod tenant_detail;
pub mod tenants;
pub mod users;
