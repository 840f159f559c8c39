//! Everything with I/O: configuration, storage, services, HTTP and the CLI.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod http;
pub mod services;
