//! The mock engines' options and shared state: below the provider
//! handlers, the vLLM engine and the launcher, which all read them.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use serde_json::Value;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct MockOptions {
    /// Address to listen on.
    #[arg(id = "mock_addr", long = "addr", default_value = "127.0.0.1:9099")]
    pub addr: String,
    /// Delay before every answer.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Delay between streamed chunks.
    #[arg(long, default_value_t = 0)]
    pub stream_chunk_delay_ms: u64,
    /// Answer every Nth request with a 503 (0: never).
    #[arg(long, default_value_t = 0)]
    pub fail_every: u64,
    /// Stream text in pieces of this many characters instead of words, so
    /// a value can be split anywhere (0: by word).
    #[arg(long, default_value_t = 0)]
    pub stream_piece_chars: usize,
    /// Answer with as many tokens as the request allows (a word a token),
    /// every choice of OpenAI's `n` billed: the worst case a hard budget
    /// holds, for its tests.
    #[arg(long)]
    pub fill_max_tokens: bool,
    /// Report no token usage at all (a provider that omits it), so the
    /// gateway's floor for unreported usage can be tested.
    #[arg(long)]
    pub omit_usage: bool,
    /// Which engine to be: a provider speaking both vendors' formats, or a
    /// vLLM-compatible engine with runtime LoRA loading.
    #[arg(long, value_enum, default_value_t = MockKind::Provider)]
    pub kind: MockKind,
    #[command(flatten)]
    pub vllm: VllmOptions,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum MockKind {
    #[default]
    Provider,
    Vllm,
}

#[derive(Clone)]
pub(super) struct Mock {
    pub(super) opts: MockOptions,
    pub(super) count: Arc<AtomicU64>,
    pub(super) last: Arc<Mutex<Value>>,
}

impl Mock {
    pub(super) fn options(&self) -> &MockOptions {
        &self.opts
    }
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct VllmOptions {
    /// The base model's name, as `/v1/models` lists it.
    #[arg(long, default_value = "tiny-llama")]
    pub base_model: String,
    /// Refuse to load more than this many adapters (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub max_loras: usize,
    /// Start with no adapters loaded, as vLLM does after a restart.
    #[arg(long)]
    pub forget_on_restart: bool,
    /// Where loaded adapters are kept across restarts (default: a file in
    /// the temporary directory named for the port).
    #[arg(long)]
    pub state_file: Option<PathBuf>,
}
