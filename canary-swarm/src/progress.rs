//! Whether a service has converged on its current spec, judged from one snapshot of its tasks.
//!
//! Swarm answers "which tasks run the current spec" itself: the task list filter `_up-to-date`
//! (the one `docker service update` uses for its progress bars) returns only tasks made from the
//! service's current spec version. A scale changes no task's spec, so it leaves running tasks
//! up to date; an image change does not.
//!
//! With a health check, Swarm keeps a task in `starting` until its container reports healthy, so
//! "running" here already means "running and healthy".

use std::collections::{BTreeMap, HashSet};

use bollard::models::{ServiceUpdateStatus, ServiceUpdateStatusStateEnum, Task, TaskState};

/// What one snapshot says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Progress {
    /// Every desired task runs the current spec and no task of an older spec is still wanted;
    /// the IDs of those tasks, sorted.
    Converged(Vec<String>),
    /// Not yet; the text says what is missing.
    Pending(String),
    /// A task of the current spec failed (or the update was paused or rolled back).
    Failed {
        /// The failed task, to read its last log lines.
        task: Option<String>,
        /// Swarm's words.
        message: String,
    },
}

/// One look at a service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot<'a> {
    /// Tasks wanted.
    pub(crate) desired: u64,
    /// The service's update status.
    pub(crate) update_status: Option<&'a ServiceUpdateStatus>,
    /// All tasks of the service, any spec.
    pub(crate) tasks: &'a [Task],
    /// IDs of the tasks made from the current spec.
    pub(crate) up_to_date: &'a HashSet<String>,
}

fn wanted(t: &Task) -> bool {
    t.desired_state == Some(TaskState::RUNNING)
}

fn state(t: &Task) -> Option<TaskState> {
    t.status.as_ref().and_then(|s| s.state)
}

/// Tasks running now, of any spec, that Swarm wants running.
pub(crate) fn running(tasks: &[Task]) -> u64 {
    tasks
        .iter()
        .filter(|t| wanted(t) && state(t) == Some(TaskState::RUNNING))
        .count() as u64
}

/// What a failed task says about itself: `Err` ("No such image: x", "task: non-zero exit (2)"),
/// else its message, with the exit code when the text lacks it.
pub(crate) fn task_failure(t: &Task) -> String {
    let status = t.status.clone().unwrap_or_default();
    let err = status.err.filter(|e| !e.is_empty());
    let msg = status.message.filter(|m| !m.is_empty());
    let state = status
        .state
        .map(|s| s.to_string())
        .unwrap_or_else(|| "failed".into());
    let mut text = match (err, msg) {
        (Some(e), _) => e,
        (None, Some(m)) => format!("{state}: {m}"),
        (None, None) => state,
    };
    if let Some(code) = status
        .container_status
        .and_then(|c| c.exit_code)
        .filter(|c| *c != 0)
    {
        if !text.contains(&format!("({code})")) {
            text.push_str(&format!(" (exit code {code})"));
        }
    }
    let who = match (t.slot, t.id.as_deref()) {
        (Some(slot), Some(id)) => format!("task {slot} ({})", &id[..id.len().min(12)]),
        (None, Some(id)) => format!("task {}", &id[..id.len().min(12)]),
        _ => "a task".into(),
    };
    format!("{who}: {text}")
}

/// Judges one snapshot.
pub(crate) fn evaluate(s: Snapshot<'_>) -> Progress {
    use ServiceUpdateStatusStateEnum as U;
    if let Some(u) = s.update_status {
        let message = u.message.clone().unwrap_or_default();
        match u.state {
            Some(U::PAUSED) => {
                return Progress::Failed {
                    task: None,
                    message: format!("the update was paused: {message}"),
                }
            }
            Some(U::ROLLBACK_STARTED | U::ROLLBACK_PAUSED | U::ROLLBACK_COMPLETED) => {
                return Progress::Failed {
                    task: None,
                    message: format!("the update was rolled back: {message}"),
                }
            }
            _ => {}
        }
    }

    // Group the current spec's tasks by slot (by node for global services): a slot whose task runs
    // is fine whatever failed in it before; a slot without one whose task failed is a failure
    // now, not after the timeout.
    let current: Vec<&Task> = s
        .tasks
        .iter()
        .filter(|t| t.id.as_ref().is_some_and(|id| s.up_to_date.contains(id)))
        .collect();
    let mut slots: BTreeMap<String, Vec<&Task>> = BTreeMap::new();
    for t in &current {
        let key = match (t.slot, &t.node_id) {
            (Some(slot), _) if slot > 0 => format!("slot {slot}"),
            (_, Some(node)) => format!("node {node}"),
            _ => format!("task {}", t.id.clone().unwrap_or_default()),
        };
        slots.entry(key).or_default().push(t);
    }
    for tasks in slots.values() {
        let ok = tasks
            .iter()
            .any(|t| wanted(t) && state(t) == Some(TaskState::RUNNING));
        if ok {
            continue;
        }
        let failed = tasks
            .iter()
            .filter(|t| {
                matches!(
                    state(t),
                    Some(TaskState::FAILED | TaskState::REJECTED | TaskState::COMPLETE)
                )
            })
            .max_by_key(|t| t.version.as_ref().and_then(|v| v.index).unwrap_or(0));
        if let Some(t) = failed {
            return Progress::Failed {
                task: t.id.clone(),
                message: task_failure(t),
            };
        }
    }

    let mut running_ids: Vec<String> = current
        .iter()
        .filter(|t| wanted(t) && state(t) == Some(TaskState::RUNNING))
        .filter_map(|t| t.id.clone())
        .collect();
    running_ids.sort();
    let ready = running_ids.len() as u64;
    let old = s
        .tasks
        .iter()
        .filter(|t| wanted(t) && !t.id.as_ref().is_some_and(|id| s.up_to_date.contains(id)))
        .count();
    if ready == s.desired && old == 0 {
        return Progress::Converged(running_ids);
    }
    let mut why = format!("{ready}/{} tasks of the current spec running", s.desired);
    if old > 0 {
        why.push_str(&format!(", {old} of an older spec still wanted"));
    }
    if ready > s.desired {
        why.push_str(", extra tasks still stopping");
    }
    Progress::Pending(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerStatus, ObjectVersion, TaskStatus};

    fn demo_tasks() -> Vec<Task> {
        // fixtures/docker/engine-20.10.24-api-1.41/tasks_list_demo_running.json: 2 running tasks.
        serde_json::from_str(include_str!(
            "../tests/fixtures/tasks_list_demo_running.json"
        ))
        .unwrap()
    }

    fn ids(tasks: &[Task]) -> HashSet<String> {
        tasks.iter().filter_map(|t| t.id.clone()).collect()
    }

    fn task(id: &str, slot: i64, index: u64, desired: TaskState, state: TaskState) -> Task {
        Task {
            id: Some(id.into()),
            slot: Some(slot),
            version: Some(ObjectVersion { index: Some(index) }),
            desired_state: Some(desired),
            status: Some(TaskStatus {
                state: Some(state),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn running_fixture_tasks_converge() {
        let tasks = demo_tasks();
        let current = ids(&tasks);
        let snap = Snapshot {
            desired: 2,
            update_status: None,
            tasks: &tasks,
            up_to_date: &current,
        };
        let mut ids: Vec<String> = current.iter().cloned().collect();
        ids.sort();
        assert_eq!(evaluate(snap), Progress::Converged(ids));
        assert_eq!(running(&tasks), 2);
        let snap = Snapshot { desired: 3, ..snap };
        assert!(matches!(evaluate(snap), Progress::Pending(ref m) if m.starts_with("2/3")));
    }

    #[test]
    fn old_spec_tasks_are_not_counted() {
        let tasks = demo_tasks();
        let none = HashSet::new();
        let snap = Snapshot {
            desired: 2,
            update_status: None,
            tasks: &tasks,
            up_to_date: &none,
        };
        assert!(
            matches!(evaluate(snap), Progress::Pending(ref m) if m.contains("2 of an older spec"))
        );
    }

    #[test]
    fn a_failed_task_fails_at_once_with_its_own_words() {
        let mut rejected = task(
            "rej0000000000000",
            1,
            30,
            TaskState::SHUTDOWN,
            TaskState::REJECTED,
        );
        rejected.status.as_mut().unwrap().err = Some("No such image: canary-demo:nope".into());
        let tasks = vec![
            rejected,
            task("run", 2, 31, TaskState::RUNNING, TaskState::RUNNING),
        ];
        let current = ids(&tasks);
        let p = evaluate(Snapshot {
            desired: 2,
            update_status: None,
            tasks: &tasks,
            up_to_date: &current,
        });
        assert_eq!(
            p,
            Progress::Failed {
                task: Some("rej0000000000000".into()),
                message: "task 1 (rej000000000): No such image: canary-demo:nope".into()
            }
        );

        let mut crashed = task("crash", 1, 40, TaskState::SHUTDOWN, TaskState::FAILED);
        let st = crashed.status.as_mut().unwrap();
        st.err = Some("task: non-zero exit (2)".into());
        st.container_status = Some(ContainerStatus {
            exit_code: Some(2),
            ..Default::default()
        });
        let failed = vec![crashed.clone()];
        let current = ids(&failed);
        let p = evaluate(Snapshot {
            desired: 1,
            update_status: None,
            tasks: &failed,
            up_to_date: &current,
        });
        assert!(
            matches!(p, Progress::Failed { ref message, .. } if message.ends_with("task: non-zero exit (2)"))
        );

        // An old failure in a slot that runs again is history, not a failure.
        let healed = vec![
            crashed,
            task("again", 1, 41, TaskState::RUNNING, TaskState::RUNNING),
        ];
        let current = ids(&healed);
        let p = evaluate(Snapshot {
            desired: 1,
            update_status: None,
            tasks: &healed,
            up_to_date: &current,
        });
        assert_eq!(p, Progress::Converged(vec!["again".to_string()]));
    }

    #[test]
    fn paused_and_rolled_back_updates_fail() {
        let tasks = demo_tasks();
        let current = ids(&tasks);
        for (state, word) in [
            (ServiceUpdateStatusStateEnum::PAUSED, "paused"),
            (
                ServiceUpdateStatusStateEnum::ROLLBACK_STARTED,
                "rolled back",
            ),
        ] {
            let u = ServiceUpdateStatus {
                state: Some(state),
                message: Some("update paused due to failure or early termination of task x".into()),
                ..Default::default()
            };
            let p = evaluate(Snapshot {
                desired: 2,
                update_status: Some(&u),
                tasks: &tasks,
                up_to_date: &current,
            });
            assert!(
                matches!(p, Progress::Failed { ref message, .. } if message.contains(word)),
                "{p:?}"
            );
        }
    }
}
