//! A hung test names itself and ends the run, instead of silently using up
//! CI's time limit: every trial registers while it runs, and a watchdog
//! thread exits the process once one has run longer than the limit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Generous: the slowest trial takes well under a minute on a loaded 2-core
/// machine. `ATRIUM_TEST_TIMEOUT_SECS` overrides it.
const DEFAULT_LIMIT_SECS: u64 = 300;

static RUNNING: OnceLock<Mutex<HashMap<u64, (String, Instant)>>> = OnceLock::new();
static NEXT: AtomicU64 = AtomicU64::new(0);

fn running() -> &'static Mutex<HashMap<u64, (String, Instant)>> {
    RUNNING.get_or_init(|| {
        let limit = std::env::var("ATRIUM_TEST_TIMEOUT_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_LIMIT_SECS);
        std::thread::spawn(move || watch(Duration::from_secs(limit)));
        Mutex::new(HashMap::new())
    })
}

fn watch(limit: Duration) {
    loop {
        std::thread::sleep(Duration::from_secs(5));
        let Ok(map) = running().lock() else { return };
        if map.values().any(|(_, since)| since.elapsed() > limit) {
            for (name, since) in map.values() {
                eprintln!(
                    "HUNG: {name} still running after {} s (limit {} s)",
                    since.elapsed().as_secs(),
                    limit.as_secs()
                );
            }
            std::process::exit(101);
        }
    }
}

/// Runs one trial's body under the watchdog.
pub fn watched<T>(name: &str, body: impl FnOnce() -> T) -> T {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut map) = running().lock() {
        map.insert(id, (name.to_string(), Instant::now()));
    }
    struct Done(u64);
    impl Drop for Done {
        fn drop(&mut self) {
            if let Ok(mut map) = running().lock() {
                map.remove(&self.0);
            }
        }
    }
    let _done = Done(id);
    body()
}
