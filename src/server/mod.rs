//! Everything with I/O: configuration, storage, services, HTTP and the CLI.

pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod gateway;
pub mod http;
pub mod loadgen;
pub mod mock_upstream;
pub mod services;
