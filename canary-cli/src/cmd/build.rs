//! `canary build`: the apps' images from their build contexts (the seed's `build-images.sh`),
//! through [`canary_sdk::Canary::build`].

use std::collections::BTreeMap;

use canary_core::traits::BuildEvent;
use futures::StreamExt;
use serde_json::json;

use crate::args::{BuildArgs, Global};
use crate::error::{CliError, CliResult};
use crate::output::Printer;
use crate::session;

pub(crate) async fn build(g: &Global, a: &BuildArgs, p: &Printer) -> CliResult<u8> {
    let mut extra = BTreeMap::new();
    for kv in &a.build_args {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--build-arg {kv:?}: expected KEY=VALUE")))?;
        extra.insert(k.to_string(), v.to_string());
    }
    let (file, canary) = session::connect(g).await?;
    for app in &file.spec.apps {
        if a.app.as_deref().is_none_or(|n| n == app.name.as_str()) && app.build.is_none() {
            p.note(format!(
                "{}: no build section in the spec; skipped",
                app.name
            ));
        }
    }
    let mut stream = canary
        .build(a.track, a.app.as_deref(), &extra)
        .await
        .map_err(CliError::from)?;
    let mut built = 0;
    while let Some(ev) = stream.next().await {
        let (app, ev) = ev.map_err(|e| CliError::from(e).context("build"))?;
        match ev {
            BuildEvent::Output(line) => p
                .emit(json!({"type": "build", "app": app, "line": line}), || {
                    format!("  {app} | {line}")
                }),
            BuildEvent::Built(id) => {
                built += 1;
                let tag = file
                    .spec
                    .apps
                    .iter()
                    .find(|x| x.name.as_str() == app)
                    .and_then(|x| match a.track {
                        canary_core::Track::Canary => Some(x.image.to_string()),
                        canary_core::Track::Stable => {
                            x.stable_image.as_ref().map(|i| i.to_string())
                        }
                    })
                    .unwrap_or_default();
                p.emit(
                    json!({"type": "built", "app": app, "track": a.track, "image": tag, "id": id}),
                    || format!("{app}: built {tag} ({id})"),
                )
            }
        }
    }
    p.emit(
        json!({"type": "result", "result": "built", "images": built}),
        || format!("built {built} image(s)"),
    );
    Ok(0)
}
