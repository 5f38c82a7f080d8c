//! The canary settings kept inside a `docker stack deploy` compose file, and promotions written
//! back to it.
//!
//! This module owns the compose side: reading `x-canary` blocks into a canary spec
//! ([`ComposeSpec`], in `spec.rs`), changing services' `image:` without touching the rest of the
//! file ([`set_image`], [`set_images`], in `edit.rs`) and the schema of the blocks
//! ([`json_schema`], in `schema.rs`). Validating the spec is [`Spec`](crate::Spec)'s
//! trade; positions come from [`yaml_index`](crate::yaml_index).
//!
//! # Where the settings go
//!
//! ```yaml
//! x-canary:                      # group-level fields of the spec
//!   group: neotix                # default: the stack, else the compose file's `name:`
//!   stack: neotix                # the stack name `docker stack deploy` is given
//!   traffic: {steps: [20, 50, 80], interval: 1m}
//!   analysis: {checks: [...]}
//!   apps: [gcp-deployment-api]   # optional: services that are apps (names or mappings)
//! services:
//!   neotix-api:
//!     image: registry:5000/neotix-api:v1
//!     x-canary:                  # app fields of the spec for this service
//!       image: registry:5000/neotix-api:v2
//!       healthPath: /api/health
//! ```
//!
//! # Rules
//!
//! - A service is an app when it has `x-canary` or is named in the top-level `x-canary.apps`
//!   (a service name, or a mapping whose `name` is the service and whose other keys are app
//!   fields). Apps come in `x-canary.apps` order, then in the order of `services`. A field given
//!   both in the service's `x-canary` and in its `x-canary.apps` item is an error. An empty
//!   `x-canary:` (null) on a service makes it an app with every field derived.
//! - The app's `name` is the compose service name (a `name` inside a service's `x-canary` is an
//!   error). `stable` is `<stack>_<service>` when a stack is known
//!   ([`ComposeOptions::stack`], else `x-canary.stack`), else the service name.
//! - **The seed's layout**: when a service `<service>-canary` exists beside the app's service,
//!   the app's `canary` is `<stack>_<service>-canary`, `image` defaults to that service's
//!   `image:` and `canaryReplicas` to its `deploy.replicas`. Without one (the SDK's layout) the
//!   canary image must be given as `x-canary.image` and canary creates the canary service.
//!   `x-canary` on `<service>-canary` itself is an error: it belongs on `<service>`.
//! - `stableImage` defaults to the service's `image:`; `stableReplicas` to its
//!   `deploy.replicas`.
//! - `port` defaults to the Traefik label `traefik.http.services.<X>.loadbalancer.server.port`
//!   of the service (then of its `-canary` service), `rule` to `traefik.http.routers.<X>.rule`
//!   of the service. Labels are read from `deploy.labels` (Swarm's service labels, the ones
//!   Traefik's Swarm provider reads), in list (`- key=value`) or map form. Several different
//!   values are an error that asks for the field in `x-canary`.
//! - Compose variables (`${TAG:-v1}`) are not expanded. A required value that would be derived
//!   from one (`image`, `port`, `rule`) is an error asking for it in `x-canary`; an optional one
//!   (`stableImage`, replica counts) is left to the spec's default.
//! - Anchors, aliases and merge keys (`<<: *defaults`) are followed everywhere.
//! - Errors name the compose path (`services.neotix-api.x-canary.port`) and its line:
//!   [`ComposeSpec::explain`] turns the spec's own errors (`apps[0].port`) into those.
//!
//! # Writing a promotion back
//!
//! [`set_image`] replaces the scalar of `services.<service>.image` and nothing else; see its
//! docs for anchors, quoting and variables. [`Edit::patch`] shows the change as a unified diff;
//! [`set_images`] changes several services at once, with one patch. What to write after a
//! promotion, and the file's atomic replacement, are [`crate::ops::writeback`]'s; comparing
//! stable with the file is [`mod@crate::ops::drift`]'s.
//!
//! # Editors
//!
//! [`json_schema`] is the JSON Schema of the `x-canary` blocks
//! (`schema/compose-x-canary.schema.json`); a first line
//! `# yaml-language-server: $schema=<path or URL of it>` makes yaml-language-server editors check
//! them.

mod edit;
mod schema;
mod spec;

pub use edit::{image_of, set_image, set_image_with, set_images, Edit, Edits, SetImageOptions};
pub use schema::json_schema;
pub use spec::{is_compose, ComposeOptions, ComposeSpec};
