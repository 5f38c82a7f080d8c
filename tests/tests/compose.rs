//! The stack file stays the source of truth (issue #17), on the real stack: a seed-style compose
//! file (stable `api` × 4 beside `api-canary` × 1, each with its own Traefik labels, canary
//! settings in `x-canary`; and `web` × 2 in the SDK's layout, its canary created by canary)
//! deployed with `docker stack deploy`, promoted by
//! `canary run -f docker-compose.canary.yml`, which writes the promoted image into the file and
//! changes nothing else; a second `docker stack deploy` of the file keeps the new version with
//! no failed request under a steady load; a file edited back to the old image makes
//! `canary status` report the drift.

use std::path::Path;
use std::time::{Duration, Instant};

use canary_e2e::docker;
use canary_e2e::group::{Group, V1, V2};
use canary_e2e::load::{http_get, Load};
use canary_e2e::stack::{stack_or_skip, Stack};

/// The seed's layout for one app, in stack `name`, on the stack's network.
fn compose_file(name: &str, network: &str) -> String {
    let host = format!("{name}.localhost");
    let rule = format!("Host(`{host}`) && PathPrefix(`/api`)");
    let web_rule = format!("Host(`{host}`) && PathPrefix(`/web`)");
    format!(
        r#"# {name}: stable and canary side by side, Traefik in front (the seed's layout).
#
#   docker stack deploy -c docker-compose.canary.yml {name}
#   canary run -f docker-compose.canary.yml
version: "3.8"

x-deploy-defaults: &deploy-defaults
  endpoint_mode: dnsrr          # no IPVS here
  restart_policy:
    condition: on-failure
  update_config:
    parallelism: 1
    order: start-first

# The rollout, read by canary and ignored by docker stack deploy.
x-canary:
  stack: {name}
  traffic:
    mode: weighted
    steps: [50]
    interval: 4s
  analysis:
    window: 4s
    minRequests: 5
    checks:
      - {{name: success-rate, metric: successRate, min: 0.99, critical: true}}
  timeouts: {{call: 20s, converge: 90s}}

services:
  api:
    image: {V1}
    networks: [{network}]
    x-canary:
      healthPath: /health
    deploy:
      <<: *deploy-defaults
      replicas: 4
      labels:
        - "io.canary.test=1"
        - "traefik.enable=true"
        - "traefik.swarm.network={network}"
        - "traefik.http.routers.{name}-api.rule={rule}"
        - "traefik.http.routers.{name}-api.service={name}-api"
        - "traefik.http.services.{name}-api.loadbalancer.server.port=8080"

  api-canary:
    image: {V2}
    networks: [{network}]
    deploy:
      <<: *deploy-defaults
      replicas: 1
      labels:
        - "io.canary.test=1"
        - "traefik.enable=true"
        - "traefik.swarm.network={network}"
        # Same router and service as stable: 4 + 1 tasks share the traffic.
        - "traefik.http.routers.{name}-api.rule={rule}"
        - "traefik.http.routers.{name}-api.service={name}-api"
        - "traefik.http.services.{name}-api.loadbalancer.server.port=8080"
        # X-Canary: true reaches the canary only.
        - "traefik.http.routers.{name}-api-canary.rule={rule} && Header(`X-Canary`, `true`)"
        - "traefik.http.routers.{name}-api-canary.priority=100"
        - "traefik.http.routers.{name}-api-canary.service={name}-api-canary"
        - "traefik.http.services.{name}-api-canary.loadbalancer.server.port=8080"

  # The SDK's layout: no canary service in the file; canary creates {name}_web-canary.
  web:
    image: {V1}
    networks: [{network}]
    x-canary:
      image: {V2}
      healthPath: /health
    deploy:
      <<: *deploy-defaults
      replicas: 2
      labels:
        io.canary.test: "1"
        traefik.enable: "true"
        traefik.swarm.network: {network}
        traefik.http.routers.{name}-web.rule: "{web_rule}"
        traefik.http.services.{name}-web.loadbalancer.server.port: "8080"

networks:
  {network}:
    external: true
"#
    )
}

/// Removes the stack (routes file first) even when the test panics.
struct StackGuard {
    stack: Stack,
    name: String,
}

impl Drop for StackGuard {
    fn drop(&mut self) {
        let routes = self
            .stack
            .dynamic_dir
            .join(format!("canary-{}.yml", self.name));
        if std::fs::remove_file(&routes).is_ok() {
            std::thread::sleep(Duration::from_millis(800));
        }
        let _ = docker::run(&["stack", "rm", &self.name]);
    }
}

/// `docker stack deploy` of `file` as stack `name` (no registry here: images are local).
fn stack_deploy(file: &Path, name: &str) {
    let file = file.to_str().expect("a UTF-8 path");
    docker::ok(&[
        "stack",
        "deploy",
        "--resolve-image",
        "never",
        "-c",
        file,
        name,
    ]);
}

/// Waits until `service` runs `image` on `replicas` tasks with no update in progress.
fn wait_converged(service: &str, image: &str, replicas: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let svc = docker::service(service);
        let updating = svc["UpdateStatus"]["State"]
            .as_str()
            .is_some_and(|s| s != "completed");
        let spec_image = svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let running = docker::ok(&[
            "service",
            "ps",
            "-q",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.CurrentState}}",
            service,
        ]);
        let up = running.lines().filter(|l| l.starts_with("Running")).count();
        if !updating && spec_image == image && up == replicas {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{service}: {up}/{replicas} running {spec_image} (want {image}), updating {updating}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_promotion_is_written_into_the_stack_file_and_survives_the_next_stack_deploy() {
    let Some(stack) = stack_or_skip(
        "a_promotion_is_written_into_the_stack_file_and_survives_the_next_stack_deploy",
    ) else {
        return;
    };
    let g = Group::with_prefix(&stack, "cb");
    let _guard = StackGuard {
        stack: stack.clone(),
        name: g.name.clone(),
    };
    let original = compose_file(&g.name, &stack.network);
    let file = g.write("docker-compose.canary.yml", &original);
    let (api, canary) = (g.service("api", false), g.service("api", true));
    let web = g.service("web", false);

    stack_deploy(&file, &g.name);
    wait_converged(&api, V1, 4, Duration::from_secs(90));
    wait_converged(&canary, V2, 1, Duration::from_secs(90));
    wait_converged(&web, V1, 2, Duration::from_secs(90));
    // Traefik has found the stack's services.
    let deadline = Instant::now() + Duration::from_secs(60);
    for path in ["/api/x", "/web/x"] {
        while !http_get(stack.web_port, &g.host, path, &[], Duration::from_secs(3))
            .is_ok_and(|a| a.status == 200)
        {
            assert!(
                Instant::now() < deadline,
                "Traefik never routed {}{path}",
                g.host
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    // Nothing to report before any rollout: stable runs what the file names.
    let st = g.status(&file);
    assert!(st.get("drift").is_none(), "{st}");

    let load = Load::start(stack.web_port, &g.host, &["/api/x", "/web/x"], 25);
    std::thread::sleep(Duration::from_secs(1));

    // The rollout, adopted from the stack, to promotion.
    let run = g.canary(&file, &["run", "--restart", "-o", "json"]);
    run.expect_code(0, "canary run");
    assert_eq!(run.last("result").expect("a result")["result"], "promoted");
    let wb = run.last("writeBack").expect("a writeBack line");
    assert_eq!(wb["written"], true, "{wb}");
    let images = wb["images"].as_array().expect("images");
    assert_eq!(images.len(), 2, "{wb}");
    for (img, service) in images.iter().zip(["api", "web"]) {
        // The stable service, never api-canary.
        assert_eq!(img["service"], service, "{img}");
        // canary-e2e:v2 still names the promoted image ID: the tag is written, not the ID.
        assert_eq!(img["image"], V2, "{img}");
        assert_eq!(img["writtenAs"], "tag", "{img}");
        assert_eq!(img["previous"], V1, "{img}");
        assert_eq!(img["promoted"], docker::image_id(V2).as_str(), "{img}");
    }
    let img = &images[0];
    // The SDK's layout: canary made the web canary itself, and scaled it to 0 on promotion.
    assert_eq!(docker::service_replicas(&g.service("web", true)), 0);
    assert!(
        run.json().iter().all(|v| v["type"] != "drift"),
        "{}",
        run.stdout
    );

    // The file names the promoted image, and nothing else changed.
    let written = std::fs::read_to_string(&file).expect("the file");
    let (before, after): (Vec<&str>, Vec<&str>) = (
        original.split('\n').collect(),
        written.split('\n').collect(),
    );
    assert_eq!(before.len(), after.len());
    let changed: Vec<(usize, &str, &str)> = before
        .iter()
        .zip(&after)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| (i + 1, *a, *b))
        .collect();
    let line = img["line"].as_u64().expect("a line") as usize;
    let web_line = images[1]["line"].as_u64().expect("a line") as usize;
    let (old, new) = (format!("    image: {V1}"), format!("    image: {V2}"));
    assert_eq!(
        changed,
        vec![
            (line, old.as_str(), new.as_str()),
            (web_line, old.as_str(), new.as_str())
        ],
        "{written}"
    );
    // Stable runs the promoted ID; the file names its tag: no drift.
    assert_eq!(docker::service_image(&api), docker::image_id(V2));
    assert_eq!(docker::service_image(&web), docker::image_id(V2));
    let st = g.status(&file);
    assert!(st.get("drift").is_none(), "{st}");

    // The next change, as every team makes it: `docker stack deploy` of the file in git.
    let redeploy = Instant::now();
    stack_deploy(&file, &g.name);
    wait_converged(&api, V2, 4, Duration::from_secs(120));
    wait_converged(&canary, V2, 1, Duration::from_secs(120));
    wait_converged(&web, V2, 2, Duration::from_secs(120));
    let settled = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let report = load.stop();
    let summary = report.summary();
    let during = report
        .samples
        .iter()
        .filter(|s| s.at > redeploy && s.at <= settled)
        .count();
    eprintln!(
        "load: {} requests, {during} of them during the redeploy ({:.1}s to converge): {summary:?}",
        report.samples.len(),
        (settled - redeploy).as_secs_f64()
    );
    assert!(report.samples.len() > 200 && during > 50, "{summary:?}");
    let failed = report.failures(|_| false);
    assert!(failed.is_empty(), "{} failed: {summary:?}", failed.len());
    // The new version stayed: nothing answered v1 after the redeploy began.
    let old = report
        .samples
        .iter()
        .filter(|s| s.at > redeploy && s.version.as_deref() != Some("v2"))
        .count();
    assert_eq!(old, 0, "{summary:?}");
    assert!(report.from_version_after("v2", settled) > 0, "{summary:?}");
    assert_eq!(docker::service_image(&api), V2);
    assert_eq!(docker::service_image(&web), V2);
    let st = g.status(&file);
    assert!(st.get("drift").is_none(), "{st}");

    // Someone edits the file back to the old image: canary status says so, and who won.
    let stable_image = format!(
        "    image: {V2}\n    networks: [{}]\n    x-canary",
        stack.network
    );
    let back = stable_image.replacen(V2, V1, 1);
    let edited = g.write("edited.yml", &written.replacen(&stable_image, &back, 1));
    assert_ne!(std::fs::read_to_string(&edited).unwrap(), written);
    let st = g.status(&edited);
    let drift = st["drift"].as_array().expect("drift reported");
    assert_eq!(drift.len(), 1, "{st}");
    let d = &drift[0];
    assert_eq!(d["app"], "api");
    assert_eq!(d["service"], api.as_str());
    assert_eq!(d["running"], V2);
    assert_eq!(d["declared"], V1);
    assert_eq!(d["declaredLine"], line as u64);
    assert_eq!(d["against"], serde_json::json!(["file"]));
    // The redeploy erased the saved state; the image the last deploy named is what runs.
    assert_eq!(d["won"], "lastDeploy", "{d}");
    let human = g.canary(&edited, &["status"]);
    human.expect_code(0, "canary status");
    assert!(
        human.stdout.contains(&format!(
            "DRIFT api: stable runs {V2} but edited.yml names {V1} (line {line})"
        )),
        "{}",
        human.stdout
    );
}
