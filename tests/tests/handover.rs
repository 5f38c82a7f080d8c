//! A promotion whose stable loses every task while it takes the new version: stable publishes a
//! host-mode port, so Swarm updates it stop-first (a start-first update would stall on the port),
//! and Traefik's swarm provider drops the service while no task runs. Before the handover, every
//! request of the app answered 404 then (a weighted service naming a missing child is disabled
//! as a whole); now stable leaves the routing while its tasks are replaced and not one request
//! fails.

use std::time::Duration;

use canary_e2e::docker;
use canary_e2e::group::{Group, V2};
use canary_e2e::load::Load;
use canary_e2e::stack::{free_port, stack_or_skip};

#[test]
fn stable_without_a_task_during_its_update_costs_no_request() {
    let Some(stack) = stack_or_skip("stable_without_a_task_during_its_update_costs_no_request")
    else {
        return;
    };
    let g = Group::new(&stack);
    let spec = g.write("canary.yaml", &g.spec(&["api"], "50", "3s", None, ""));
    g.deploy(&spec);
    let stable = g.service("api", false);
    let publish = format!("mode=host,target=8080,published={}", free_port());
    docker::ok(&[
        "service",
        "update",
        "--quiet",
        "--detach=false",
        "--update-order",
        "stop-first",
        "--publish-add",
        &publish,
        &stable,
    ]);
    let order = docker::service(&stable)["Spec"]["UpdateConfig"]["Order"].clone();
    assert_eq!(
        order, "stop-first",
        "the premise: stable updates stop-first"
    );

    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 40);
    std::thread::sleep(Duration::from_secs(1));
    let run = g.spawn(&spec, &["run", "--restart"]);
    let (code, lines, stderr) = run.finish(Duration::from_secs(180));
    let report = load.stop();
    assert_eq!(code, Some(0), "canary run: {stderr}\n{lines:#?}");
    let kinds: Vec<String> = lines
        .iter()
        .filter(|l| l["type"] == "event")
        .map(|l| l["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    let handover = lines
        .iter()
        .find(|l| l["kind"] == "handover")
        .unwrap_or_else(|| panic!("no handover event in {kinds:?}"));
    assert!(
        handover["message"]
            .as_str()
            .is_some_and(|m| m.contains("the canary serves everything")),
        "{handover}"
    );
    assert_eq!(lines.last().unwrap()["result"], "promoted", "{lines:#?}");
    assert_eq!(docker::service_image(&stable), docker::image_id(V2));

    // Stable had no task for a while (stop-first), and not one request failed meanwhile.
    let failures = report.failures(|_| false);
    assert!(
        failures.is_empty(),
        "{} failed requests: {:?}\n{:?}",
        failures.len(),
        &failures[..failures.len().min(5)],
        report.summary()
    );
    assert!(report.samples.len() > 100, "{:?}", report.summary());
    let summary = report.summary();
    eprintln!("handover under load: {summary:?}");
}
