use std::time::Duration;

use super::{Spool, SYNC_WINDOW};

/// Appends spread over 20 windows or more are synced about once a window, not
/// once an append: the wake an append leaves while a sync runs must not
/// end the next window at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_syncs_once_for_its_appends() {
    let dir = tempfile::tempdir().expect("dir");
    let (spool, _) = Spool::open(dir.path(), "test").expect("spool");
    let appends = 200;
    let started = std::time::Instant::now();
    for i in 0..appends {
        spool
            .append(format!("{{\"n\":{i}}}\n").as_bytes())
            .expect("append");
        tokio::time::sleep(SYNC_WINDOW / 10).await;
    }
    // Sleeps run long: the windows are counted from the time taken.
    let windows = (started.elapsed().as_millis() / SYNC_WINDOW.as_millis()) as usize;
    tokio::time::sleep(SYNC_WINDOW * 3).await;
    let syncs = spool.syncs();
    assert!(syncs >= 1, "nothing was synced");
    assert!(
        syncs <= windows + 2,
        "{syncs} syncs for {appends} appends over {windows} windows"
    );
}

/// A window ends early once 256 events wait: a burst is on disk soon
/// after it, well before the window would end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_window_syncs_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let (spool, _) = Spool::open(dir.path(), "test").expect("spool");
    let started = std::time::Instant::now();
    for i in 0..super::SYNC_EVERY_EVENTS {
        spool
            .append(format!("{{\"n\":{i}}}\n").as_bytes())
            .expect("append");
    }
    while spool.syncs() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a full window was not synced"
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}
