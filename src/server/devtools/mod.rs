//! Tools for tests, demos and benchmarks, behind the `devtools` feature:
//! `make run`, `make test` and `make bench` build with it; the release
//! binary operators deploy does not.

pub mod audit_bench;
pub mod compliance_bench;
pub mod flag_bench;
pub mod loadgen;
mod mock_frames;
mod mock_plan;
pub mod mock_upstream;
pub mod mock_vllm;
pub mod pii_bench;
pub mod store_bench;
pub mod usage_bench;

/// `ATRIUM_BENCH_NO_FLAG_CHECKS=1`: every capability reads as on without
/// evaluating its flag, so `make bench` can measure what flag checks cost
/// the gateway. Absent from the binary operators deploy.
pub fn flag_checks_skipped() -> bool {
    static SKIP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SKIP.get_or_init(|| std::env::var("ATRIUM_BENCH_NO_FLAG_CHECKS").is_ok_and(|v| v == "1"))
}
