use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Spool, SYNC_EVERY_EVENTS, SYNC_WINDOW};

fn line(i: usize) -> Vec<u8> {
    format!("{{\"n\":{i}}}\n").into_bytes()
}

/// Appends arriving all the time (every 100 µs, so some during each
/// sync) are synced about once a window, not back to back: the wake an
/// append leaves while a sync runs must not end the next window at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_syncs_once_for_its_appends() {
    let dir = tempfile::tempdir().expect("dir");
    let (spool, _) = Spool::open(dir.path(), "test").expect("spool");
    let writer = Arc::clone(&spool);
    let started = Instant::now();
    let appends = std::thread::spawn(move || {
        let mut n = 0;
        // Under 256 appends a window, so only the window ends one.
        while started.elapsed() < SYNC_WINDOW * 20 {
            writer.append(&line(n)).expect("append");
            n += 1;
            std::thread::sleep(Duration::from_micros(100));
        }
        n
    });
    let appended = tokio::task::spawn_blocking(move || appends.join().expect("appender"))
        .await
        .expect("join");
    let windows = (started.elapsed().as_millis() / SYNC_WINDOW.as_millis()) as usize;
    tokio::time::sleep(SYNC_WINDOW * 3).await;
    let syncs = spool.syncs();
    assert!(syncs >= 1, "nothing was synced");
    assert!(
        syncs <= windows + 2,
        "{syncs} syncs for {appended} appends over {windows} windows"
    );
}

/// A window ends early once 256 events wait: with a window of a minute,
/// a burst is still on disk within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_window_syncs_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let window = Duration::from_secs(60);
    let (spool, _) = Spool::open_with(dir.path(), "test", window).expect("spool");
    let started = Instant::now();
    for i in 0..SYNC_EVERY_EVENTS {
        spool.append(&line(i)).expect("append");
    }
    while spool.syncs() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a full window was not synced"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Fewer than 256 events wait out the whole window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_is_waited_out() {
    let dir = tempfile::tempdir().expect("dir");
    let window = Duration::from_millis(300);
    let (spool, _) = Spool::open_with(dir.path(), "test", window).expect("spool");
    for i in 0..10 {
        spool.append(&line(i)).expect("append");
    }
    tokio::time::sleep(window / 3).await;
    assert_eq!(spool.syncs(), 0, "synced before the window ended");
    tokio::time::sleep(window * 3).await;
    assert_eq!(spool.syncs(), 1, "one sync for the window");
}

/// A rotation inside a window leaves appends in the file before: that
/// file is synced with the new one, and a file with nothing new is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_file_is_synced_too() {
    let dir = tempfile::tempdir().expect("dir");
    let (spool, _) = Spool::open_with(dir.path(), "test", Duration::from_secs(60)).expect("spool");
    spool.append(&line(0)).expect("append");
    spool.start_segment(&mut spool.lock()).expect("rotate");
    spool.append(&line(1)).expect("append");
    assert_eq!(
        spool.take_dirty().len(),
        2,
        "both files hold unsynced appends"
    );
    assert!(spool.take_dirty().is_empty(), "nothing new since");
    spool.append(&line(2)).expect("append");
    assert_eq!(spool.take_dirty().len(), 1, "only the current file");
}

/// Appends of a window still open when the spool is dropped are synced
/// at the drop, not lost with the syncer that needed the spool to sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_spool_syncs_its_last_window() {
    let dir = tempfile::tempdir().expect("dir");
    let (spool, _) = Spool::open_with(dir.path(), "test", Duration::from_secs(60)).expect("spool");
    let state = Arc::clone(&spool.sync);
    spool.append(&line(0)).expect("append");
    drop(spool);
    assert_eq!(
        state.syncs.load(Ordering::Relaxed),
        1,
        "the open window was synced"
    );
    assert_eq!(state.unsynced.load(Ordering::Relaxed), 0);
}

/// A spool dropped with nothing unsynced does not sync again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_spool_with_nothing_new_does_not_sync() {
    let dir = tempfile::tempdir().expect("dir");
    let (spool, _) = Spool::open_with(dir.path(), "test", Duration::from_secs(60)).expect("spool");
    let state = Arc::clone(&spool.sync);
    drop(spool);
    assert_eq!(state.syncs.load(Ordering::Relaxed), 0);
}
