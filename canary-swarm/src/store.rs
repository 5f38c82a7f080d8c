//! [`SwarmStateStore`]: a group's rollout state kept in a label of its first app's stable
//! service, so any manager node, a restarted controller or another process can find it.
//!
//! # Layout
//!
//! Two service labels on the stable service of the group's first app:
//!
//! - `io.canary.state`: compact JSON `{"version":N,"state":{...}}`, the [`RolloutState`] and a
//!   counter of its own;
//! - `io.canary.state-group`: the group's name, so a group never reads another's state.
//!
//! Service labels live in the service spec but not in the task template, so writing them
//! restarts no task. The canary never copies them (every `io.canary.*` label is stripped).
//!
//! # Versions
//!
//! The version handed to the engine is the counter `N` inside the JSON, not Swarm's version
//! index. The index moves on every change of the service: our own `set_image` and
//! `update_labels`, a `docker stack deploy`, a person's `docker service update`. Had the store
//! used it, the engine's next save would fail with a conflict after any of those although
//! nobody touched the state. The counter moves only when a state is saved.
//!
//! A save is a compare-and-set on the counter, made atomic by Swarm's index: read the service
//! (index `I`, counter `N`), fail with [`Error::Conflict`] unless `N` is the expected version,
//! write the labels with `N + 1` at index `I`. A first save (nothing saved, expected `None`)
//! starts the counter at the current Unix time in milliseconds rather than at 1, so the versions
//! of a state saved after a [`StateStore::clear`] never repeat those of the cleared one. A write that loses the race (HTTP 500 "update out
//! of sequence") reads again and checks the counter again: when only the index moved (someone
//! changed the image, say) the save goes through on the fresh spec, keeping their change; when
//! the counter moved, another writer saved a state and the save is a conflict.
//!
//! # Listing
//!
//! [`StateStore::groups`] lists the services carrying [`STATE_GROUP_LABEL`] (one daemon call,
//! no task reads). The labels name the group and the holding service, not the group's other
//! apps, so each group comes back with one app: its `stable` is the holder, which is all
//! [`StateStore::load`] reads; its `name` is the holder's name without the stack prefix and its
//! `canary` the default `<stable>-canary`.
//!
//! # Limits
//!
//! `docker stack deploy` replaces a stack service's labels with the compose file's, so
//! redeploying the stack during a rollout erases its saved state; [`StateStore::load`] then
//! finds none.

use std::collections::BTreeMap;

use async_trait::async_trait;
use canary_core::{
    AppRef, Error, GroupRef, Result, RolloutState, ServiceName, StateStore, Versioned,
};
use serde::{Deserialize, Serialize};

use crate::error::Object;
use crate::{spec, SwarmOrchestrator};

/// The label holding the saved state.
pub const STATE_LABEL: &str = "io.canary.state";
/// The label naming the group whose state [`STATE_LABEL`] holds.
pub const STATE_GROUP_LABEL: &str = "io.canary.state-group";

#[derive(Serialize, Deserialize)]
struct Envelope {
    version: u64,
    state: RolloutState,
}

/// What the labels of the holding service say.
#[derive(Debug)]
enum Saved {
    /// No state.
    Nothing,
    /// The state of another group.
    Other(String),
    /// This group's state: its counter and the raw JSON.
    Ours(u64, String),
}

fn saved(labels: &BTreeMap<String, String>, group: &ServiceName) -> Result<Saved> {
    let Some(json) = labels.get(STATE_LABEL) else {
        return Ok(Saved::Nothing);
    };
    match labels.get(STATE_GROUP_LABEL) {
        Some(g) if g == group.as_str() => {}
        Some(g) => return Ok(Saved::Other(g.clone())),
        None => return Ok(Saved::Other("(unnamed)".into())),
    }
    // Only the counter here: a state saved by a newer SDK with fields this one lacks must still
    // be compared and replaced.
    #[derive(Deserialize)]
    struct Counter {
        version: u64,
    }
    let c: Counter = serde_json::from_str(json).map_err(|e| {
        Error::internal(format!(
            "the label {STATE_LABEL} is not a saved rollout state: {e}"
        ))
        .with_source(e)
    })?;
    Ok(Saved::Ours(c.version, json.clone()))
}

/// The group whose state a service (the daemon's JSON) holds, and the app to load it with; `None`
/// for a service without the labels or with names Docker or this crate would not accept.
fn group_ref(service: &serde_json::Value) -> Option<GroupRef> {
    let spec = service.get("Spec")?;
    let labels = spec::labels(spec);
    labels.get(STATE_LABEL)?;
    let group = ServiceName::parse(labels.get(STATE_GROUP_LABEL)?).ok()?;
    let holder = ServiceName::parse(spec.get("Name")?.as_str()?).ok()?;
    // `docker stack deploy` names app `api` of stack `shop` `shop_api`.
    let name = labels
        .get(spec::STACK_NAMESPACE_LABEL)
        .and_then(|stack| holder.as_str().strip_prefix(&format!("{stack}_")))
        .and_then(|n| ServiceName::parse(n).ok())
        .unwrap_or_else(|| holder.clone());
    let canary = holder
        .with_suffix("-canary")
        .unwrap_or_else(|_| holder.clone());
    Some(GroupRef {
        group,
        apps: vec![AppRef {
            name,
            stable: holder,
            canary,
        }],
    })
}

/// Keeps rollout states in service labels; see the module docs for the layout and versions.
#[derive(Debug, Clone)]
pub struct SwarmStateStore {
    orchestrator: SwarmOrchestrator,
}

impl SwarmStateStore {
    /// A store writing through `orchestrator`'s connection (and its retry policy).
    pub fn new(orchestrator: SwarmOrchestrator) -> Self {
        SwarmStateStore { orchestrator }
    }

    /// The service holding a group's state: the first app's stable service.
    fn holder(apps: &[AppRef]) -> Result<&ServiceName> {
        apps.first().map(|a| &a.stable).ok_or_else(|| {
            Error::invalid(
                "apps",
                "a group needs at least one app to keep its state on",
            )
        })
    }
}

#[async_trait]
impl StateStore for SwarmStateStore {
    async fn load(&self, group: &ServiceName, apps: &[AppRef]) -> Result<Option<Versioned>> {
        let holder = Self::holder(apps)?;
        let Some(service) = self.orchestrator.find(holder.as_str()).await? else {
            return Ok(None);
        };
        let labels = service.get("Spec").map(spec::labels).unwrap_or_default();
        match saved(&labels, group)? {
            Saved::Ours(_, json) => {
                let e: Envelope = serde_json::from_str(&json).map_err(|e| {
                    Error::internal(format!(
                        "cannot read the rollout state of {group} saved on {holder}: {e}"
                    ))
                    .with_source(e)
                })?;
                Ok(Some(Versioned {
                    state: e.state,
                    version: e.version,
                }))
            }
            Saved::Nothing | Saved::Other(_) => Ok(None),
        }
    }

    async fn save(
        &self,
        group: &ServiceName,
        apps: &[AppRef],
        state: &RolloutState,
        expected: Option<u64>,
    ) -> Result<u64> {
        let holder = Self::holder(apps)?;
        let mut written = 0;
        self.orchestrator
            .update_with(holder.as_str(), None, |spec, _| {
                let current = match saved(&spec::labels(spec), group)? {
                    Saved::Nothing => None,
                    Saved::Ours(v, _) => Some(v),
                    Saved::Other(other) => {
                        return Err(Error::conflict(format!(
                            "{holder} already holds the rollout state of group {other}; clear it first"
                        )))
                    }
                };
                if current != expected {
                    return Err(Error::conflict(format!(
                        "the state of {group} is at version {current:?}, not {expected:?}: someone else saved it"
                    )));
                }
                written = match current {
                    Some(v) => v + 1,
                    // A new state starts at the clock, not at 1: a controller still holding a
                    // version of a state that was cleared since can then never match the new
                    // one's (no ABA), and no tombstone label needs to outlive `clear`.
                    None => canary_core::state::now_ms().max(1),
                };
                let json = serde_json::to_string(&Envelope {
                    version: written,
                    state: state.clone(),
                })
                .map_err(|e| Error::internal(format!("cannot encode the rollout state: {e}")).with_source(e))?;
                let labels = spec::labels_mut(spec);
                labels.insert(STATE_LABEL.into(), json.into());
                labels.insert(STATE_GROUP_LABEL.into(), group.as_str().into());
                Ok(())
            })
            .await?;
        Ok(written)
    }

    async fn clear(&self, group: &ServiceName, apps: &[AppRef]) -> Result<()> {
        let holder = Self::holder(apps)?;
        let result = self
            .orchestrator
            .update_with(holder.as_str(), None, |spec, _| {
                // Another group's state is not ours to clear.
                if let Saved::Ours(..) = saved(&spec::labels(spec), group)? {
                    let labels = spec::labels_mut(spec);
                    labels.remove(STATE_LABEL);
                    labels.remove(STATE_GROUP_LABEL);
                }
                Ok(())
            })
            .await;
        match result {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn groups(&self) -> Result<Vec<GroupRef>> {
        let services = self
            .orchestrator
            .list(
                serde_json::json!({ "label": [STATE_GROUP_LABEL] }),
                Object::None,
            )
            .await?;
        let mut groups: Vec<GroupRef> = services.iter().filter_map(group_ref).collect();
        // One entry per group even if two services claim it (a spec whose first app changed):
        // the holder first by name, as `load` through either would find a state.
        groups.sort_by(|a, b| (&a.group, &a.apps[0].stable).cmp(&(&b.group, &b.apps[0].stable)));
        groups.dedup_by(|a, b| a.group == b.group);
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> ServiceName {
        ServiceName::parse("shop").unwrap()
    }

    #[test]
    fn labels_say_whose_state_it_is() {
        let mut labels = BTreeMap::new();
        assert!(matches!(saved(&labels, &group()).unwrap(), Saved::Nothing));
        let state = RolloutState::new(BTreeMap::from([("api".into(), "api:v2".into())]), 1);
        let json = serde_json::to_string(&Envelope { version: 7, state }).unwrap();
        assert!(!json.contains('\n'), "compact");
        labels.insert(STATE_LABEL.to_string(), json);
        labels.insert(STATE_GROUP_LABEL.to_string(), "shop".to_string());
        assert!(matches!(
            saved(&labels, &group()).unwrap(),
            Saved::Ours(7, _)
        ));
        labels.insert(STATE_GROUP_LABEL.to_string(), "other".to_string());
        assert!(matches!(saved(&labels, &group()).unwrap(), Saved::Other(ref g) if g == "other"));
        labels.insert(STATE_GROUP_LABEL.to_string(), "shop".to_string());
        labels.insert(STATE_LABEL.to_string(), "not json".to_string());
        let e = saved(&labels, &group()).unwrap_err();
        assert!(matches!(e, Error::Internal { .. }), "{e}");
        // serde_json's own error is the cause, and its words stay in the message.
        let cause = std::error::Error::source(&e).expect("a source");
        let json = cause
            .downcast_ref::<serde_json::Error>()
            .expect("serde_json's error");
        assert!(json.is_syntax(), "{json}");
        assert!(e.to_string().contains(&json.to_string()), "{e}");
    }

    #[test]
    fn a_holder_names_its_group_and_the_app_to_load_it_with() {
        let service = |name: &str, labels: serde_json::Value| serde_json::json!({"Spec": {"Name": name, "Labels": labels}});
        let g = group_ref(&service(
            "shop_api",
            serde_json::json!({STATE_LABEL: "{}", STATE_GROUP_LABEL: "shop",
                               spec::STACK_NAMESPACE_LABEL: "shop"}),
        ))
        .unwrap();
        assert_eq!(g.group.as_str(), "shop");
        assert_eq!(
            (
                g.apps[0].name.as_str(),
                g.apps[0].stable.as_str(),
                g.apps[0].canary.as_str()
            ),
            ("api", "shop_api", "shop_api-canary")
        );
        let g = group_ref(&service(
            "api",
            serde_json::json!({STATE_LABEL: "{}", STATE_GROUP_LABEL: "shop"}),
        ))
        .unwrap();
        assert_eq!(g.apps[0].name.as_str(), "api");
        // No state, no group label, or a group name Docker would refuse: not a group.
        for labels in [
            serde_json::json!({STATE_GROUP_LABEL: "shop"}),
            serde_json::json!({STATE_LABEL: "{}"}),
            serde_json::json!({STATE_LABEL: "{}", STATE_GROUP_LABEL: "no/slash"}),
        ] {
            assert_eq!(group_ref(&service("api", labels.clone())), None, "{labels}");
        }
        assert_eq!(group_ref(&serde_json::json!({"Spec": 3})), None);
        assert_eq!(group_ref(&serde_json::json!(null)), None);
    }

    #[test]
    fn a_newer_format_still_has_a_readable_counter() {
        let labels = BTreeMap::from([
            (
                STATE_LABEL.to_string(),
                r#"{"version":3,"state":{"futureField":1}}"#.to_string(),
            ),
            (STATE_GROUP_LABEL.to_string(), "shop".to_string()),
        ]);
        assert!(matches!(
            saved(&labels, &group()).unwrap(),
            Saved::Ours(3, _)
        ));
    }
}
