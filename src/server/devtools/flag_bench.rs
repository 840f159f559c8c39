//! `atrium flag-bench`: in-process flag evaluations per second on one
//! thread, for a flag with three rules and a percentage rollout (the shape
//! issue 11 names), over many distinct targeting keys.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::domain::flag::{Condition, Context, Flag, FlagKey, Operator, Rule};

#[derive(Debug, Clone, clap::Args)]
pub struct FlagBenchOptions {
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Distinct contexts cycled through (tenants or users).
    #[arg(long, default_value_t = 10_000)]
    pub keys: usize,
}

fn flag() -> Result<Flag, String> {
    let key = FlagKey::parse("gateway.new-router").map_err(|e| e.message)?;
    let mut f = Flag::boolean(key, "three rules and a rollout");
    let cond = |attribute: &str, operator, values: &[&str]| Condition {
        attribute: attribute.into(),
        operator,
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    f.rules = vec![
        Rule::Targets {
            keys: vec!["t-vip".into(), "t-beta".into(), "t-gamma".into()],
            variant: "on".into(),
        },
        Rule::Conditions {
            all: vec![cond("location", Operator::In, &["eu-west", "eu-central"])],
            variant: "off".into(),
        },
        Rule::Conditions {
            all: vec![cond("plan", Operator::Eq, &["enterprise"])],
            variant: "on".into(),
        },
        Rule::Rollout {
            percentage: 25,
            variant: "on".into(),
            group_id: None,
        },
    ];
    f.check().map_err(|e| e.message)?;
    Ok(f)
}

pub fn run(opts: FlagBenchOptions) -> Result<(), String> {
    let flag = flag()?;
    // Most contexts fall through every rule to the rollout: the costly path.
    let contexts: Vec<Context> = (0..opts.keys.max(1))
        .map(|i| {
            let mut c = Context {
                targeting_key: Some(format!("tenant-{i:08}")),
                ..Context::default()
            };
            c.attributes.insert("location".into(), json!("us-east"));
            c.attributes.insert("plan".into(), json!("team"));
            c
        })
        .collect();
    let budget = Duration::from_secs_f64(opts.seconds);
    let started = Instant::now();
    let (mut evaluations, mut on) = (0u64, 0u64);
    while started.elapsed() < budget {
        for c in &contexts {
            on += u64::from(std::hint::black_box(flag.evaluate(c)).variant == "on");
        }
        evaluations += contexts.len() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({ "evaluations": evaluations, "seconds": secs,
                "evaluations_per_s": evaluations as f64 / secs,
                "share_on": on as f64 / evaluations as f64 })
    );
    Ok(())
}
