//! `atrium mock-upstream --kind vllm`: a vLLM-compatible engine for the
//! custom-model tests, demos and benches. It speaks vLLM's OpenAI server:
//! `/v1/chat/completions` for the base model and loaded adapters only,
//! `/v1/models` listing adapters with `parent` and `root`, and runtime
//! `/v1/load_lora_adapter` / `/v1/unload_lora_adapter` with vLLM's texts
//! and status codes. Loaded adapters survive a restart through a state
//! file unless `--forget-on-restart` (as a real vLLM forgets them).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::mock_options::{Mock, VllmOptions};
use super::mock_provider::{last_request, openai};

/// Adapter name → path, in load order.
struct Engine {
    opts: VllmOptions,
    state_file: PathBuf,
    loaded: Mutex<BTreeMap<String, (u64, String)>>,
    counter: Mutex<u64>,
}

impl Engine {
    fn save(&self, loaded: &BTreeMap<String, (u64, String)>) {
        if self.opts.forget_on_restart {
            return;
        }
        let doc: BTreeMap<&String, &String> = loaded.iter().map(|(k, (_, p))| (k, p)).collect();
        if let Ok(text) = serde_json::to_string(&doc) {
            let _ = std::fs::write(&self.state_file, text);
        }
    }
}

#[derive(Clone)]
struct VllmState {
    mock: Mock,
    engine: Arc<Engine>,
}

pub(super) fn router(mock: Mock, addr: SocketAddr) -> std::io::Result<Router> {
    let opts = mock_opts(&mock);
    let state_file = opts.state_file.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("atrium-mock-vllm-{}.json", addr.port()))
    });
    let mut loaded = BTreeMap::new();
    if opts.forget_on_restart {
        let _ = std::fs::remove_file(&state_file);
    } else if let Ok(text) = std::fs::read_to_string(&state_file) {
        let doc: BTreeMap<String, String> = serde_json::from_str(&text).unwrap_or_default();
        for (i, (name, path)) in doc.into_iter().enumerate() {
            loaded.insert(name, (i as u64 + 1, path));
        }
    }
    let counter = loaded.len() as u64;
    let engine = Arc::new(Engine {
        opts,
        state_file,
        loaded: Mutex::new(loaded),
        counter: Mutex::new(counter),
    });
    Ok(Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/v1/load_lora_adapter", post(load))
        .route("/v1/unload_lora_adapter", post(unload))
        .route(
            "/mock/last-request",
            get(|State(s): State<VllmState>| last_request(State(s.mock))),
        )
        .with_state(VllmState { mock, engine }))
}

fn mock_opts(mock: &Mock) -> VllmOptions {
    mock.options().vllm.clone()
}

/// vLLM's error body.
fn error(status: StatusCode, kind: &str, message: String) -> Response {
    let body = json!({ "error": { "message": message, "type": kind, "param": null,
                                  "code": status.as_u16() } });
    (status, Json(body)).into_response()
}

fn text(message: String) -> Response {
    (StatusCode::OK, message).into_response()
}

async fn chat(State(s): State<VllmState>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    let known = model == s.engine.opts.base_model
        || s.engine
            .loaded
            .lock()
            .map(|l| l.contains_key(model))
            .unwrap_or(false);
    if !known {
        return error(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            format!("The model `{model}` does not exist."),
        );
    }
    openai(State(s.mock), headers, Json(body)).await
}

async fn models(State(s): State<VllmState>) -> Json<Value> {
    let base = &s.engine.opts.base_model;
    let mut data = vec![
        json!({ "id": base, "object": "model", "created": 1_700_000_000,
        "owned_by": "vllm", "root": base, "parent": null, "max_model_len": 4096,
        "permission": [] }),
    ];
    if let Ok(loaded) = s.engine.loaded.lock() {
        let mut by_order: Vec<_> = loaded.iter().collect();
        by_order.sort_by_key(|(_, (n, _))| *n);
        for (name, (_, path)) in by_order {
            data.push(
                json!({ "id": name, "object": "model", "created": 1_700_000_000,
                "owned_by": "vllm", "root": path, "parent": base, "max_model_len": null,
                "permission": [] }),
            );
        }
    }
    Json(json!({ "object": "list", "data": data }))
}

fn field<'a>(body: &'a Value, k: &str) -> &'a str {
    body.get(k).and_then(Value::as_str).unwrap_or("")
}

async fn load(State(s): State<VllmState>, Json(body): Json<Value>) -> Response {
    let (name, path) = (field(&body, "lora_name"), field(&body, "lora_path"));
    if name.is_empty() || path.is_empty() {
        let m = "Both 'lora_name' and 'lora_path' must be provided.".to_string();
        return error(StatusCode::BAD_REQUEST, "InvalidUserInput", m);
    }
    let local = !path.contains("://");
    if local
        && !std::path::Path::new(path)
            .join("adapter_config.json")
            .is_file()
    {
        return error(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            format!("Loading lora {name} failed: No adapter found for {path}"),
        );
    }
    let Ok(mut loaded) = s.engine.loaded.lock() else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "poisoned".into(),
        );
    };
    if loaded.contains_key(name) {
        let m = format!("The lora adapter '{name}' has already been loaded.");
        return error(StatusCode::BAD_REQUEST, "InvalidUserInput", m);
    }
    let max = s.engine.opts.max_loras;
    if max > 0 && loaded.len() >= max {
        let m = format!(
            "Loading lora {name} failed: the engine already holds max_loras={max} adapters"
        );
        return error(StatusCode::BAD_REQUEST, "BadRequestError", m);
    }
    let n = s.engine.counter.lock().map(|mut c| {
        *c += 1;
        *c
    });
    loaded.insert(name.to_string(), (n.unwrap_or(0), path.to_string()));
    s.engine.save(&loaded);
    text(format!(
        "Success: LoRA adapter '{name}' added successfully."
    ))
}

async fn unload(State(s): State<VllmState>, Json(body): Json<Value>) -> Response {
    let name = field(&body, "lora_name");
    if name.is_empty() {
        let m = "either 'lora_name' and 'lora_int_id' needs to be provided.".to_string();
        return error(StatusCode::BAD_REQUEST, "InvalidUserInput", m);
    }
    let Ok(mut loaded) = s.engine.loaded.lock() else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "poisoned".into(),
        );
    };
    if loaded.remove(name).is_none() {
        let m = format!("The lora adapter '{name}' cannot be found.");
        return error(StatusCode::NOT_FOUND, "NotFoundError", m);
    }
    s.engine.save(&loaded);
    text(format!(
        "Success: LoRA adapter '{name}' removed successfully."
    ))
}
