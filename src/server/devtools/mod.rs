//! Tools for tests, demos and benchmarks, behind the `devtools` feature:
//! `make run`, `make test` and `make bench` build with it; the release
//! binary operators deploy does not.

pub mod audit_bench;
pub mod flag_bench;
pub mod loadgen;
mod mock_plan;
pub mod mock_upstream;
pub mod pii_bench;
pub mod store_bench;
