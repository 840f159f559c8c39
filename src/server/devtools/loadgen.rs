//! `atrium loadgen`: the load generator `make bench` runs as a separate
//! process. Closed loop (N workers, as fast as answers come) for throughput;
//! open loop (a fixed rate, latency measured from the scheduled send time so
//! a slow server cannot hide its queueing) for latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;

#[derive(Debug, Clone, clap::Args)]
pub struct LoadOptions {
    /// Endpoint to POST to; repeat it to spread requests round-robin over
    /// several (replicas).
    #[arg(long, required = true)]
    pub url: Vec<String>,
    /// Sent as `Authorization: Bearer`.
    #[arg(long)]
    pub key: Option<String>,
    /// JSON request body.
    #[arg(
        long,
        default_value = r#"{"model":"bench","max_tokens":16,"messages":[{"role":"user","content":"hello benchmark"}]}"#
    )]
    pub body: String,
    /// Workers in closed-loop mode; the cap on requests in flight in open-loop mode.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    #[arg(long, default_value_t = 10.0)]
    pub duration_s: f64,
    /// Requests per second (open loop). Unset: closed loop.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 1.0)]
    pub warmup_s: f64,
}

#[derive(Debug, Serialize)]
pub struct LoadReport {
    /// Successful answers during warm-up, not in the figures below.
    pub warmup_ok: u64,
    pub ok: u64,
    pub errors: u64,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Which endpoint the next request goes to, round-robin.
static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

async fn one(client: &reqwest::Client, opts: &LoadOptions) -> bool {
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let Some(url) = opts.url.get(n % opts.url.len().max(1)) else {
        return false;
    };
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .body(opts.body.clone());
    if let Some(k) = &opts.key {
        req = req.bearer_auth(k);
    }
    match req.send().await {
        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
        Err(_) => false,
    }
}

pub async fn run(opts: LoadOptions) -> LoadReport {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.concurrency.max(1) * 2)
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default();
    let opts = Arc::new(opts);
    // Warm the connection pool and both servers' caches.
    let warm_until = Instant::now() + Duration::from_secs_f64(opts.warmup_s);
    let warm: Vec<_> = (0..opts.concurrency.min(64))
        .map(|_| {
            let (c, o) = (client.clone(), opts.clone());
            tokio::spawn(async move {
                let mut ok = 0u64;
                while Instant::now() < warm_until {
                    ok += u64::from(one(&c, &o).await);
                }
                ok
            })
        })
        .collect();
    let mut warmup_ok = 0;
    for w in warm {
        warmup_ok += w.await.unwrap_or(0);
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(opts.duration_s);
    let samples: Vec<(bool, f64)> = match opts.rate {
        None => closed_loop(&client, &opts, deadline).await,
        Some(rate) => open_loop(&client, &opts, deadline, rate).await,
    };
    let elapsed = started.elapsed().as_secs_f64();
    LoadReport {
        warmup_ok,
        ..summarize(samples, elapsed)
    }
}

async fn closed_loop(
    client: &reqwest::Client,
    opts: &Arc<LoadOptions>,
    deadline: Instant,
) -> Vec<(bool, f64)> {
    let workers: Vec<_> = (0..opts.concurrency.max(1))
        .map(|_| {
            let (c, o) = (client.clone(), opts.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let ok = one(&c, &o).await;
                    out.push((ok, t.elapsed().as_secs_f64() * 1000.0));
                }
                out
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap_or_default());
    }
    all
}

async fn open_loop(
    client: &reqwest::Client,
    opts: &Arc<LoadOptions>,
    deadline: Instant,
    rate: f64,
) -> Vec<(bool, f64)> {
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let gate = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut tasks = Vec::new();
    let mut next = Instant::now();
    while next < deadline {
        tokio::time::sleep_until(next.into()).await;
        let (c, o, g) = (client.clone(), opts.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = g.acquire_owned().await;
            // Timed from the send: tokio's timer only wakes to the millisecond,
            // which would swamp sub-millisecond differences. The rate stays
            // far below capacity, so no queueing hides here.
            let t = Instant::now();
            let ok = one(&c, &o).await;
            (ok, t.elapsed().as_secs_f64() * 1000.0)
        }));
        next += interval;
    }
    let mut all = Vec::new();
    for t in tasks {
        if let Ok(s) = t.await {
            all.push(s);
        }
    }
    all
}

fn summarize(samples: Vec<(bool, f64)>, elapsed_s: f64) -> LoadReport {
    let ok = samples.iter().filter(|(ok, _)| *ok).count() as u64;
    let mut lat: Vec<f64> = samples
        .iter()
        .filter(|(ok, _)| *ok)
        .map(|(_, ms)| *ms)
        .collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let pct = |p: f64| {
        if lat.is_empty() {
            0.0
        } else {
            lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1]
        }
    };
    LoadReport {
        warmup_ok: 0,
        ok,
        errors: samples.len() as u64 - ok,
        requests_per_s: ok as f64 / elapsed_s.max(1e-9),
        p50_ms: pct(0.50),
        p90_ms: pct(0.90),
        p99_ms: pct(0.99),
        max_ms: lat.last().copied().unwrap_or(0.0),
    }
}
