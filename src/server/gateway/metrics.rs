//! Prometheus metrics: one recorder per process, rendered at /metrics.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Installs the recorder the first time; later calls share it.
pub fn handle() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .ok()?
                .install_recorder()
                .ok()
        })
        .clone()
}

/// Folds recorded histogram samples into buckets now and then, so memory
/// stays flat when nobody scrapes /metrics.
pub fn spawn_upkeep() {
    static STARTED: OnceLock<()> = OnceLock::new();
    if let Some(h) = handle() {
        STARTED.get_or_init(|| {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    h.run_upkeep();
                }
            });
        });
    }
}

pub fn render() -> String {
    handle().map(|h| h.render()).unwrap_or_default()
}
