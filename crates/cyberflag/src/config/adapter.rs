//! `[adapter]`: defaults for force adapters.

use serde::{Deserialize, Serialize};

use super::{ConfigError, refuse};

/// `[adapter]`: checkpoints and how many messages may await the broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdapterConfig {
    /// Directory for checkpoints of profiles that do not name one.
    pub state_dir: String,
    /// Rows between checkpoint saves (bounds re-sends after a crash).
    pub checkpoint_every: u64,
    /// Messages awaiting broker acknowledgement at most (bounds memory and re-sends).
    pub max_in_flight: u64,
}

impl Default for AdapterConfig {
    fn default() -> Self {
        Self {
            state_dir: ".cyberflag/state".into(),
            checkpoint_every: 2_000,
            max_in_flight: 10_000,
        }
    }
}

impl AdapterConfig {
    /// Refuses values that are well-typed but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("adapter.checkpoint_every", self.checkpoint_every),
            ("adapter.max_in_flight", self.max_in_flight),
        ] {
            if value == 0 {
                return Err(refuse(key, "must be at least 1".into()));
            }
        }
        Ok(())
    }
}
