//! Everything with I/O: configuration, storage, services, HTTP and the CLI.

pub mod audit_bench;
pub mod auth;
pub mod cli;
pub mod cli_governance;
pub mod config;
pub mod crypto;
pub mod db;
pub mod gateway;
pub mod http;
pub mod loadgen;
pub mod mock_upstream;
pub mod pii_cli;
pub mod services;
pub mod store_bench;
