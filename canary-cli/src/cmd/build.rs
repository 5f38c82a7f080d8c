//! `canary build`: the apps' images from their build contexts (the seed's `build-images.sh`).

use std::collections::BTreeMap;

use canary_core::traits::BuildEvent;
use canary_core::Orchestrator;
use futures::StreamExt;
use serde_json::json;

use crate::args::{BuildArgs, Global};
use crate::error::{CliError, CliResult};
use crate::output::Printer;
use crate::{specfile, wire};

pub(crate) async fn build(g: &Global, a: &BuildArgs, p: &Printer) -> CliResult<u8> {
    let loaded = specfile::load(&g.spec, &g.overrides)?;
    let spec = &loaded.spec;
    let mut extra = BTreeMap::new();
    for kv in &a.build_args {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--build-arg {kv:?}: expected KEY=VALUE")))?;
        extra.insert(k.to_string(), v.to_string());
    }
    let apps: Vec<_> = spec
        .apps
        .iter()
        .filter(|app| a.app.as_deref().is_none_or(|n| n == app.name.as_str()))
        .collect();
    if apps.is_empty() {
        return Err(CliError::usage(format!(
            "no app named {:?} in the spec",
            a.app.as_deref().unwrap_or("")
        )));
    }
    let swarm = wire::swarm(&g.connect).await?;
    let mut built = 0;
    for app in apps {
        let Some(mut request) = app.build_request(a.track, &loaded.dir)? else {
            p.note(format!(
                "{}: no build section in the spec; skipped",
                app.name
            ));
            continue;
        };
        request.args.extend(extra.clone());
        let tag = request.tag.clone();
        let tag_text = tag.as_str();
        p.note(format!(
            "{}: building {tag} from {}",
            app.name,
            request.context.display()
        ));
        let mut stream = swarm
            .build_image(&request)
            .await
            .map_err(|e| CliError::from(e).context(format!("build of {}", app.name)))?;
        while let Some(ev) = stream.next().await {
            match ev.map_err(|e| CliError::from(e).context(format!("build of {}", app.name)))? {
                BuildEvent::Output(line) => p.emit(
                    json!({"type": "build", "app": app.name, "line": line}),
                    || format!("  {} | {line}", app.name),
                ),
                BuildEvent::Built(id) => {
                    built += 1;
                    p.emit(
                        json!({"type": "built", "app": app.name, "track": a.track, "image": tag_text, "id": id}),
                        || format!("{}: built {tag} ({id})", app.name),
                    )
                }
            }
        }
    }
    p.emit(
        json!({"type": "result", "result": "built", "images": built}),
        || format!("built {built} image(s)"),
    );
    Ok(0)
}
