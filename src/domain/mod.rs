//! Pure types and rules: no I/O, no async. Shared by the server and the browser.

pub mod api_key;
pub mod audit;
pub mod audit_action;
pub mod audit_search;
pub mod budget;
pub mod catalog;
pub mod completion;
pub mod custom_model;
pub mod dashboard;
pub mod flag;
pub mod flash;
pub mod gcra;
pub mod invoice;
pub mod meter;
pub mod page;
pub mod pii;
pub mod plan;
pub mod policy;
pub mod price;
pub mod pricing;
pub mod role;
pub mod tenant;
pub mod time;
pub mod usage;
pub mod user;
pub mod validation;
