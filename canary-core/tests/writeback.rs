//! A promotion written back into the compose file the spec came from: a rollout of a compose
//! spec on the fakes promotes, then `ops::write_back` writes each app's stable `image:` (tag,
//! image ID or digest, whichever names the promoted image best), keeps every other byte, the
//! file's mode and symlinks, and refuses when there is nothing promoted or the file is no
//! compose file.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use canary_core::ops::{write_back, WriteBackOptions, WrittenAs};
use canary_core::{Error, Outcome, Rollout, RolloutOptions, Spec};
use support::*;

/// The seed's layout for `api` (a `-canary` service beside it) and the SDK's for `web` (the
/// canary image in `x-canary`), with anchors, comments and long strings.
const COMPOSE: &str = r#"# Shop: the stack file in git.
version: "3.8"

x-defaults: &defaults
  restart_policy: {condition: on-failure}
  update_config: {parallelism: 1, order: start-first}  # keep serving

x-canary:
  stack: shop
  traffic: {steps: [50], interval: 10s}

services:
  api:
    image: api:v1   # the stable version
    x-canary: {healthPath: /api/health}
    deploy:
      <<: *defaults
      replicas: 2
      labels:
        - "traefik.http.routers.api.rule=Host(`shop.localhost`) && PathPrefix(`/api`) && !HeaderRegexp(`X-Debug`, `.*`)"
        - "traefik.http.services.api.loadbalancer.server.port=8080"
  api-canary:
    image: api:v2
    deploy:
      <<: *defaults
      replicas: 1
  web:
    image: "web:v1"
    x-canary:
      image: web:v2
      port: 3000
      rule: Host(`shop.localhost`)
"#;

const OTHER_ID: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000bb";
const DIGEST: &str =
    "registry:5000/shop@sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("canary-writeback-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn compose_spec() -> Spec {
    Spec::from_text(COMPOSE, &[]).unwrap().0
}

/// A world where `shop_api` and `shop_web` run, and a promoted rollout of the compose spec.
async fn promoted(pin: Option<&str>) -> World {
    let w = World::new(&["shop_api", "shop_web"], FakeMetrics::success(1.0));
    *w.orch.pin.lock().unwrap() = pin.map(String::from);
    let r = Rollout::new(
        compose_spec(),
        w.deps(),
        RolloutOptions::default().owner("h/1"),
    )
    .unwrap();
    assert_eq!(r.run().await.unwrap(), Outcome::Promoted);
    w
}

/// The lines of `a` and `b` that differ (both must have as many).
fn changed(a: &str, b: &str) -> Vec<(String, String)> {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(la.len(), lb.len());
    la.iter()
        .zip(&lb)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| (x.to_string(), y.to_string()))
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test(start_paused = true)]
async fn tags_that_still_name_the_promoted_id_are_written_and_nothing_else_changes() {
    let w = promoted(None).await;
    let d = dir("tags");
    let file = d.join("docker-compose.yml");
    write(&file, COMPOSE);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let spec = compose_spec();

    // Dry: the patch, nothing written.
    let dry = write_back(
        &spec,
        &w.deps(),
        &file,
        &WriteBackOptions::default().dry_run(true),
    )
    .await
    .unwrap();
    assert!(!dry.written);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), COMPOSE);
    assert_eq!(dry.images.len(), 2);
    for (img, (app, image, line)) in dry
        .images
        .iter()
        .zip([("api", "api:v2", 14), ("web", "web:v2", 28)])
    {
        assert_eq!((img.app.as_str(), img.service.as_str()), (app, app));
        assert_eq!(img.image, image);
        assert_eq!(img.written_as, WrittenAs::Tag);
        assert_eq!(img.promoted, PINNED);
        assert_eq!(img.line, line);
        assert!(img.changed);
    }
    assert!(dry.patch.contains("-    image: api:v1   # the stable version\n+    image: api:v2   # the stable version\n"), "{}", dry.patch);
    assert!(
        dry.patch
            .contains("-    image: \"web:v1\"\n+    image: \"web:v2\"\n"),
        "{}",
        dry.patch
    );

    let done = write_back(&spec, &w.deps(), &file, &WriteBackOptions::default())
        .await
        .unwrap();
    assert!(done.written);
    assert_eq!(done.patch, dry.patch);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        changed(COMPOSE, &text),
        vec![
            (
                "    image: api:v1   # the stable version".into(),
                "    image: api:v2   # the stable version".into()
            ),
            (
                "    image: \"web:v1\"".into(),
                "    image: \"web:v2\"".into()
            ),
        ]
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o640
    );
    // No temporary file left behind.
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
    // Again: already there.
    let again = write_back(&spec, &w.deps(), &file, &WriteBackOptions::default())
        .await
        .unwrap();
    assert!(!again.written);
    assert!(again.patch.is_empty());
    assert!(again.images.iter().all(|i| !i.changed));
    std::fs::remove_dir_all(&d).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_moved_tag_writes_the_id_and_a_registry_image_its_digest() {
    let w = promoted(None).await;
    // The tag moved to another image since the promotion: only the ID names what stable runs.
    *w.orch.pin.lock().unwrap() = Some(OTHER_ID.into());
    let d = dir("moved");
    let real = d.join("stack.yml");
    write(&real, COMPOSE);
    // Through a symlink: the link stays, its target changes.
    let link = d.join("docker-compose.yml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let done = write_back(
        &compose_spec(),
        &w.deps(),
        &link,
        &WriteBackOptions::default(),
    )
    .await
    .unwrap();
    assert!(done
        .images
        .iter()
        .all(|i| i.written_as == WrittenAs::Id && i.image == PINNED));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(
        text.contains(&format!("    image: {PINNED}   # the stable version\n")),
        "{text}"
    );
    std::fs::remove_dir_all(&d).unwrap();

    let w = promoted(Some(DIGEST)).await;
    let d = dir("digest");
    let file = d.join("docker-compose.yml");
    write(&file, COMPOSE);
    let done = write_back(
        &compose_spec(),
        &w.deps(),
        &file,
        &WriteBackOptions::default(),
    )
    .await
    .unwrap();
    assert!(done
        .images
        .iter()
        .all(|i| i.written_as == WrittenAs::Digest && i.image == DIGEST));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(&format!("    image: \"{DIGEST}\"\n")),
        "{text}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[tokio::test(start_paused = true)]
async fn nothing_is_written_without_a_promotion_or_a_compose_file() {
    let d = dir("refused");
    let file = d.join("docker-compose.yml");
    write(&file, COMPOSE);
    // No rollout recorded.
    let w = World::new(&["shop_api", "shop_web"], FakeMetrics::success(1.0));
    let e = write_back(
        &compose_spec(),
        &w.deps(),
        &file,
        &WriteBackOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, Error::Conflict { message: m, .. } if m.contains("nothing to write back")),
        "{e}"
    );
    // Rolled back.
    let w = World::new(&["shop_api", "shop_web"], FakeMetrics::success(0.5));
    let r = Rollout::new(
        compose_spec(),
        w.deps(),
        RolloutOptions::default().owner("h/1"),
    )
    .unwrap();
    assert!(matches!(r.run().await.unwrap(), Outcome::RolledBack { .. }));
    let e = write_back(
        &compose_spec(),
        &w.deps(),
        &file,
        &WriteBackOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, Error::Conflict { message: m, .. } if m.contains("rolledBack") || m.contains("rolled back")),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), COMPOSE);
    // A plain spec is not written to.
    let w = promoted(None).await;
    let plain = d.join("canary.yaml");
    write(&plain, "group: shop\napps: []\n");
    let e = write_back(
        &compose_spec(),
        &w.deps(),
        &plain,
        &WriteBackOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("not a compose file"), "{e}");
    // An image the file writes with variables is refused at its line.
    let vars = d.join("vars.yml");
    write(
        &vars,
        &COMPOSE.replace("image: api:v1   #", "image: \"api:${TAG:-v1}\"   #"),
    );
    let e = write_back(
        &compose_spec(),
        &w.deps(),
        &vars,
        &WriteBackOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, reason, .. } if field == "services.api.image" && reason.contains("line 14")),
        "{e:?}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}
