//! The header of a `.safetensors` file: an 8-byte little-endian length,
//! then that many bytes of JSON naming each tensor's dtype, shape and byte
//! range. Read without loading the weights, and checked so that a corrupt
//! or hostile file is refused with a reason.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::domain::validation::Invalid;

/// A LoRA header is a few KiB; the format allows 100 MB, we read 16 MiB.
pub const MAX_HEADER_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub dtype: String,
    pub shape: Vec<u64>,
    pub begin: u64,
    pub end: u64,
}

fn bad(m: impl Into<String>) -> Invalid {
    Invalid::new("adapter_model.safetensors", m)
}

/// The header's length, from the file's first 8 bytes, checked against
/// the file's size.
pub fn header_len(first8: &[u8], file_len: u64) -> Result<u64, Invalid> {
    let bytes: [u8; 8] = first8
        .try_into()
        .map_err(|_| bad("is shorter than its 8-byte header length"))?;
    let n = u64::from_le_bytes(bytes);
    // Not the number itself: it is the file's first bytes, and the reason
    // is shown to the tenant.
    if !(2..=MAX_HEADER_BYTES).contains(&n) {
        return Err(bad("does not start with a valid header length"));
    }
    if n > file_len.saturating_sub(8) {
        return Err(bad("declares a header longer than the file"));
    }
    Ok(n)
}

fn dtype_bytes(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E4M3" | "F8_E5M2" => 1,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "F32" | "I32" | "U32" => 4,
        "F64" | "I64" | "U64" => 8,
        _ => return None,
    })
}

/// The tensors a header names, each with a byte range inside the data
/// (`data_len` = file size − 8 − header length) that fits its shape.
pub fn parse_header(header: &[u8], data_len: u64) -> Result<BTreeMap<String, Tensor>, Invalid> {
    let v: Value =
        serde_json::from_slice(header).map_err(|e| bad(format!("header is not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("header is not a JSON object"))?;
    let mut tensors = BTreeMap::new();
    for (name, t) in obj.iter().filter(|(k, _)| k.as_str() != "__metadata__") {
        tensors.insert(name.clone(), tensor(name, t, data_len)?);
    }
    if tensors.is_empty() {
        return Err(bad("holds no tensors"));
    }
    Ok(tensors)
}

fn tensor(name: &str, t: &Value, data_len: u64) -> Result<Tensor, Invalid> {
    let dtype = t.get("dtype").and_then(Value::as_str).unwrap_or("");
    let size = dtype_bytes(dtype).ok_or_else(|| bad(format!("{name}: unknown dtype {dtype:?}")))?;
    let shape: Vec<u64> = t
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("{name}: no shape")))?
        .iter()
        .map(|d| d.as_u64().ok_or_else(|| bad(format!("{name}: bad shape"))))
        .collect::<Result<_, _>>()?;
    let offsets: Vec<u64> = t
        .get("data_offsets")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let [begin, end] = offsets[..] else {
        return Err(bad(format!("{name}: data_offsets must be two numbers")));
    };
    let want = shape
        .iter()
        .try_fold(size, |acc, d| acc.checked_mul(*d))
        .ok_or_else(|| bad(format!("{name}: shape overflows")))?;
    if begin > end || end > data_len || end - begin != want {
        return Err(bad(format!(
            "{name}: bytes {begin}..{end} do not hold a {dtype} tensor of shape {shape:?} in {data_len} bytes of data"
        )));
    }
    Ok(Tensor {
        dtype: dtype.to_string(),
        shape,
        begin,
        end,
    })
}

/// The module a LoRA tensor adapts: `…self_attn.q_proj.lora_A.weight` →
/// `q_proj`. Other tensors (none expected) give `None`.
pub fn lora_module(tensor_name: &str) -> Option<&str> {
    let (before, _) = tensor_name
        .split_once(".lora_A")
        .or_else(|| tensor_name.split_once(".lora_B"))?;
    before.rsplit('.').next().filter(|m| !m.is_empty())
}

/// Every target module has both LoRA matrices, and no tensor adapts a
/// module the config does not name.
pub fn check_targets(
    tensors: &BTreeMap<String, Tensor>,
    targets: &[String],
) -> Result<(), Invalid> {
    for name in tensors.keys() {
        match lora_module(name) {
            Some(m) if targets.iter().any(|t| t == m) => {}
            Some(m) => {
                return Err(bad(format!(
                    "tensor {name} adapts {m}, which target_modules does not list"
                )))
            }
            None => return Err(bad(format!("tensor {name} is not a LoRA matrix"))),
        }
    }
    for t in targets {
        for part in ["lora_A", "lora_B"] {
            let needle = format!(".{t}.{part}");
            if !tensors.keys().any(|k| k.contains(&needle)) {
                return Err(bad(format!("has no {part} weights for target module {t}")));
            }
        }
    }
    Ok(())
}

/// Every LoRA matrix is 2-D with a rank (`lora_A`'s rows, `lora_B`'s
/// columns) the pool can serve: the weights, not the config, decide what
/// vLLM copies into its `max_lora_rank` slots, and a larger one fails
/// every load.
pub fn check_ranks(tensors: &BTreeMap<String, Tensor>, max_rank: u32) -> Result<(), Invalid> {
    for (name, t) in tensors {
        let rank = match (t.shape.as_slice(), name.contains(".lora_A")) {
            ([r, _], true) | ([_, r], false) => *r,
            _ => return Err(bad(format!("tensor {name} is not a 2-D matrix"))),
        };
        if rank == 0 || rank > u64::from(max_rank) {
            return Err(bad(format!(
                "tensor {name} has rank {rank}, not 1 to the pool's max_lora_rank {max_rank}"
            )));
        }
    }
    Ok(())
}
