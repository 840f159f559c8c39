//! Issue 24: `kill -9` under load loses no answered request. Every usage
//! event is spooled in the data directory before its response leaves; a
//! restart replays the spool, and idempotent inserts count each request
//! once. On SQLite, and on PostgreSQL when it is configured.

use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::common::{self, Backend};
use crate::shutdown::{atrium, prepare, start};

/// How the ledger keeps what it answered: the local spool (the default),
/// or stored synchronously before answering, which must survive losing the
/// spool (the machine) too.
#[derive(Clone, Copy, PartialEq)]
enum Durability {
    Spool,
    Sync,
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    [
        (Backend::Sqlite, "sqlite", Durability::Spool),
        (Backend::Postgres, "postgres", Durability::Spool),
        (Backend::Postgres, "postgres", Durability::Sync),
    ]
    .into_iter()
    .map(|(backend, name, durability)| {
        let test = match durability {
            Durability::Spool => "kill_9_under_load_loses_no_answered_request",
            Durability::Sync => "a_synchronous_ledger_loses_nothing_answered_with_the_spool_lost",
        };
        let full = format!("crash::{name}::{test}");
        let why = common::missing(backend, common::Needs::Nothing);
        if let Some(why) = why {
            eprintln!("SKIPPED {full}: needs {why}");
        }
        let skip = why.is_some();
        let trial = libtest_mimic::Trial::test(full.clone(), move || {
            crate::common::watchdog::watched(&full, || {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(4)
                    .enable_all()
                    .build()?
                    .block_on(kill_9_under_load_loses_no_answered_request(
                        backend, durability,
                    ));
                Ok(())
            })
        });
        trial.with_ignored_flag(skip)
    })
    .collect()
}

fn serve(db: &str, dir: &std::path::Path, durability: Durability) -> (std::process::Child, String) {
    start(
        atrium(db, dir)
            .args(["serve"])
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env(
                "ATRIUM_LEDGER_SYNC",
                (durability == Durability::Sync).to_string(),
            ),
        "Atrium is running on ",
    )
}

pub(crate) fn signal(pid: u32, sig: &str) {
    let sent = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
}

async fn kill_9_under_load_loses_no_answered_request(backend: Backend, durability: Durability) {
    let dir = tempfile::tempdir().expect("dir");
    let db = common::fresh_database(backend, dir.path())
        .await
        .expect("database");
    let url = db.clone();
    let (mut mock, key) = prepare(&db, dir.path());
    let (mut server, addr) = serve(&db, dir.path(), durability);
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let bases = Arc::new(Mutex::new(vec![addr.clone()]));
    let workers: Vec<_> = (0..16)
        .map(|w| load_worker(w, &bases, &key, &answered, &stop))
        .collect();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    signal(server.id(), "-KILL");
    let _ = tokio::task::spawn_blocking(move || server.wait()).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        let _ = w.await;
    }
    let answered: Vec<String> = answered.lock().expect("ids").clone();
    assert!(
        answered.len() > 50,
        "load reached the server ({})",
        answered.len()
    );

    // What the killed process left unstored: replayed by the restart.
    let at_kill = spooled_lines(&dir.path().join("spool"));
    eprintln!("kill -9: {at_kill} events in the spool (stored or not) to replay");
    if durability == Durability::Sync {
        // The machine is lost, not the process: nothing spooled survives.
        let _ = std::fs::remove_dir_all(dir.path().join("spool"));
    }
    // The restart replays the spool; a clean stop then flushes the queue.
    let (mut again, _) = serve(&db, dir.path(), durability);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    signal(again.id(), "-TERM");
    let status = tokio::task::spawn_blocking(move || again.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "clean stop: {status:?}");
    let _ = mock.kill();

    let db = atrium::server::db::Db::connect(&url).await.expect("db");
    let stored: Vec<String> = sqlx::query_scalar("SELECT request_id FROM usage_events")
        .fetch_all(&db.pool)
        .await
        .expect("ledger");
    let distinct: HashSet<&String> = stored.iter().collect();
    let lost: Vec<&String> = answered
        .iter()
        .filter(|id| !distinct.contains(id))
        .collect();
    eprintln!(
        "kill -9: answered {}, ledger {}, lost {}, duplicated {}",
        answered.len(),
        stored.len(),
        lost.len(),
        stored.len() - distinct.len()
    );
    assert!(
        lost.is_empty(),
        "answered but not billed: {} of {}",
        lost.len(),
        answered.len()
    );
    assert_eq!(stored.len(), distinct.len(), "no request is billed twice");
    let spool = dir.path().join("spool");
    let left: Vec<_> = std::fs::read_dir(&spool).expect("spool dir").collect();
    assert!(left.is_empty(), "a clean stop leaves no spool: {left:?}");
    db.close().await;
    if matches!(backend, Backend::Postgres) {
        common::drop_database(&url).await;
    }
}

/// Complete lines in the spool's files.
fn spooled_lines(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
                .map(|bytes| bytes.iter().filter(|b| **b == b'\n').count())
                .sum()
        })
        .unwrap_or(0)
}

/// A client posting completions with `key` until `stop`, round-robin over
/// `bases` from `first` (a test may swap an address, to follow a restarted
/// replica), keeping the request id of each answer: a 200 whose whole body
/// arrived. A refused connection (a killed server) is the client seeing
/// the failure; it tries the next address.
pub(crate) fn load_worker(
    first: usize,
    bases: &Arc<Mutex<Vec<String>>>,
    key: &str,
    answered: &Arc<Mutex<Vec<String>>>,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let (bases, key, answered, stop) = (
        bases.clone(),
        key.to_string(),
        answered.clone(),
        stop.clone(),
    );
    tokio::spawn(async move {
        let client = crate::common::plain_client();
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "bill me"}]});
        let mut i = first;
        while !stop.load(Ordering::SeqCst) {
            i += 1;
            let base = {
                let bases = bases.lock().expect("bases");
                bases[i % bases.len()].clone()
            };
            let url = format!("http://{base}/v1/chat/completions");
            let Ok(r) = client.post(&url).bearer_auth(&key).json(&body).send().await else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            let id = r
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if let (true, Some(id), Ok(_)) = (r.status() == 200, id, r.bytes().await) {
                answered.lock().expect("ids").push(id);
            }
        }
    })
}
