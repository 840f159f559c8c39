//! The flag `atrium flag-bench` evaluates, as Unleash strategies, through
//! Yggdrasil's `EngineState::is_enabled` on one thread: a user-id list, two
//! property constraints and a 25% flexible rollout sticky on the user id,
//! over the same 10,000 contexts (each falls through to the rollout).
//! Prints `{"evaluations_per_s": …, "share_on": …}`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use unleash_types::client_features::{
    ClientFeature, ClientFeatures, Constraint, Context, Operator, Strategy,
};
use unleash_yggdrasil::EngineState;

const FLAG: &str = "gateway.new-router";

fn constraint(name: &str, operator: Operator, values: &[&str]) -> Constraint {
    Constraint {
        context_name: name.into(),
        operator,
        case_insensitive: false,
        inverted: false,
        values: Some(values.iter().map(|v| v.to_string()).collect()),
        value: None,
    }
}

fn strategy(name: &str, constraints: Vec<Constraint>, params: &[(&str, &str)]) -> Strategy {
    Strategy {
        name: name.into(),
        segments: None,
        variants: None,
        constraints: Some(constraints),
        parameters: Some(
            params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        sort_order: None,
    }
}

fn engine() -> EngineState {
    let engine = EngineState::default();
    let rollout = [
        ("rollout", "25"),
        ("stickiness", "userId"),
        ("groupId", FLAG),
    ];
    engine.apply_client_features(ClientFeatures {
        version: 2,
        features: vec![ClientFeature {
            name: FLAG.into(),
            enabled: true,
            strategies: Some(vec![
                strategy(
                    "default",
                    vec![constraint(
                        "userId",
                        Operator::In,
                        &["t-vip", "t-beta", "t-gamma"],
                    )],
                    &[],
                ),
                strategy(
                    "default",
                    vec![constraint(
                        "location",
                        Operator::In,
                        &["eu-west", "eu-central"],
                    )],
                    &[],
                ),
                strategy(
                    "default",
                    vec![constraint("plan", Operator::In, &["enterprise"])],
                    &[],
                ),
                strategy("flexibleRollout", vec![], &rollout),
            ]),
            ..ClientFeature::default()
        }],
        segments: None,
        query: None,
        meta: None,
    });
    engine
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let engine = engine();
    let contexts: Vec<Context> = (0..10_000)
        .map(|i| Context {
            user_id: Some(format!("tenant-{i:08}")),
            session_id: None,
            environment: None,
            app_name: None,
            current_time: None,
            remote_address: None,
            properties: Some(HashMap::from([
                ("location".to_string(), "us-east".to_string()),
                ("plan".to_string(), "team".to_string()),
            ])),
        })
        .collect();
    let budget = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let (mut evaluations, mut on) = (0u64, 0u64);
    while started.elapsed() < budget {
        for c in &contexts {
            on += u64::from(engine.is_enabled(black_box(FLAG), black_box(c), &None));
        }
        evaluations += contexts.len() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"evaluations\": {evaluations}, \"seconds\": {secs}, \"evaluations_per_s\": {}, \"share_on\": {}}}",
        evaluations as f64 / secs,
        on as f64 / evaluations as f64
    );
}
