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
    /// Read each answer as a server-sent event stream: report the time to
    /// its first body byte and the events relayed per second.
    #[arg(long)]
    pub stream: bool,
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
    /// Streams only: time to the first body byte, and server-sent events
    /// (blank-line separated) received per second over all streams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamReport>,
}

#[derive(Debug, Serialize)]
pub struct StreamReport {
    pub ttfb_p50_ms: f64,
    pub ttfb_p99_ms: f64,
    pub events: u64,
    pub events_per_s: f64,
}

/// One answer: whether it succeeded, and for a stream the time to its
/// first body byte and the events it carried.
#[derive(Debug, Clone, Copy, Default)]
struct Outcome {
    ok: bool,
    first_byte_ms: f64,
    events: u64,
}

/// Which endpoint the next request goes to, round-robin.
static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

async fn one(client: &reqwest::Client, opts: &LoadOptions) -> Outcome {
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let Some(url) = opts.url.get(n % opts.url.len().max(1)) else {
        return Outcome::default();
    };
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .body(opts.body.clone());
    if let Some(k) = &opts.key {
        req = req.bearer_auth(k);
    }
    let started = Instant::now();
    match req.send().await {
        Ok(r) if opts.stream => read_stream(r, started).await,
        Ok(r) => Outcome {
            ok: r.status().is_success() && r.bytes().await.is_ok(),
            ..Outcome::default()
        },
        Err(_) => Outcome::default(),
    }
}

/// Counts the events of a stream (each ends with a blank line, which may
/// straddle two chunks) and times its first body byte.
async fn read_stream(r: reqwest::Response, started: Instant) -> Outcome {
    use futures::StreamExt;
    let mut out = Outcome {
        ok: r.status().is_success(),
        ..Outcome::default()
    };
    let mut body = r.bytes_stream();
    let mut last = 0u8;
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            out.ok = false;
            break;
        };
        if out.first_byte_ms == 0.0 && !chunk.is_empty() {
            out.first_byte_ms = started.elapsed().as_secs_f64() * 1000.0;
        }
        for &b in chunk.iter() {
            out.events += u64::from(b == b'\n' && last == b'\n');
            last = b;
        }
    }
    out
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
                    ok += u64::from(one(&c, &o).await.ok);
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
    let samples = match opts.rate {
        None => closed_loop(&client, &opts, deadline).await,
        Some(rate) => open_loop(&client, &opts, deadline, rate).await,
    };
    let elapsed = started.elapsed().as_secs_f64();
    LoadReport {
        warmup_ok,
        ..summarize(samples, elapsed, opts.stream)
    }
}

async fn closed_loop(
    client: &reqwest::Client,
    opts: &Arc<LoadOptions>,
    deadline: Instant,
) -> Vec<(Outcome, f64)> {
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
) -> Vec<(Outcome, f64)> {
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

fn summarize(samples: Vec<(Outcome, f64)>, elapsed_s: f64, stream: bool) -> LoadReport {
    let good: Vec<&(Outcome, f64)> = samples.iter().filter(|(o, _)| o.ok).collect();
    let ok = good.len() as u64;
    let lat = sorted(good.iter().map(|(_, ms)| *ms));
    let stream = stream.then(|| {
        let ttfb = sorted(good.iter().map(|(o, _)| o.first_byte_ms));
        let events: u64 = good.iter().map(|(o, _)| o.events).sum();
        StreamReport {
            ttfb_p50_ms: percentile(&ttfb, 0.50),
            ttfb_p99_ms: percentile(&ttfb, 0.99),
            events,
            events_per_s: events as f64 / elapsed_s.max(1e-9),
        }
    });
    LoadReport {
        warmup_ok: 0,
        ok,
        errors: samples.len() as u64 - ok,
        requests_per_s: ok as f64 / elapsed_s.max(1e-9),
        p50_ms: percentile(&lat, 0.50),
        p90_ms: percentile(&lat, 0.90),
        p99_ms: percentile(&lat, 0.99),
        max_ms: lat.last().copied().unwrap_or(0.0),
        stream,
    }
}

fn sorted(xs: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = xs.collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The nearest-rank percentile of sorted samples (0 when there are none).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}
