//! Hard budgets as a property (issue 21), on both backends, in process and
//! with two replicas sharing Redis: random mixes of requests from 64
//! concurrent clients (OpenAI `n`, both output fields, values past i64,
//! media by reference, streams left early, server tools allowed and priced
//! per use, OFREP bulk calls)
//! against a provider that always answers with the most tokens allowed.
//! At every moment sampled, spend plus outstanding holds stays within the
//! limit; at the end nothing is held and the ledger equals what the budget
//! was charged, to the micro-dollar.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use atrium::domain::budget::Budget;
use atrium::domain::completion::ServerTools;
use atrium::domain::flag::{Flag, FlagKey};
use atrium::domain::pricing::Price;
use atrium::domain::tenant::TenantId;
use atrium::server::devtools::mock_upstream::MockOptions;
use atrium::server::gateway::budget::BudgetGuard;
use atrium::server::gateway::Gateway;
use atrium::server::services::catalog::{self, prices};
use atrium::server::services::flags::{self, Scope};
use atrium::server::services::{budgets, Actor};
use futures::StreamExt;
use serde_json::{json, Value};

use crate::budgets::{hard_budget, replicas, spent};
use crate::common::{self, TestApp};
use crate::gateway::{setup, tenant_with_key};

on_both_backends!(
    random_mixes_never_pass_a_hard_budget;
    redis: random_mixes_never_pass_a_hard_budget_across_replicas,
);

const LIMIT: i64 = 100_000; // $0.10: reached early, then pressed by every client
const CLIENTS: usize = 64;
const PER_CLIENT: usize = 8;
/// Server-side tool uses claude-mock allows per tool, and what each costs.
const MAX_TOOL_USES: i64 = 3;
const TOOL_USE_MICROS: i64 = 2_000;

/// xorshift64*: the mix is reproducible from the seed in a failure message.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One request of the mix: where it goes, its body, and whether the
/// client hangs up after the first frame.
struct Ask {
    path: &'static str,
    body: Value,
    leave_early: bool,
    /// A server-side tool past what the model allows: refused with 400.
    refused: bool,
}

fn output_limit(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => json!(9_000_000_000_000_000_000u64),
        1 => json!(u64::MAX),
        // Log-uniform, so small limits keep contending near the limit.
        _ => json!(8u64 << rng.below(7)),
    }
}

fn words(rng: &mut Rng) -> String {
    vec!["word"; 1 + rng.below(40) as usize].join(" ")
}

fn ask(rng: &mut Rng) -> Ask {
    let content = words(rng);
    let mut a = Ask {
        path: "/v1/chat/completions",
        body: json!({ "model": "gpt-mock", "messages": [{ "role": "user", "content": content }] }),
        leave_early: false,
        refused: false,
    };
    match rng.below(8) {
        0 | 7 => {
            a.body["n"] = json!(1 + rng.below(4));
            a.body["max_tokens"] = output_limit(rng);
        }
        1 => {
            a.body["max_tokens"] = json!(1);
            a.body["max_completion_tokens"] = output_limit(rng);
        }
        2 => {
            a.path = "/v1/messages";
            a.body["model"] = json!("claude-mock");
            a.body["max_tokens"] = output_limit(rng);
        }
        3 => {
            a.body["max_tokens"] = json!(32);
            a.body["messages"][0]["content"] = json!([
                { "type": "text", "text": content },
                { "type": "image_url", "image_url": { "url": "https://example.com/a.png" } },
            ]);
        }
        4 => {
            a.body["stream"] = json!(true);
            a.body["max_tokens"] = json!(16 + rng.below(300));
            a.leave_early = true;
        }
        5 => {
            a.path = "/v1/messages";
            a.body["model"] = json!("claude-mock");
            a.body["max_tokens"] = json!(64);
            a.body["tools"] = server_tools(rng);
            a.refused = a.body["tools"][0]["max_uses"].as_i64() > Some(MAX_TOOL_USES)
                || a.body["tools"][0]["type"] == "code_execution_20250522";
        }
        _ => {
            a.path = "/ofrep/v1/evaluate/flags";
            a.body = json!({ "context": { "targetingKey": format!("u{}", rng.below(100)) } });
        }
    }
    a
}

/// Server-side tools as clients send them: search or fetch with or without
/// their own limits, now and then past the model's or of a kind never
/// allowed. The mock runs each to its limit.
fn server_tools(rng: &mut Rng) -> Value {
    let uses = rng.below(MAX_TOOL_USES as u64 + 2) as i64;
    let uses = (uses > 0).then_some(uses);
    match rng.below(5) {
        0 => json!([{ "type": "web_search_20250305", "name": "web_search" }]),
        1 | 2 => json!([{ "type": "web_search_20250305", "name": "web_search", "max_uses": uses }]),
        3 => json!([{ "type": "web_fetch_20250910", "name": "web_fetch", "max_uses": uses }]),
        _ => json!([{ "type": "code_execution_20250522", "name": "code_execution" }]),
    }
}

/// Sends one request; its status.
async fn send(base: &str, key: &str, a: Ask) -> u16 {
    let r = common::plain_client()
        .post(format!("{base}{}", a.path))
        .bearer_auth(key)
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&a.body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    if a.refused {
        assert_eq!(status, 400, "past what the model allows: {}", a.body);
        return status;
    }
    assert!(status == 200 || status == 429, "{status} for {}", a.body);
    if a.leave_early && status == 200 {
        let mut chunks = r.bytes_stream();
        let _ = chunks.next().await;
        return status;
    }
    let _ = r.bytes().await;
    status
}

/// Samples the guard until told to stop; the most spend plus holds seen.
fn sample(
    guard: Arc<BudgetGuard>,
    budget: Budget,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<i64> {
    tokio::spawn(async move {
        let mut most = 0;
        while !stop.load(Ordering::Relaxed) {
            let (spent, held) = guard.observe(&budget).await;
            most = most.max(spent + held);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        most
    })
}

/// Runs the mix against `bases` while sampling the first gateway's budget
/// guard; then waits for every hold to settle, flushes every gateway's
/// ledger and checks it against the charge.
async fn run(
    app: &TestApp,
    tenant: &TenantId,
    key: &str,
    bases: Vec<String>,
    gateways: Vec<Gateway>,
) {
    let guard = gateways[0].budgets.clone();
    let budget = budgets::list(&app.svc, &Actor::system("test"), tenant)
        .await
        .expect("budgets")
        .remove(0);
    for seed in [0x5eed_u64, 0xbadc_0ffe] {
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = sample(guard.clone(), budget.clone(), stop.clone());
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let (bases, key) = (bases.clone(), key.to_string());
                tokio::spawn(async move {
                    let mut rng = Rng(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                    let mut refused = 0;
                    for _ in 0..PER_CLIENT {
                        let base = &bases[rng.below(bases.len() as u64) as usize];
                        refused += usize::from(send(base, &key, ask(&mut rng)).await == 429);
                    }
                    refused
                })
            })
            .collect();
        let mut refused = 0;
        for c in clients {
            refused += c.await.expect("client");
        }
        assert!(refused > 0, "seed {seed:#x}: the mix reached the limit");
        // Streams left early settle once their provider has answered.
        let mut settled = (0, 1);
        for _ in 0..200 {
            settled = guard.observe(&budget).await;
            if settled.1 == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.store(true, Ordering::Relaxed);
        let most = sampler.await.expect("sampler");
        assert!(
            most <= LIMIT,
            "seed {seed:#x}: spend plus holds reached {most} of {LIMIT}"
        );
        assert_eq!(settled.1, 0, "seed {seed:#x}: nothing stays held");
        for g in &gateways {
            g.ledger.flush().await;
        }
        let ledger = spent(app, tenant).await;
        assert_eq!(
            ledger, settled.0,
            "seed {seed:#x}: the ledger equals what was charged"
        );
        assert!(ledger <= LIMIT, "seed {seed:#x}: {ledger}");
        assert!(
            ledger > LIMIT / 2,
            "seed {seed:#x}: the mix spent most of the budget: {ledger}"
        );
    }
}

/// A tenant with a hard budget, three priced flags, and a key.
async fn budgeted(app: &TestApp) -> (TenantId, String) {
    let fill = MockOptions {
        fill_max_tokens: true,
        latency_ms: 5,
        ..Default::default()
    };
    setup(app, fill).await;
    let admin = Actor::system("test");
    let (tenant, key) = tenant_with_key(app, "Property", 1_000_000, "eu-west").await;
    for name in ["one", "two", "three"] {
        let flag = Flag::boolean(FlagKey::parse(name).expect("key"), name);
        flags::create(&app.svc, &admin, &Scope::Tenant(tenant.clone()), flag)
            .await
            .expect("flag");
    }
    prices::set_evaluation(&app.svc, &admin, 100, None)
        .await
        .expect("price");
    let tools = ServerTools::new(MAX_TOOL_USES, 2_000).expect("allowance");
    catalog::set_server_tools(&app.svc, &admin, "claude-mock", tools)
        .await
        .expect("server tools");
    let price = Price {
        per_server_tool_use: TOOL_USE_MICROS,
        ..crate::budgets::price()
    };
    prices::set(&app.svc, &admin, "claude-mock", price, None)
        .await
        .expect("tool price");
    hard_budget(app, &tenant, LIMIT).await;
    let now = atrium::domain::time::now_millis;
    for _ in 0..100 {
        if catalog::snapshot(&app.svc)
            .evaluation_prices
            .at(now())
            .is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (tenant, key)
}

async fn random_mixes_never_pass_a_hard_budget(app: TestApp) -> TestApp {
    let (tenant, key) = budgeted(&app).await;
    let gateways = vec![app.running.gateway.clone()];
    run(&app, &tenant, &key, vec![app.url("")], gateways).await;
    app
}

async fn random_mixes_never_pass_a_hard_budget_across_replicas(app: TestApp) -> TestApp {
    let redis = common::redis_url().expect("ATRIUM_TEST_REDIS_URL");
    let (tenant, key) = budgeted(&app).await;
    let replicas = replicas(&app, &redis).await;
    let bases: Vec<String> = replicas
        .iter()
        .map(|(r, _)| format!("http://{}", r.addr))
        .collect();
    let gateways = replicas.iter().map(|(r, _)| r.gateway.clone()).collect();
    run(&app, &tenant, &key, bases, gateways).await;
    for (r, _) in replicas {
        r.shutdown().await.expect("replica stops");
    }
    app
}
