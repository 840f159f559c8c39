//! Everything with I/O: configuration, the runtime, storage, services, the
//! completion gateway, HTTP and the CLI.

pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
/// Mock providers, load generators and benches: for tests, demos and
/// `make bench`, never in the binary operators deploy.
#[cfg(feature = "devtools")]
pub mod devtools;
pub mod gateway;
pub mod http;
pub mod jobs;
pub mod net;
/// The request id every response carries: below both the gateway and the
/// HTTP routers, so neither imports the other for it.
pub mod request_id;
pub mod runtime;
pub mod services;
#[cfg(test)]
pub mod testing;
