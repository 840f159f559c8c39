//! Tools for tests, demos and benchmarks, behind the `devtools` feature:
//! `make run`, `make test` and `make bench` build with it; the release
//! binary operators deploy does not.

pub mod audit_bench;
pub mod compliance_bench;
pub mod flag_bench;
pub mod loadgen;
mod mock_frames;
mod mock_options;
mod mock_plan;
mod mock_provider;
pub mod mock_upstream;
pub mod mock_vllm;
pub mod pii_bench;
pub mod store_bench;
pub mod usage_bench;
