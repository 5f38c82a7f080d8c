//! `canary build`: the apps' images from their build contexts (the seed's `build-images.sh`),
//! through [`canary_sdk::Canary::build`], and with `--push` into their registry through
//! [`canary_sdk::Canary::push`].

use std::collections::BTreeMap;

use canary_core::traits::BuildEvent;
use canary_core::Track;
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
    let mut apps = Vec::new();
    for app in &file.spec.apps {
        if a.app.as_deref().is_some_and(|n| n != app.name.as_str()) {
            continue;
        }
        if app.build.is_none() {
            p.note(format!(
                "{}: no build section in the spec; skipped",
                app.name
            ));
            continue;
        }
        apps.push(app);
    }
    if let Some(n) = &a.app {
        if apps.is_empty() && !file.spec.apps.iter().any(|x| x.name.as_str() == n) {
            return Err(CliError::usage(format!(
                "--app {n}: no such app in the spec"
            )));
        }
    }
    // Without --track, both: stable first (its tag is what stable runs until promotion).
    let tracks = match a.track {
        Some(t) => vec![t],
        None => vec![Track::Stable, Track::Canary],
    };
    let (mut built, mut pushed) = (0, 0);
    for track in tracks {
        for app in &apps {
            let tag = match track {
                Track::Canary => app.image.to_string(),
                Track::Stable => match &app.stable_image {
                    Some(i) => i.to_string(),
                    // Asked for explicitly, the SDK refuses with the field's name below.
                    None if a.track.is_none() => continue,
                    None => String::new(),
                },
            };
            let name = app.name.as_str();
            let mut stream = canary
                .build(track, Some(name), &extra)
                .await
                .map_err(CliError::from)?;
            while let Some(ev) = stream.next().await {
                let (app, ev) = ev.map_err(|e| CliError::from(e).context("build"))?;
                match ev {
                    BuildEvent::Output(line) => p
                        .emit(json!({"type": "build", "app": app, "line": line}), || {
                            format!("  {app} | {line}")
                        }),
                    BuildEvent::Built(id) => {
                        built += 1;
                        p.emit(
                            json!({"type": "built", "app": app, "track": track, "image": tag, "id": id}),
                            || format!("{app}: built {tag} ({id})"),
                        )
                    }
                    // An event newer than this CLI: shown as the core serialises it.
                    other => p.emit(json!({"type": "build", "app": app, "event": other}), || {
                        format!("  {app} | {other:?}")
                    }),
                }
            }
            if a.push {
                for x in canary
                    .push(track, Some(name))
                    .await
                    .map_err(|e| CliError::from(e).context("push"))?
                {
                    pushed += 1;
                    p.emit(
                        json!({"type": "pushed", "app": x.app, "track": x.track, "image": x.image, "digest": x.digest}),
                        || format!("{}: pushed {} ({})", x.app, x.image, x.digest),
                    );
                }
            }
        }
    }
    p.emit(
        json!({"type": "result", "result": "built", "images": built, "pushed": pushed}),
        || {
            if a.push {
                format!("built {built} image(s), pushed {pushed}")
            } else {
                format!("built {built} image(s)")
            }
        },
    );
    Ok(0)
}
