//! PEFT's `adapter_config.json`, checked against the base model and the
//! serving pool before an adapter goes near an engine.

use serde_json::Value;

use crate::domain::validation::Invalid;

/// What a valid LoRA config says, kept with the version.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterConfig {
    pub base_model: String,
    pub rank: u32,
    pub alpha: f64,
    pub target_modules: Vec<String>,
}

/// The config is small; anything bigger is not one.
pub const MAX_CONFIG_BYTES: usize = 256 * 1024;

fn bad(m: impl Into<String>) -> Invalid {
    Invalid::new("adapter_config.json", m)
}

/// Parses and checks a config: a LoRA (`peft_type`), for one of the
/// names the base model is known by, with a rank the pool can serve.
pub fn check(text: &str, base_names: &[String], max_rank: u32) -> Result<AdapterConfig, Invalid> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(bad("is larger than 256 KiB"));
    }
    let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("is not JSON: {e}")))?;
    let peft_type = v.get("peft_type").and_then(Value::as_str).unwrap_or("");
    if peft_type != "LORA" {
        return Err(bad(format!(
            "peft_type is {peft_type:?}; only LORA adapters can be served"
        )));
    }
    let base = v
        .get("base_model_name_or_path")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("has no base_model_name_or_path"))?;
    if !base_names.iter().any(|n| n == base) {
        return Err(bad(format!(
            "was trained on {base:?}, not on this base model ({})",
            base_names.join(", ")
        )));
    }
    let rank = v
        .get("r")
        .and_then(Value::as_u64)
        .filter(|r| *r > 0)
        .ok_or_else(|| bad("r (the rank) must be a positive whole number"))?;
    if rank > u64::from(max_rank) {
        return Err(bad(format!(
            "r (the rank) {rank} is above the pool's max_lora_rank {max_rank}"
        )));
    }
    served_by_vllm(&v, max_rank)?;
    // vLLM requires it (a required field of its PEFTHelper) and divides by r.
    let alpha = v
        .get("lora_alpha")
        .and_then(Value::as_f64)
        .filter(|a| a.is_finite())
        .ok_or_else(|| bad("lora_alpha must be a number (vLLM requires it)"))?;
    let target_modules = target_modules(v.get("target_modules"))?;
    Ok(AdapterConfig {
        base_model: base.to_string(),
        rank: rank as u32,
        alpha,
        target_modules,
    })
}

/// What vLLM refuses to load (`vllm/lora/peft_helper.py`), refused here
/// first so an engine never fails every load of a `ready` version: DoRA,
/// `modules_to_save`, a bias other than `none`, and a per-module rank
/// (`rank_pattern`) above the pool's limit; `alpha_pattern` must be numbers.
/// vLLM tests `use_dora` and `modules_to_save` by Python truth (`"yes"` is
/// DoRA, `[]` saves nothing) and compares `bias` with `"none"` (so `null`
/// is a bias), so the same is done here.
fn served_by_vllm(v: &Value, max_rank: u32) -> Result<(), Invalid> {
    if v.get("use_dora").is_some_and(truthy) {
        return Err(bad(
            "use_dora: DoRA adapters cannot be served (vLLM does not load them)",
        ));
    }
    if v.get("modules_to_save").is_some_and(truthy) {
        return Err(bad(
            "modules_to_save must be null or empty: vLLM serves only the LoRA matrices",
        ));
    }
    match v.get("bias") {
        None => {}
        Some(Value::String(b)) if b == "none" => {}
        Some(_) => {
            return Err(bad(
                "bias must be \"none\": vLLM does not serve adapter biases",
            ))
        }
    }
    pattern(v, "rank_pattern", |r| {
        r.as_u64()
            .is_some_and(|r| (1..=u64::from(max_rank)).contains(&r))
    })
    .map_err(|_| {
        bad(format!(
            "rank_pattern: every rank must be 1 to the pool's max_lora_rank {max_rank}"
        ))
    })?;
    pattern(v, "alpha_pattern", |a| {
        a.as_f64().is_some_and(f64::is_finite)
    })
    .map_err(|_| bad("alpha_pattern: every alpha must be a number"))
}

/// Python's truth of a JSON value, as vLLM tests a flag or a list.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A `{module: value}` map whose every value passes `ok` (absent or empty:
/// nothing to check).
fn pattern(v: &Value, key: &str, ok: impl Fn(&Value) -> bool) -> Result<(), ()> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) if m.values().all(ok) => Ok(()),
        Some(_) => Err(()),
    }
}

/// PEFT writes a list of module names, or one regular expression as a
/// string; a regex cannot be checked against tensor names here.
fn target_modules(v: Option<&Value>) -> Result<Vec<String>, Invalid> {
    match v {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= 256 => items
            .iter()
            .map(|m| {
                m.as_str()
                    .filter(|s| !s.is_empty() && s.len() <= 128)
                    .map(str::to_string)
                    .ok_or_else(|| bad("target_modules must be names"))
            })
            .collect(),
        Some(Value::String(_)) => Err(bad(
            "target_modules is a pattern; list the module names so the weights can be checked",
        )),
        _ => Err(bad("target_modules must list 1 to 256 module names")),
    }
}
