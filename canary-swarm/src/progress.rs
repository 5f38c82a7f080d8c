//! Whether a service has converged on its current spec, judged from one snapshot of its tasks.
//!
//! Swarm answers "which tasks run the current spec" itself: the task list filter `_up-to-date`
//! (the one `docker service update` uses for its progress bars) returns only tasks made from the
//! service's current spec version. A scale changes no task's spec, so it leaves running tasks
//! up to date; an image change does not.
//!
//! With a health check, Swarm keeps a task in `starting` until its container reports healthy, so
//! "running" here already means "running and healthy".
//!
//! Swarm keeps a service's task history, and a scale does not make old tasks out of date: a task
//! that failed in an earlier rollout (a killed canary, a `dockerd` restart) still shows in its
//! slot, "up to date", when the next rollout scales the service up again. So only the current
//! rollout's tasks are judged: a task created before the service's last update (`UpdatedAt`, on
//! the manager's clock, like the tasks' `CreatedAt`) that Swarm no longer wants running is
//! history.

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
    /// The service's last update (`UpdatedAt`): tasks created before it are history.
    pub(crate) since: Option<&'a str>,
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

/// A task of an earlier rollout: created before the service's last update, and not one Swarm
/// still wants running (a scale keeps the tasks it had; those still count).
fn history(t: &Task, since: Option<i128>) -> bool {
    let before = match (since, t.created_at.as_deref().and_then(timestamp_nanos)) {
        (Some(since), Some(created)) => created < since,
        _ => false,
    };
    let alive = wanted(t)
        && !matches!(
            state(t),
            Some(
                TaskState::FAILED
                    | TaskState::REJECTED
                    | TaskState::COMPLETE
                    | TaskState::SHUTDOWN
                    | TaskState::ORPHANED
                    | TaskState::REMOVE
            )
        );
    before && !alive
}

/// Which of two failed tasks of a slot came later (its words are reported): creation time, then
/// the object's version.
fn newness(t: &Task) -> (i128, u64) {
    (
        t.created_at
            .as_deref()
            .and_then(timestamp_nanos)
            .unwrap_or(i128::MIN),
        t.version.as_ref().and_then(|v| v.index).unwrap_or(0),
    )
}

/// Nanoseconds since the Unix epoch of an RFC 3339 timestamp as Docker writes them
/// (`2026-11-30T18:01:02.123456789Z`, or with a `+hh:mm` offset); `None` when it is not one.
pub(crate) fn timestamp_nanos(text: &str) -> Option<i128> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos: i128 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, c) in frac[..digits].bytes().enumerate().take(9) {
            nanos += i128::from(c - b'0') * 10i128.pow(8 - i as u32);
        }
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let h: i64 = o.get(1..3)?.parse().ok()?;
            let m: i64 = o.get(4..6)?.parse().ok()?;
            let v = h * 3600 + m * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
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

    // Group the current rollout's tasks by slot (by node for global services): a slot whose task
    // runs is fine whatever failed in it before; a slot without one whose task failed is a failure
    // now, not after the timeout.
    let since = s.since.and_then(timestamp_nanos);
    let current: Vec<&Task> = s
        .tasks
        .iter()
        .filter(|t| t.id.as_ref().is_some_and(|id| s.up_to_date.contains(id)))
        .filter(|t| !history(t, since))
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
        // Within the current rollout, a slot that runs nothing and has a failed task is failing,
        // even while Swarm's replacement waits out its restart delay (a crash loop).
        let failed = tasks
            .iter()
            .filter(|t| {
                matches!(
                    state(t),
                    Some(TaskState::FAILED | TaskState::REJECTED | TaskState::COMPLETE)
                )
            })
            .max_by_key(|t| newness(t));
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
            since: None,
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
            since: None,
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
            since: None,
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
            since: None,
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
            since: None,
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
                since: None,
            });
            assert!(
                matches!(p, Progress::Failed { ref message, .. } if message.contains(word)),
                "{p:?}"
            );
        }
    }

    fn created(mut t: Task, at: &str) -> Task {
        t.created_at = Some(at.into());
        t
    }

    #[test]
    fn an_earlier_rollouts_failure_is_history() {
        // The canary was killed in the last rollout (task 1 failed), scaled to 0 at rollback,
        // and scaled to 1 again now: Swarm has not made the new task yet.
        let mut killed = task("killed", 1, 40, TaskState::SHUTDOWN, TaskState::FAILED);
        killed.status.as_mut().unwrap().err = Some("task: non-zero exit (137)".into());
        let killed = created(killed, "2026-11-30T10:00:00.5Z");
        let tasks = vec![killed.clone()];
        let current = ids(&tasks);
        let since = "2026-11-30T10:05:00.000000001Z";
        let p = evaluate(Snapshot {
            desired: 1,
            update_status: None,
            tasks: &tasks,
            up_to_date: &current,
            since: Some(since),
        });
        assert!(
            matches!(p, Progress::Pending(ref m) if m.starts_with("0/1")),
            "{p:?}"
        );
        // Without the baseline the old failure would end the wait (what happened before).
        let p = evaluate(Snapshot {
            desired: 1,
            update_status: None,
            tasks: &tasks,
            up_to_date: &current,
            since: None,
        });
        assert!(matches!(p, Progress::Failed { .. }), "{p:?}");
        // The new task is starting in the same slot: still pending, not failed.
        let starting = created(
            task("new", 1, 50, TaskState::RUNNING, TaskState::STARTING),
            "2026-11-30T10:05:01Z",
        );
        let tasks = vec![killed, starting];
        let current = ids(&tasks);
        let p = evaluate(Snapshot {
            desired: 1,
            update_status: None,
            tasks: &tasks,
            up_to_date: &current,
            since: Some(since),
        });
        assert!(matches!(p, Progress::Pending(_)), "{p:?}");
    }

    #[test]
    fn the_latest_failure_of_a_slot_is_reported() {
        let ok = created(
            task("old", 1, 10, TaskState::SHUTDOWN, TaskState::SHUTDOWN),
            "2026-11-30T10:00:00Z",
        );
        let mut crash = task("crash", 1, 20, TaskState::SHUTDOWN, TaskState::FAILED);
        crash.status.as_mut().unwrap().err = Some("task: non-zero exit (1)".into());
        let crash = created(crash, "2026-11-30T10:00:01Z");
        let tasks = vec![ok, crash];
        let current = ids(&tasks);
        let p = evaluate(Snapshot {
            desired: 1,
            update_status: None,
            tasks: &tasks,
            up_to_date: &current,
            since: None,
        });
        assert!(
            matches!(p, Progress::Failed { task: Some(ref id), .. } if id == "crash"),
            "{p:?}"
        );
    }

    #[test]
    fn docker_timestamps_parse() {
        let t = |s| timestamp_nanos(s);
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(
            t("2026-11-30T18:01:02.123456789Z").unwrap() - t("2026-11-30T18:01:02Z").unwrap(),
            123_456_789
        );
        assert!(t("2026-11-30T18:01:02.1234567Z") < t("2026-11-30T18:01:02.12345678Z"));
        assert_eq!(t("2000-03-01T00:00:00Z"), Some(951_868_800 * 1_000_000_000));
        assert_eq!(t("2000-03-01T01:00:00+01:00"), t("2000-03-01T00:00:00Z"));
        for bad in [
            "",
            "2026-11-30",
            "2026-13-01T00:00:00Z",
            "2026-11-30T18:01:02",
            "x026-11-30T18:01:02Z",
            "2026-11-30T18:01:02.Z",
            "2026-11-30T18:01:02.5+1:00",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_scale_keeps_the_tasks_that_run() {
        // Scaled from 1 to 2: the first task predates the update and still counts.
        let kept = created(
            task("kept", 1, 10, TaskState::RUNNING, TaskState::RUNNING),
            "2026-11-30T10:00:00Z",
        );
        let added = created(
            task("added", 2, 20, TaskState::RUNNING, TaskState::RUNNING),
            "2026-11-30T10:01:00Z",
        );
        let tasks = vec![kept, added];
        let current = ids(&tasks);
        let p = evaluate(Snapshot {
            desired: 2,
            update_status: None,
            tasks: &tasks,
            up_to_date: &current,
            since: Some("2026-11-30T10:00:59Z"),
        });
        assert_eq!(p, Progress::Converged(vec!["added".into(), "kept".into()]));
    }
}
