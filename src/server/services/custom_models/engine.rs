//! Talking to a vLLM-compatible engine: what it has loaded (`GET
//! /v1/models`), and runtime `load_lora_adapter` / `unload_lora_adapter`.
//! Every call is bounded in time, and answers in size.

use std::time::Duration;

use serde_json::{json, Value};

/// How long a load may take (the engine reads the adapter's weights), and
/// any other call: a listing or unload is quick, and the reconciler should
/// not wait long on an engine that is down.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// An engine's model list or error is small; a bigger answer is refused.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    /// The engine's status, or `None` when it could not be reached.
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "{s}: {}", self.message),
            None => write!(f, "unreachable: {}", self.message),
        }
    }
}

impl EngineError {
    /// What may be shown of an engine's failure, to a tenant in a failed
    /// deploy's reason or on a page: its kind, never the engine's text,
    /// which can echo an adapter file's bytes or a remote server's answer
    /// (that goes to the log, at debug level: the reconciler meets a down
    /// engine on every pass, and one line each time would flood it).
    pub fn summary(&self) -> String {
        tracing::debug!(status = ?self.status, message = %self.message, "engine call failed");
        match self.status {
            None => "the engine could not be reached or did not answer in time".into(),
            Some(404) => "the engine does not have it (404)".into(),
            Some(s) if s < 500 => format!("the engine refused it ({s})"),
            Some(s) => format!("the engine failed ({s})"),
        }
    }
}

fn unreachable(e: reqwest::Error) -> EngineError {
    EngineError {
        status: None,
        message: e.without_url().to_string(),
    }
}

async fn body(res: reqwest::Response) -> Result<(u16, Vec<u8>), EngineError> {
    let status = res.status().as_u16();
    let mut res = res;
    let mut out = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(unreachable)? {
        if out.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(EngineError {
                status: Some(status),
                message: "answer larger than 4 MiB".into(),
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok((status, out))
}

/// vLLM's error text: `{"error": {"message"}}` in newer versions,
/// `{"message"}` in older ones, plain text otherwise.
fn message(bytes: &[u8]) -> String {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    v.pointer("/error/message")
        .or_else(|| v.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned())
}

/// The adapters an engine lists: entries with a `parent` (the base model).
pub async fn loaded(http: &reqwest::Client, base_url: &str) -> Result<Vec<String>, EngineError> {
    let res = http
        .get(format!("{base_url}/models"))
        .timeout(CALL_TIMEOUT)
        .send()
        .await
        .map_err(unreachable)?;
    let (status, bytes) = body(res).await?;
    if status != 200 {
        return Err(EngineError {
            status: Some(status),
            message: message(&bytes),
        });
    }
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| EngineError {
        status: Some(status),
        message: format!("model list is not JSON: {e}"),
    })?;
    Ok(v.get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| m.get("parent").is_some_and(|p| !p.is_null()))
        .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string))
        .collect())
}

async fn post(
    http: &reqwest::Client,
    url: String,
    payload: Value,
    timeout: Duration,
) -> Result<(), EngineError> {
    let res = http
        .post(url)
        .timeout(timeout)
        .json(&payload)
        .send()
        .await
        .map_err(unreachable)?;
    let (status, bytes) = body(res).await?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(EngineError {
            status: Some(status),
            message: message(&bytes),
        })
    }
}

pub async fn load(
    http: &reqwest::Client,
    base_url: &str,
    name: &str,
    path: &str,
) -> Result<(), EngineError> {
    post(
        http,
        format!("{base_url}/load_lora_adapter"),
        json!({ "lora_name": name, "lora_path": path }),
        LOAD_TIMEOUT,
    )
    .await
}

pub async fn unload(http: &reqwest::Client, base_url: &str, name: &str) -> Result<(), EngineError> {
    post(
        http,
        format!("{base_url}/unload_lora_adapter"),
        json!({ "lora_name": name }),
        CALL_TIMEOUT,
    )
    .await
}
