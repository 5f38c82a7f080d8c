//! An in-memory [`StateStore`], for tests and for runs that need no crash recovery.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::model::AppRef;
use crate::model::ServiceName;
use crate::state::RolloutState;
use crate::traits::{GroupRef, StateStore, Versioned};

/// A saved state and the apps it was saved with (what [`StateStore::groups`] hands back).
#[derive(Debug)]
struct Saved {
    apps: Vec<AppRef>,
    versioned: Versioned,
}

/// Keeps states in this process, with the same compare-and-set rules as the Swarm store.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    states: Mutex<BTreeMap<ServiceName, Saved>>,
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
            .map(|s| s.versioned.clone()))
    }

    async fn save(
        &self,
        group: &ServiceName,
        apps: &[AppRef],
        state: &RolloutState,
        expected: Option<u64>,
    ) -> Result<u64> {
        let mut states = self.states.lock().expect("not poisoned");
        let current = states.get(group).map(|s| s.versioned.version);
        if current != expected {
            return Err(Error::conflict(format!(
                "state of {group} is at version {current:?}, not {expected:?}: someone else wrote it"
            )));
        }
        let version = current.unwrap_or(0) + 1;
        states.insert(
            group.clone(),
            Saved {
                apps: apps.to_vec(),
                versioned: Versioned {
                    state: state.clone(),
                    version,
                },
            },
        );
        Ok(version)
    }

    async fn clear(&self, group: &ServiceName, _apps: &[AppRef]) -> Result<()> {
        self.states.lock().expect("not poisoned").remove(group);
        Ok(())
    }

    async fn groups(&self) -> Result<Vec<GroupRef>> {
        // A BTreeMap: already sorted by name.
        Ok(self
            .states
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|(group, s)| GroupRef {
                group: group.clone(),
                apps: s.apps.clone(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str) -> AppRef {
        AppRef {
            name: ServiceName::parse(name).unwrap(),
            stable: ServiceName::parse(name).unwrap(),
            canary: ServiceName::parse(&format!("{name}-canary")).unwrap(),
        }
    }

    #[tokio::test]
    async fn groups_lists_each_saved_group_with_its_apps_sorted_and_forgets_cleared_ones() {
        let store = MemoryStateStore::new();
        assert!(store.groups().await.unwrap().is_empty());
        let state = RolloutState::new(BTreeMap::new(), 1);
        let (shop, blog) = (
            ServiceName::parse("shop").unwrap(),
            ServiceName::parse("blog").unwrap(),
        );
        store
            .save(&shop, &[app("api"), app("web")], &state, None)
            .await
            .unwrap();
        let v = store
            .save(&blog, &[app("posts")], &state, None)
            .await
            .unwrap();
        store
            .save(&blog, &[app("posts")], &state, Some(v))
            .await
            .unwrap();
        let groups = store.groups().await.unwrap();
        assert_eq!(
            groups,
            vec![
                GroupRef {
                    group: blog.clone(),
                    apps: vec![app("posts")]
                },
                GroupRef {
                    group: shop.clone(),
                    apps: vec![app("api"), app("web")]
                },
            ]
        );
        // What `groups` hands back is enough to load the state.
        for g in &groups {
            assert!(store.load(&g.group, &g.apps).await.unwrap().is_some());
        }
        store.clear(&blog, &[]).await.unwrap();
        let names: Vec<_> = store
            .groups()
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.group.to_string())
            .collect();
        assert_eq!(names, ["shop"]);
    }
}
