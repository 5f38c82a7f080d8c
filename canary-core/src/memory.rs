//! An in-memory [`StateStore`], for tests and for runs that need no crash recovery.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::model::AppRef;
use crate::model::ServiceName;
use crate::state::RolloutState;
use crate::traits::{StateStore, Versioned};

/// Keeps states in this process, with the same compare-and-set rules as the Swarm store.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    states: Mutex<HashMap<ServiceName, Versioned>>,
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn load(&self, group: &ServiceName, _apps: &[AppRef]) -> Result<Option<Versioned>> {
        Ok(self
            .states
            .lock()
            .expect("not poisoned")
            .get(group)
            .cloned())
    }

    async fn save(
        &self,
        group: &ServiceName,
        _apps: &[AppRef],
        state: &RolloutState,
        expected: Option<u64>,
    ) -> Result<u64> {
        let mut states = self.states.lock().expect("not poisoned");
        let current = states.get(group).map(|v| v.version);
        if current != expected {
            return Err(Error::Conflict(format!(
                "state of {group} is at version {current:?}, not {expected:?}: someone else wrote it"
            )));
        }
        let version = current.unwrap_or(0) + 1;
        states.insert(
            group.clone(),
            Versioned {
                state: state.clone(),
                version,
            },
        );
        Ok(version)
    }

    async fn clear(&self, group: &ServiceName, _apps: &[AppRef]) -> Result<()> {
        self.states.lock().expect("not poisoned").remove(group);
        Ok(())
    }
}
