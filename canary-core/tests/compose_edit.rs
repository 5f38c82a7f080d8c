//! Writing a promoted image back into a compose file: only the one scalar changes (comments,
//! quoting, anchors, indentation, CRLF and the trailing newline stay), shared anchors and
//! compose variables are refused, and the patch applies with `git apply` and `patch`.

use std::process::Command;

use canary_core::compose::{
    image_of, set_image, set_image_with, set_images, ComposeOptions, ComposeSpec, SetImageOptions,
};
use canary_core::{Error, ImageRef};
use proptest::prelude::*;
use serde_json::Value;

const SEED: &str = include_str!("fixtures/compose/seed/docker-compose.canary.yml");
const SDK: &str = include_str!("fixtures/compose/sdk/docker-compose.yml");
const PLATFORM: &str = include_str!("fixtures/compose/realworld/platform.yml");
const DIGEST: &str =
    "registry:5000/neotix-api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn img(s: &str) -> ImageRef {
    ImageRef::parse(s).unwrap()
}

/// The lines of `a` and `b` that differ, as (line number, old, new); both must have as many.
fn changed_lines(a: &str, b: &str) -> Vec<(usize, String, String)> {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.split('\n').collect(), b.split('\n').collect());
    assert_eq!(la.len(), lb.len(), "the number of lines changed");
    la.iter()
        .zip(&lb)
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, (x, y))| (i + 1, x.to_string(), y.to_string()))
        .collect()
}

fn refused(text: &str, service: &str) -> (String, String) {
    match set_image(text, service, &img(DIGEST)) {
        Err(Error::InvalidInput { field, reason, .. }) => (field, reason),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// `value` parsed by an independent YAML reader.
fn oracle(text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text).unwrap()
}

#[test]
fn the_seed_file_changes_in_one_line_only() {
    let edit = set_image(SEED, "neotix-api", &img(DIGEST)).unwrap();
    assert_eq!(edit.old_image(), "neotix-api:stable");
    assert_eq!(edit.new_image(), DIGEST);
    assert!(!edit.is_noop());
    let line = SEED
        .lines()
        .position(|l| l == "    image: neotix-api:stable")
        .unwrap()
        + 1;
    assert_eq!(edit.line(), line);
    assert_eq!(
        changed_lines(SEED, edit.text()),
        vec![(
            line,
            "    image: neotix-api:stable".into(),
            format!("    image: {DIGEST}")
        )]
    );
    // The x-canary reader sees the promoted image as stable's.
    let spec = ComposeSpec::parse(edit.text(), &ComposeOptions::default()).unwrap();
    assert_eq!(spec.value()["apps"][1]["stableImage"], DIGEST);
    // Quoting stays as it was: single quotes, double quotes.
    let edit = set_image(SEED, "gcp-deployment-api", &img("gcp-deployment-api:v2")).unwrap();
    let changed = changed_lines(SEED, edit.text());
    assert_eq!(changed[0].2, "    image: 'gcp-deployment-api:v2'");
    let edit = set_image(
        SEED,
        "gcp-deployment-api-canary",
        &img("gcp-deployment-api:v3"),
    )
    .unwrap();
    assert_eq!(
        changed_lines(SEED, edit.text())[0].2,
        "    image: \"gcp-deployment-api:v3\""
    );
    let edit = set_image(SDK, "web", &img("registry:5000/shop/web:2.0.0")).unwrap();
    assert_eq!(changed_lines(SDK, edit.text()).len(), 1);
}

#[test]
fn comments_flow_mappings_and_block_scalars() {
    let text = "services:\n  api: {image: api:1, deploy: {replicas: 2}} # flow\n  web:\n    image: web:1 # pinned by canary\n    command: >-\n      serve\n      --port 80\n  job:\n    image: >-\n      job:1\n    # the image above\n    command: |\n      run\n";
    let edit = set_image(text, "api", &img("registry:5000/api:2")).unwrap();
    assert_eq!(
        changed_lines(text, edit.text())[0].2,
        "  api: {image: \"registry:5000/api:2\", deploy: {replicas: 2}} # flow",
        "a ':' inside a flow mapping is quoted"
    );
    let edit = set_image(text, "api", &img("api2")).unwrap();
    assert_eq!(
        changed_lines(text, edit.text())[0].2,
        "  api: {image: api2, deploy: {replicas: 2}} # flow"
    );
    let edit = set_image(text, "web", &img("web:2")).unwrap();
    assert_eq!(
        changed_lines(text, edit.text())[0].2,
        "    image: web:2 # pinned by canary"
    );
    let edit = set_image(text, "job", &img("job:2")).unwrap();
    assert_eq!(
        edit.text(),
        text.replace("    image: >-\n      job:1\n", "    image: job:2\n")
    );
    assert_eq!(edit.old_image(), "job:1");
    // Values that would read as something else are quoted.
    let text = "services:\n  a:\n    image: a\n";
    for (image, written) in [
        ("yes", "\"yes\""),
        ("1e3", "\"1e3\""),
        ("12345", "\"12345\""),
        ("on", "\"on\""),
        ("ab:1", "ab:1"),
    ] {
        let edit = set_image(text, "a", &img(image)).unwrap();
        assert_eq!(
            edit.text(),
            format!("services:\n  a:\n    image: {written}\n"),
            "{image}"
        );
    }
}

#[test]
fn crlf_and_the_trailing_newline_are_kept() {
    let text = SEED.replace('\n', "\r\n");
    let edit = set_image(&text, "neotix-api", &img(DIGEST)).unwrap();
    assert_eq!(
        edit.text(),
        text.replace("image: neotix-api:stable", &format!("image: {DIGEST}"))
    );
    let bare = "services:\n  a:\n    image: a:1";
    let edit = set_image(bare, "a", &img("a:2")).unwrap();
    assert_eq!(edit.text(), "services:\n  a:\n    image: a:2");
}

#[test]
fn anchors_are_edited_only_when_nothing_else_uses_them() {
    // The anchor sits in an x- block and only api uses it: the anchor's value is edited.
    let text = "x-images:\n  api: &api-image api:1\nservices:\n  api:\n    image: *api-image\n";
    let edit = set_image(text, "api", &img("api:2")).unwrap();
    assert_eq!(
        edit.text(),
        text.replace("&api-image api:1", "&api-image api:2")
    );
    assert_eq!(edit.line(), 2);
    // Two services use it: refused, naming the other and its line.
    let shared = format!("{text}  worker:\n    image: *api-image\n");
    let (field, reason) = refused(&shared, "api");
    assert_eq!(field, "services.api.image");
    assert!(
        reason.contains("the anchor &api-image at line 2"),
        "{reason}"
    );
    assert!(
        reason.contains("services.worker.image (line 7)"),
        "{reason}"
    );
    // Defined on one service, used by another: refused from either side.
    let inline = "services:\n  api:\n    image: &i api:1\n  worker:\n    image: *i\n";
    assert!(refused(inline, "api")
        .1
        .contains("services.worker.image (line 5)"));
    assert!(refused(inline, "worker")
        .1
        .contains("services.api.image (line 3)"));
    // Through a merge key: fine for one user, refused for two.
    let merged = "x-defaults: &defaults\n  image: base:1\n  restart: always\nservices:\n  api:\n    <<: *defaults\n    ports: [80]\n";
    let edit = set_image(merged, "api", &img("base:2")).unwrap();
    assert_eq!(
        edit.text(),
        merged.replace("image: base:1", "image: base:2")
    );
    let two = format!("{merged}  web:\n    <<: *defaults\n");
    let (_, reason) = refused(&two, "web");
    assert!(reason.contains("services.api.image (line 6)"), "{reason}");
    // An anchored image another key uses is refused too.
    let other_key = "services:\n  api:\n    image: &i api:1\n    labels: {img: *i}\n";
    assert!(refused(other_key, "api")
        .1
        .contains("services.api.labels.img"));
    // A service's own anchor no one else uses is fine, and keeps the anchor.
    let own = "services:\n  api:\n    image: &i 'api:1'\n";
    let edit = set_image(own, "api", &img("api:2")).unwrap();
    assert_eq!(edit.text(), "services:\n  api:\n    image: &i 'api:2'\n");
}

#[test]
fn variables_are_refused_unless_asked_for() {
    let text = "services:\n  api:\n    image: \"${REGISTRY}/api:${TAG:-v1}\"\n";
    let (field, reason) = refused(text, "api");
    assert_eq!(field, "services.api.image");
    assert!(
        reason.contains("compose variables") && reason.contains("(line 3, column 12)"),
        "{reason}"
    );
    let options = SetImageOptions::default().replacing_variables();
    let edit = set_image_with(text, "api", &img(DIGEST), &options).unwrap();
    assert_eq!(
        edit.text(),
        format!("services:\n  api:\n    image: \"{DIGEST}\"\n")
    );
}

#[test]
fn what_cannot_be_edited() {
    let no_image = "services:\n  api:\n    build: .\n";
    let (field, reason) = refused(no_image, "api");
    assert_eq!(field, "services.api.image");
    assert!(
        reason.contains("no image: key") && reason.contains("(line 3"),
        "{reason}"
    );
    match set_image(no_image, "web", &img("a:1")) {
        Err(Error::NotFound { kind, name, .. }) => {
            assert_eq!((kind.as_str(), name.as_str()), ("compose service", "web"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        set_image("x: 1\n", "api", &img("a:1")),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        set_image("services: [api]\n", "api", &img("a:1")),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(refused("services:\n  api: 5\n", "api").0, "services.api");
    assert!(refused("services:\n  api:\n    image: [a]\n", "api")
        .1
        .contains("single value"));
    assert!(matches!(
        set_image("services: {api: [\n", "api", &img("a:1")),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn the_patch_is_a_unified_diff_that_applies() {
    let text = "a: 1\nb: 2\nc: 3\nservices:\n  api:\n    image: api:1\n  x: 1\ny: 2\nz: 3\nw: 4\n";
    let edit = set_image(text, "api", &img("api:2")).unwrap();
    assert_eq!(
        edit.patch("docker-compose.yml"),
        "--- a/docker-compose.yml\n+++ b/docker-compose.yml\n@@ -3,7 +3,7 @@\n c: 3\n services:\n   api:\n-    image: api:1\n+    image: api:2\n   x: 1\n y: 2\n z: 3\n"
    );
    assert_eq!(
        set_image(text, "api", &img("api:1")).unwrap().patch("f"),
        ""
    );
    assert!(set_image(text, "api", &img("api:1")).unwrap().is_noop());
    let crlf = SEED.replace('\n', "\r\n");
    let cases = [
        (SEED.to_string(), "neotix-api"),
        (crlf, "neotix-api"),
        ("services:\n  a:\n    image: a:1".to_string(), "a"),
        (
            "services:\n  a:\n    image: >-\n      a:1\n    x: 1\n".to_string(),
            "a",
        ),
    ];
    for (text, service) in cases {
        let edit = set_image(&text, service, &img(DIGEST)).unwrap();
        for tool in ["git", "patch"] {
            assert_eq!(
                apply(tool, &text, &edit.patch("compose.yml")),
                edit.text(),
                "{tool}"
            );
        }
    }
}

#[test]
fn several_images_make_one_patch_with_a_hunk_each() {
    let v2 = img("gcp-deployment-api:v2");
    let edits = set_images(
        SEED,
        &[("neotix-api", &img(DIGEST)), ("gcp-deployment-api", &v2)],
    )
    .unwrap();
    // Exactly the two image lines changed, each keeping its quoting.
    let changed = changed_lines(SEED, edits.text());
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert_eq!(changed[0].2, format!("    image: {DIGEST}"));
    assert_eq!(changed[1].2, "    image: 'gcp-deployment-api:v2'");
    let patch = edits.patch("compose.yml");
    assert_eq!(patch.matches("\n@@ ").count(), 2, "{patch}");
    assert!(patch.starts_with("--- a/compose.yml\n+++ b/compose.yml\n@@ -"));
    for tool in ["git", "patch"] {
        assert_eq!(apply(tool, SEED, &patch), edits.text(), "{tool}");
    }
    // Each edit as if alone, against the original.
    assert_eq!(edits.edits()[0].old_image(), "neotix-api:stable");
    assert_eq!(edits.edits()[1].old_image(), "gcp-deployment-api:stable");
    assert_eq!(
        image_of(edits.text(), "gcp-deployment-api").unwrap(),
        Some(("gcp-deployment-api:v2".to_string(), changed[1].0))
    );
    // One that is already there changes nothing and adds no hunk.
    let again = set_images(
        edits.text(),
        &[("neotix-api", &img(DIGEST)), ("gcp-deployment-api", &v2)],
    )
    .unwrap();
    assert!(again.is_noop());
    assert_eq!(again.patch("f"), "");
    let one = set_images(
        edits.text(),
        &[
            ("neotix-api", &img("neotix-api:v3")),
            ("gcp-deployment-api", &v2),
        ],
    )
    .unwrap();
    assert_eq!(one.patch("f").matches("\n@@ ").count(), 1);
    // Nothing is written when one of them cannot be.
    assert!(set_images(SEED, &[("neotix-api", &v2), ("nope", &v2)]).is_err());
    assert!(set_images(SEED, &[("neotix-api", &v2), ("neotix-api", &v2)]).is_err());
}

#[test]
fn close_changes_share_a_hunk_and_a_flow_line_can_hold_two() {
    let text = "# top\nservices:\n  a:\n    image: a:1\n  b:\n    image: b:1\n  c: {image: c:1}\n  d: {image: d:1, x: 1}\nz: 1\n";
    let edits = set_images(
        text,
        &[("a", &img("a:2")), ("b", &img("b:2")), ("d", &img("d:2"))],
    )
    .unwrap();
    let patch = edits.patch("compose.yml");
    assert_eq!(patch.matches("\n@@ ").count(), 1, "{patch}");
    for tool in ["git", "patch"] {
        assert_eq!(apply(tool, text, &patch), edits.text(), "{tool}");
    }
    let flow = "services: {a: {image: a:1}, b: {image: b:1}}\n";
    let edits = set_images(
        flow,
        &[
            ("a", &img("a:2")),
            (
                "b",
                &img("b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            ),
        ],
    )
    .unwrap();
    assert_eq!(
        edits.text(),
        "services: {a: {image: \"a:2\"}, b: {image: \"b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}}\n"
    );
    let patch = edits.patch("compose.yml");
    assert_eq!(patch.matches("\n-").count(), 1, "{patch}");
    for tool in ["git", "patch"] {
        assert_eq!(apply(tool, flow, &patch), edits.text(), "{tool}");
    }
    // Far apart: two hunks, and the second's new line numbers follow the first's change (a
    // folded scalar of two lines became one).
    let mut far = String::from("services:\n  a:\n    image: >-\n      a:1\n");
    for i in 0..20 {
        far.push_str(&format!("    k{i}: {i}\n"));
    }
    far.push_str("  b:\n    image: b:1\n    last: 1");
    let edits = set_images(&far, &[("a", &img("a:2")), ("b", &img("b:2"))]).unwrap();
    let patch = edits.patch("compose.yml");
    assert_eq!(patch.matches("\n@@ ").count(), 2, "{patch}");
    assert!(patch.contains("\\ No newline at end of file"), "{patch}");
    for tool in ["git", "patch"] {
        assert_eq!(apply(tool, &far, &patch), edits.text(), "{tool}");
    }
}

#[test]
fn a_real_world_stack_file_changes_one_line_per_image() {
    let cases = [
        ("postgres", "postgres:17", "    image: postgres:17"),
        ("redis", "redis:7.2.5-bookworm", "    image: redis:7.2.5-bookworm"),
        (
            "api",
            DIGEST,
            // The service's own image, not the anchor's it overrides; the comment stays.
            "    image: registry:5000/neotix-api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef   # the service canary promotes",
        ),
        (
            "web",
            "registry.example.com/platform/web:4.2.0",
            "    image: 'registry.example.com/platform/web:4.2.0'   # Next.js front end",
        ),
        (
            "init",
            "registry.example.com/platform/migrate:4.2.0",
            "    image: \"registry.example.com/platform/migrate:4.2.0\"",
        ),
        ("proxy", "traefik:v3.7.9", "    image: traefik:v3.7.9"),
    ];
    let mut all = Vec::new();
    for (service, image, line) in cases {
        let image = img(image);
        let edit = set_image(PLATFORM, service, &image).unwrap();
        let changed = changed_lines(PLATFORM, edit.text());
        assert_eq!(changed.len(), 1, "{service}: {changed:?}");
        assert_eq!(changed[0].2, line, "{service}");
        assert_eq!(changed[0].0, edit.line(), "{service}");
        assert_eq!(
            image_of(edit.text(), service).unwrap(),
            Some((image.to_string(), edit.line()))
        );
        for tool in ["git", "patch"] {
            assert_eq!(
                apply(tool, PLATFORM, &edit.patch("compose.yml")),
                edit.text(),
                "{service} {tool}"
            );
        }
        all.push((service, image));
    }
    let pairs: Vec<(&str, &ImageRef)> = all.iter().map(|(s, i)| (*s, i)).collect();
    let edits = set_images(PLATFORM, &pairs).unwrap();
    assert_eq!(changed_lines(PLATFORM, edits.text()).len(), cases.len());
    for tool in ["git", "patch"] {
        assert_eq!(
            apply(tool, PLATFORM, &edits.patch("compose.yml")),
            edits.text(),
            "{tool}"
        );
    }
    // The helpers' image is the anchor every one of them merges (and it has variables): not
    // theirs to change alone.
    for service in ["worker", "scheduler"] {
        let (field, reason) = refused(PLATFORM, service);
        assert_eq!(field, format!("services.{service}.image"));
        assert!(
            reason.contains("the value at line 17, merged in by `<<` at line")
                && reason.contains("also uses"),
            "{reason}"
        );
    }
    assert!(set_images(PLATFORM, &[("api", &img("a:1")), ("worker", &img("a:1"))]).is_err());
}

/// `text` patched by `git apply` or `patch -p1` in a scratch directory.
fn apply(tool: &str, text: &str, patch: &str) -> String {
    let dir = std::env::temp_dir().join(format!(
        "canary-edit-{}-{tool}-{}",
        std::process::id(),
        text.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("compose.yml"), text).unwrap();
    std::fs::write(dir.join("change.patch"), patch).unwrap();
    let status = match tool {
        "git" => Command::new("git")
            .args(["apply", "change.patch"])
            .current_dir(&dir)
            .status(),
        _ => Command::new("patch")
            .args(["-s", "-p1", "-i", "change.patch"])
            .current_dir(&dir)
            .status(),
    }
    .unwrap();
    assert!(status.success(), "{tool} failed on\n{patch}");
    let out = std::fs::read_to_string(dir.join("compose.yml")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    out
}

/// How a generated service writes its image.
#[derive(Debug, Clone)]
enum ImageStyle {
    Plain,
    Single,
    Double,
    Folded,
    /// `image: *img-<service>`, anchored in `x-images`; `shared` ones all use `*img-shared`.
    Alias {
        shared: bool,
    },
    /// Through `<<: *defaults-<service>`.
    Merged,
}

#[derive(Debug, Clone)]
struct Service {
    name: String,
    image: String,
    style: ImageStyle,
    flow: bool,
    comment: bool,
    replicas: u8,
    env_list: bool,
    command: u8,
}

fn service() -> impl Strategy<Value = Service> {
    (
        "[a-z][a-z0-9]{0,6}",
        "[a-z][a-z0-9]{0,6}(/[a-z0-9]{1,5})?:[a-z0-9][a-z0-9.]{0,5}",
        prop_oneof![
            3 => Just(ImageStyle::Plain),
            2 => Just(ImageStyle::Single),
            2 => Just(ImageStyle::Double),
            1 => Just(ImageStyle::Folded),
            1 => any::<bool>().prop_map(|shared| ImageStyle::Alias { shared }),
            1 => Just(ImageStyle::Merged),
        ],
        (any::<bool>(), any::<bool>(), 0u8..9, any::<bool>(), 0u8..4),
    )
        .prop_map(
            |(name, image, style, (flow, comment, replicas, env_list, command))| Service {
                name,
                image,
                flow: flow && matches!(style, ImageStyle::Plain | ImageStyle::Double),
                style,
                comment,
                replicas,
                env_list,
                command,
            },
        )
}

/// A compose text with these services, indented by `ind`.
fn render(services: &[Service], ind: usize, crlf: bool, final_newline: bool) -> String {
    let p = |n: usize| " ".repeat(ind * n);
    let mut out = String::from("# generated\nversion: \"3.8\"\n\nx-images:\n");
    for s in services {
        if let ImageStyle::Alias { .. } = s.style {
            out.push_str(&format!(
                "{}{}: &img-{} {}\n",
                p(1),
                s.name,
                s.name,
                s.image
            ));
        }
    }
    out.push_str(&format!("{}shared: &img-shared shared/base:1\n", p(1)));
    for s in services {
        if let ImageStyle::Merged = s.style {
            out.push_str(&format!(
                "x-defaults-{0}: &defaults-{0}\n{1}image: {2}\n{1}restart: always\n",
                s.name,
                p(1),
                s.image
            ));
        }
    }
    out.push_str("services:\n");
    for (i, s) in services.iter().enumerate() {
        if i > 0 && s.comment {
            out.push_str(&format!("{}# the {} service\n", p(1), s.name));
        }
        let image = match &s.style {
            ImageStyle::Plain => s.image.clone(),
            ImageStyle::Single => format!("'{}'", s.image),
            ImageStyle::Double => format!("\"{}\"", s.image),
            ImageStyle::Folded => format!(">-\n{}{}", p(3), s.image),
            ImageStyle::Alias { shared: false } => format!("*img-{}", s.name),
            ImageStyle::Alias { shared: true } => "*img-shared".to_string(),
            ImageStyle::Merged => String::new(),
        };
        if s.flow {
            out.push_str(&format!(
                "{}{}: {{image: {image}, deploy: {{replicas: {}}}}}\n",
                p(1),
                s.name,
                s.replicas
            ));
            continue;
        }
        out.push_str(&format!("{}{}:\n", p(1), s.name));
        if let ImageStyle::Merged = s.style {
            out.push_str(&format!("{}<<: *defaults-{}\n", p(2), s.name));
        } else {
            // After a block scalar's content a `#` is content, not a comment.
            let folded = matches!(s.style, ImageStyle::Folded);
            let comment = if s.comment && !folded {
                "  # promoted by canary"
            } else {
                ""
            };
            out.push_str(&format!("{}image: {image}{comment}\n", p(2)));
        }
        match s.command {
            0 => out.push_str(&format!(
                "{}command: |\n{}serve --port 80\n\n{}--verbose # not a comment\n",
                p(2),
                p(3),
                p(3)
            )),
            1 => out.push_str(&format!(
                "{}command: >\n{}a long folded\n{}line: with colon\n",
                p(2),
                p(3),
                p(3)
            )),
            2 => out.push_str(&format!("{}command: [\"serve\", '--port', 80]\n", p(2))),
            _ => {}
        }
        if s.env_list {
            out.push_str(&format!(
                "{}environment:\n{}- IMAGE={}\n{}- \"QUOTED=a: b\"\n",
                p(2),
                p(3),
                s.image,
                p(3)
            ));
        } else {
            out.push_str(&format!(
                "{}environment: {{IMAGE: \"{}\", N: 1}}\n",
                p(2),
                s.image
            ));
        }
        out.push_str(&format!("{}deploy:\n{}replicas: {}\n{}labels:\n{}- traefik.http.services.{}.loadbalancer.server.port=80\n", p(2), p(3), s.replicas, p(3), p(4), s.name));
    }
    if !final_newline {
        out.pop();
    }
    if crlf {
        out = out.replace('\n', "\r\n");
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// For generated compose files, set_image changes exactly the one value (an independent
    /// reader sees every other value unchanged), keeps line endings and the final newline, and
    /// refuses exactly the images that another service shares.
    #[test]
    fn set_image_changes_one_scalar(
        services in proptest::collection::vec(service(), 1..5),
        pick in any::<prop::sample::Index>(),
        ind in 2usize..5,
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
        new in "[a-z][a-z0-9]{0,8}(:[a-z0-9]{1,6}|@sha256:[0-9a-f]{64})",
    ) {
        let mut services = services;
        let mut seen = std::collections::HashSet::new();
        // `shared` is taken by the shared anchor's key in x-images.
        services.retain(|s| s.name != "shared" && seen.insert(s.name.clone()));
        prop_assume!(!services.is_empty());
        let text = render(&services, ind, crlf, final_newline);
        let target = &services[pick.index(services.len())];
        let before = oracle(&text);
        let users = services.iter().filter(|s| matches!(s.style, ImageStyle::Alias { shared: true })).count();
        let shared = |s: &Service| matches!(s.style, ImageStyle::Alias { shared: true }) && users > 1;
        let image = img(&new);
        match set_image(&text, &target.name, &image) {
            Ok(edit) => {
                prop_assert!(!shared(target), "a shared image was edited:\n{}", text);
                let after = oracle(edit.text());
                let mut expected = before.clone();
                expected["services"][&target.name]["image"] = Value::String(new.clone());
                // What the anchor holds changes with it.
                match target.style {
                    ImageStyle::Alias { shared: false } => {
                        expected["x-images"][&target.name] = Value::String(new.clone());
                    }
                    ImageStyle::Alias { shared: true } => {
                        expected["x-images"]["shared"] = Value::String(new.clone());
                    }
                    ImageStyle::Merged => {
                        expected[format!("x-defaults-{}", target.name)]["image"] = Value::String(new.clone());
                    }
                    _ => {}
                }
                prop_assert_eq!(&after, &expected, "\n{}\n---\n{}", text, edit.text());
                prop_assert_eq!(edit.text().ends_with('\n'), text.ends_with('\n'));
                if crlf {
                    prop_assert_eq!(edit.text().matches('\n').count(), edit.text().matches("\r\n").count());
                }
                // Outside the changed bytes the text is the same.
                let common = text.bytes().zip(edit.text().bytes()).take_while(|(a, b)| a == b).count();
                let tail = text.bytes().rev().zip(edit.text().bytes().rev()).take_while(|(a, b)| a == b).count();
                let old_mid = &text[common..text.len() - tail.min(text.len() - common)];
                prop_assert!(!old_mid.contains('#'), "a comment changed: {:?}", old_mid);
                if !matches!(target.style, ImageStyle::Folded) {
                    prop_assert!(!old_mid.contains('\n'), "more than one line changed: {:?}", old_mid);
                }
            }
            Err(Error::InvalidInput { field, reason, .. }) => {
                prop_assert!(shared(target), "refused {}: {} for\n{}", field, reason, text);
                prop_assert!(reason.contains("also uses"), "{}", reason);
            }
            Err(e) => prop_assert!(false, "{e} for\n{text}"),
        }
    }
}
