//! Atrium's own capabilities that platform flags switch per tenant. The
//! code asks for a capability, never a free-form key, so it cannot ask
//! for a flag that does not exist; each is created at start with its
//! default the first time.

use super::{Flag, FlagKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Streaming completions (`"stream": true`).
    GatewayStreaming,
    /// Response rules on whole (non-streamed) answers.
    GovernanceResponseScanning,
    /// Response rules on streamed answers: the hold-back buffer, which
    /// operators roll out gradually because it delays a stream's text.
    GovernanceStreamScanning,
    /// The tenant may use its custom (LoRA) models.
    ModelsCustom,
}

impl Capability {
    pub const ALL: [Capability; 4] = [
        Capability::GatewayStreaming,
        Capability::GovernanceResponseScanning,
        Capability::GovernanceStreamScanning,
        Capability::ModelsCustom,
    ];

    /// The capability a platform flag key gates, if any.
    pub fn of_key(key: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.key() == key)
    }

    pub fn key(self) -> &'static str {
        match self {
            Capability::GatewayStreaming => "gateway.streaming",
            Capability::GovernanceResponseScanning => "governance.response_scanning",
            Capability::GovernanceStreamScanning => "governance.stream_scanning",
            Capability::ModelsCustom => "models.custom",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Capability::GatewayStreaming => {
                "Streaming completions; off: streamed requests are refused with 403"
            }
            Capability::GovernanceResponseScanning => "Response rules applied to whole answers",
            Capability::GovernanceStreamScanning => {
                "Response rules applied to streamed answers (holds back text)"
            }
            Capability::ModelsCustom => "The tenant's custom (LoRA) models may be called",
        }
    }

    /// Whether it is on for everyone until an operator says otherwise.
    fn on_by_default(self) -> bool {
        !matches!(self, Capability::ModelsCustom)
    }

    /// The flag as first created: a boolean, on or off for all tenants.
    pub fn seed(self) -> Flag {
        let key = FlagKey(self.key().to_string());
        let mut f = Flag::boolean(key, self.description());
        if self.on_by_default() {
            f.default_variant = "on".into();
        }
        f.owner = "platform".into();
        f
    }
}
