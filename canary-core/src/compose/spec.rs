//! Reading `x-canary` out of a compose file into a canary spec (as JSON, for
//! [`Spec::from_value`]) with a map from spec paths back to compose paths. The rules are in the
//! [module docs](super).

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::spec::Spec;
use crate::yaml_index::tree::{Entry, Kind, NodeId, Tree};
use crate::yaml_index::value::to_json;
use crate::yaml_index::{join, YamlIndex};

const X_CANARY: &str = "x-canary";

/// Settings from outside the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComposeOptions {
    /// The stack name `docker stack deploy` is given (`--stack`). Overrides `x-canary.stack`.
    pub stack: Option<String>,
}

impl ComposeOptions {
    /// These options with the stack name `docker stack deploy` is given.
    #[must_use]
    pub fn with_stack(mut self, stack: impl Into<String>) -> Self {
        self.stack = Some(stack.into());
        self
    }
}

/// A canary spec read from a compose file, not yet validated.
#[derive(Debug, Clone)]
pub struct ComposeSpec {
    value: Value,
    /// (spec path prefix, compose path), looked up by longest prefix.
    paths: Vec<(String, String)>,
    /// Where unmapped spec paths live: `x-canary`, or the root without one.
    fallback: String,
    index: YamlIndex,
}

/// True when `text` is a compose file with canary settings: a top-level `services` mapping and
/// an `x-canary` at the top level or on a service. A plain spec (or text that does not parse)
/// is not.
pub fn is_compose(text: &str) -> bool {
    let Ok(tree) = Tree::parse(text) else {
        return false;
    };
    let Ok(root) = tree.entries(tree.root) else {
        return false;
    };
    let Some(services) = root.iter().find(|e| e.key == "services") else {
        return false;
    };
    if !matches!(
        tree.node(tree.resolve(services.value)).kind,
        Kind::Map { .. }
    ) {
        return false;
    }
    if root.iter().any(|e| e.key == X_CANARY) {
        return true;
    }
    tree.entries(services.value).is_ok_and(|svcs| {
        svcs.iter().any(|s| {
            tree.entries(s.value)
                .is_ok_and(|f| f.iter().any(|e| e.key == X_CANARY))
        })
    })
}

impl ComposeSpec {
    /// Reads the canary settings of compose file `text`.
    pub fn parse(text: &str, options: &ComposeOptions) -> Result<ComposeSpec> {
        let tree = Tree::parse(text)?;
        let index = YamlIndex::of_tree(&tree)?;
        let mut reader = Reader {
            tree: &tree,
            paths: Vec::new(),
        };
        let (value, fallback) = reader.read(options).map_err(|e| index.annotate(e))?;
        let paths = reader.paths;
        Ok(ComposeSpec {
            value,
            paths,
            fallback,
            index,
        })
    }

    /// The spec, as JSON.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The spec, as JSON.
    pub fn into_value(self) -> Value {
        self.value
    }

    /// The index of the compose file's positions.
    pub fn index(&self) -> &YamlIndex {
        &self.index
    }

    /// The compose path a spec path came from: `apps[0].port` →
    /// `services.neotix-api.x-canary.port` (or the Traefik label it was read from).
    pub fn compose_path(&self, spec_path: &str) -> String {
        let best = self
            .paths
            .iter()
            .filter(|(p, _)| is_prefix(p, spec_path))
            .max_by_key(|(p, _)| p.len());
        match best {
            Some((p, c)) => format!("{c}{}", &spec_path[p.len()..]),
            None if spec_path.is_empty() => self.fallback.clone(),
            None if self.fallback.is_empty() => spec_path.to_string(),
            None => format!("{}.{spec_path}", self.fallback),
        }
    }

    /// A spec error as the compose file's error: the field becomes the compose path and the
    /// reason gets its ` (line L, column C)`. Other errors are unchanged.
    pub fn explain(&self, err: Error) -> Error {
        match err {
            Error::InvalidInput {
                field,
                reason,
                source,
            } => {
                let field = self.compose_path(&field);
                self.index.annotate(Error::InvalidInput {
                    field,
                    reason,
                    source,
                })
            }
            other => other,
        }
    }

    /// The validated spec; its errors are [explained](Self::explain).
    pub fn to_spec(&self) -> Result<Spec> {
        Spec::from_value(self.value.clone()).map_err(|e| self.explain(e))
    }
}

/// `prefix` is `path` or an ancestor of it in path syntax.
fn is_prefix(prefix: &str, path: &str) -> bool {
    path.strip_prefix(prefix).is_some_and(|rest| {
        rest.is_empty() || rest.starts_with('.') || rest.starts_with('[') || prefix.is_empty()
    })
}

/// A key-value label of a service, with the compose path it is written at.
struct Label {
    key: String,
    value: String,
    path: String,
}

/// Where an app's fields come from: the service's `x-canary` and its `x-canary.apps` item.
struct AppSource {
    service: String,
    /// The compose path errors about the app as a whole are reported at.
    primary: String,
    fields: Vec<(String, NodeId, String)>,
}

struct Reader<'a, 't> {
    tree: &'a Tree<'t>,
    paths: Vec<(String, String)>,
}

impl Reader<'_, '_> {
    fn map(&mut self, spec: &str, compose: &str) {
        self.paths.push((spec.to_string(), compose.to_string()));
    }

    fn read(&mut self, options: &ComposeOptions) -> Result<(Value, String)> {
        let t = self.tree;
        let root = t.entries(t.root)?;
        let Some(services) = root.iter().find(|e| e.key == "services") else {
            return Err(Error::invalid(
                "services",
                "a compose file needs a services mapping",
            ));
        };
        if !matches!(t.node(t.resolve(services.value)).kind, Kind::Map { .. }) {
            return Err(Error::invalid("services", "must be a mapping of services"));
        }
        let services = t.entries(services.value)?;
        let top = match root.iter().find(|e| e.key == X_CANARY) {
            Some(e) => Some(self.block(e.value, X_CANARY)?),
            None => None,
        };
        let fallback = if top.is_some() { X_CANARY } else { "" }.to_string();
        let mut spec = Map::new();
        let mut top_apps = None;
        for (key, value) in top.iter().flat_map(|b| b.iter()) {
            let path = join(X_CANARY, key);
            if key == "apps" {
                top_apps = Some((*value, path));
                continue;
            }
            spec.insert(key.clone(), to_json(t, *value)?);
            self.map(key, &path);
        }
        let stack = match &options.stack {
            Some(s) => {
                spec.insert("stack".into(), Value::String(s.clone()));
                // Errors about the stack are then about the option, not the file.
                self.paths.retain(|(p, _)| p != "stack");
                Some(s.clone())
            }
            None => spec
                .get("stack")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        if !spec.contains_key("group") {
            let name = root.iter().find(|e| e.key == "name");
            if let Some(s) = &stack {
                spec.insert("group".into(), Value::String(s.clone()));
                if options.stack.is_none() {
                    self.map("group", "x-canary.stack");
                }
            } else if let Some(n) = name.and_then(|n| t.scalar(n.value)) {
                spec.insert("group".into(), Value::String(n.to_string()));
                self.map("group", "name");
            } else {
                return Err(Error::invalid(
                    fallback.clone(),
                    "no group: set x-canary.group (or x-canary.stack, or the compose file's name:)",
                ));
            }
        }
        let sources = self.app_sources(&services, top_apps)?;
        self.map(
            "apps",
            if root_has_apps(&top) {
                "x-canary.apps"
            } else {
                "services"
            },
        );
        let mut apps = Vec::new();
        for (i, source) in sources.into_iter().enumerate() {
            apps.push(self.app(i, source, &services, stack.as_deref())?);
        }
        spec.insert("apps".into(), Value::Array(apps));
        Ok((Value::Object(spec), fallback))
    }

    /// The entries of an `x-canary` block at `path`: a mapping, or nothing for null.
    fn block(&self, id: NodeId, path: &str) -> Result<Vec<(String, NodeId)>> {
        let t = self.tree;
        match &t.node(t.resolve(id)).kind {
            Kind::Map { .. } => Ok(t
                .entries(id)?
                .into_iter()
                .map(|e| (e.key, e.value))
                .collect()),
            Kind::Scalar { value, .. } if matches!(value.as_str(), "" | "~" | "null") => {
                Ok(Vec::new())
            }
            _ => Err(Error::invalid(
                path,
                "x-canary must be a mapping of canary settings",
            )),
        }
    }

    /// The apps in order: `x-canary.apps` first, then services with their own `x-canary`.
    fn app_sources(
        &self,
        services: &[Entry],
        top_apps: Option<(NodeId, String)>,
    ) -> Result<Vec<AppSource>> {
        let t = self.tree;
        let exists = |name: &str| services.iter().any(|s| s.key == name);
        let mut out: Vec<AppSource> = Vec::new();
        if let Some((list, list_path)) = top_apps {
            let Kind::Seq { items, .. } = &t.node(t.resolve(list)).kind else {
                return Err(Error::invalid(
                    list_path,
                    "must be a list of service names (or mappings with a name)",
                ));
            };
            for (j, &item) in items.iter().enumerate() {
                let item_path = format!("{list_path}[{j}]");
                let (service, fields) = match t.scalar(item) {
                    Some(name) => (name.to_string(), Vec::new()),
                    None => {
                        let entries = self.block(item, &item_path)?;
                        let Some(name) = entries
                            .iter()
                            .find(|(k, _)| k == "name")
                            .and_then(|(_, v)| t.scalar(*v))
                        else {
                            return Err(Error::invalid(
                                item_path,
                                "an app here needs name: the compose service it is",
                            ));
                        };
                        let fields = entries
                            .iter()
                            .filter(|(k, _)| k != "name")
                            .map(|(k, v)| (k.clone(), *v, join(&item_path, k)))
                            .collect();
                        (name.to_string(), fields)
                    }
                };
                if !exists(&service) {
                    return Err(Error::invalid(
                        item_path,
                        format!("there is no service {service:?} in services"),
                    ));
                }
                if out.iter().any(|a| a.service == service) {
                    return Err(Error::invalid(
                        item_path,
                        format!("{service} is listed twice"),
                    ));
                }
                out.push(AppSource {
                    service,
                    primary: item_path,
                    fields,
                });
            }
        }
        for s in services {
            let Some(x) = t.entries(s.value)?.into_iter().find(|e| e.key == X_CANARY) else {
                continue;
            };
            let path = join(&join("services", &s.key), X_CANARY);
            let entries = self.block(x.value, &path)?;
            if let Some((k, _)) = entries.iter().find(|(k, _)| k == "name") {
                return Err(Error::invalid(
                    join(&path, k),
                    "an app's name is its compose service's name; remove it",
                ));
            }
            let at = out.iter().position(|a| a.service == s.key);
            let source = match at {
                Some(i) => &mut out[i],
                None => {
                    out.push(AppSource {
                        service: s.key.clone(),
                        primary: path.clone(),
                        fields: Vec::new(),
                    });
                    out.last_mut().expect("just pushed")
                }
            };
            source.primary = path.clone();
            for (k, v) in entries {
                if let Some((_, _, other)) = source.fields.iter().find(|(f, _, _)| *f == k) {
                    return Err(Error::invalid(
                        join(&path, &k),
                        format!("also given at {other}; keep one"),
                    ));
                }
                source.fields.push((k.clone(), v, join(&path, &k)));
            }
        }
        for a in &out {
            if let Some(base) = a.service.strip_suffix("-canary") {
                if exists(base) {
                    return Err(Error::invalid(
                        a.primary.clone(),
                        format!(
                            "{} is the canary of {base}: put the canary settings on {base}",
                            a.service
                        ),
                    ));
                }
            }
        }
        if out.is_empty() {
            return Err(Error::invalid(
                "services",
                "no service is a canary app: add x-canary to a service or list it in x-canary.apps",
            ));
        }
        Ok(out)
    }
}

impl Reader<'_, '_> {
    /// App `i` of the spec: its own fields, then what the compose services say.
    fn app(
        &mut self,
        i: usize,
        source: AppSource,
        services: &[Entry],
        stack: Option<&str>,
    ) -> Result<Value> {
        let t = self.tree;
        let svc = source.service.as_str();
        let Some(service) = services.iter().find(|s| s.key == svc) else {
            return Err(Error::internal(format!("app {svc} lost its service")));
        };
        let svc_path = join("services", svc);
        let prefix = format!("apps[{i}]");
        let field = |k: &str| format!("{prefix}.{k}");
        self.map(&prefix, &source.primary);
        let mut app = Map::new();
        app.insert("name".into(), Value::String(svc.to_string()));
        self.map(&field("name"), &svc_path);
        for (k, v, path) in &source.fields {
            app.insert(k.clone(), to_json(t, *v)?);
            self.map(&field(k), path);
        }
        let canary_name = format!("{svc}-canary");
        let canary = services.iter().find(|s| s.key == canary_name);
        let canary_path = join("services", &canary_name);
        let in_stack = |n: &str| match stack {
            Some(s) => format!("{s}_{n}"),
            None => n.to_string(),
        };
        if !app.contains_key("stable") {
            app.insert("stable".into(), Value::String(in_stack(svc)));
            self.map(&field("stable"), &svc_path);
        }
        if canary.is_some() && !app.contains_key("canary") {
            app.insert("canary".into(), Value::String(in_stack(&canary_name)));
            self.map(&field("canary"), &canary_path);
        }
        if !app.contains_key("image") {
            let image = match canary {
                Some(c) => self.scalar_field(c.value, &canary_path, "image")?,
                None => None,
            };
            let Some((image, path)) = image else {
                return Err(Error::invalid(
                    source.primary,
                    match canary {
                        Some(_) => format!("no canary image: set image here or on {canary_path}"),
                        None => format!(
                            "no canary image: set image here, or add a service {canary_name} \
                             with the canary's image"
                        ),
                    },
                ));
            };
            app.insert(
                "image".into(),
                Value::String(no_variables(&image, &path, "image")?),
            );
            self.map(&field("image"), &path);
        }
        if !app.contains_key("stableImage") {
            if let Some((image, path)) = self.scalar_field(service.value, &svc_path, "image")? {
                if !image.contains('$') {
                    app.insert("stableImage".into(), Value::String(image));
                    self.map(&field("stableImage"), &path);
                }
            }
        }
        let replicas = [
            ("stableReplicas", Some((service, &svc_path))),
            ("canaryReplicas", canary.map(|c| (c, &canary_path))),
        ];
        for (key, from) in replicas {
            let Some((s, s_path)) = from else { continue };
            if app.contains_key(key) {
                continue;
            }
            if let Some((n, path)) = self.replicas(s.value, s_path)? {
                app.insert(key.into(), n);
                self.map(&field(key), &path);
            }
        }
        let labels = self.labels(service.value, &svc_path)?;
        if !app.contains_key("port") {
            let mut ports = traefik(&labels, "services", &["loadbalancer", "server", "port"]);
            let canary_labels;
            if ports.is_empty() {
                if let Some(c) = canary {
                    canary_labels = self.labels(c.value, &canary_path)?;
                    ports = traefik(
                        &canary_labels,
                        "services",
                        &["loadbalancer", "server", "port"],
                    );
                }
            }
            let Some(label) = one_value(&ports, &svc_path, "port")? else {
                return Err(Error::invalid(
                    source.primary,
                    format!(
                        "no port: set port here, or label {svc_path} with \
                         traefik.http.services.<name>.loadbalancer.server.port"
                    ),
                ));
            };
            let text = no_variables(&label.value, &label.path, "port")?;
            let Ok(port) = text.trim().parse::<u64>() else {
                return Err(Error::invalid(
                    label.path.clone(),
                    format!("{text:?} is not a port number"),
                ));
            };
            app.insert("port".into(), Value::from(port));
            self.map(&field("port"), &label.path);
        }
        if !app.contains_key("rule") {
            let rules = traefik(&labels, "routers", &["rule"]);
            let Some(label) = one_value(&rules, &svc_path, "rule")? else {
                return Err(Error::invalid(
                    source.primary,
                    format!(
                        "no rule: set rule here, or label {svc_path} with \
                         traefik.http.routers.<name>.rule"
                    ),
                ));
            };
            let rule = no_variables(&label.value, &label.path, "rule")?;
            app.insert("rule".into(), Value::String(rule));
            self.map(&field("rule"), &label.path);
        }
        Ok(Value::Object(app))
    }

    /// The scalar at `key` of service `svc` (merge keys applied), with its path.
    fn scalar_field(
        &self,
        svc: NodeId,
        svc_path: &str,
        key: &str,
    ) -> Result<Option<(String, String)>> {
        let t = self.tree;
        let Some(e) = t.get(svc, key)? else {
            return Ok(None);
        };
        let path = join(svc_path, key);
        match t.scalar(e.value) {
            Some(v) => Ok(Some((v.to_string(), path))),
            None => Err(Error::invalid(path, "must be a single value")),
        }
    }

    /// `deploy.replicas` of a service as a JSON number (a string the spec then rejects when it
    /// is not one); nothing when absent or a compose variable.
    fn replicas(&self, svc: NodeId, svc_path: &str) -> Result<Option<(Value, String)>> {
        let t = self.tree;
        let Some(deploy) = t.get(svc, "deploy")? else {
            return Ok(None);
        };
        let Some(r) = t.get(deploy.value, "replicas")? else {
            return Ok(None);
        };
        let path = join(&join(svc_path, "deploy"), "replicas");
        let value = to_json(t, r.value)?;
        Ok(match value {
            Value::String(s) if s.contains('$') => None,
            Value::String(s) => match s.trim().parse::<u64>() {
                Ok(n) => Some((Value::from(n), path)),
                Err(_) => Some((Value::String(s), path)),
            },
            v => Some((v, path)),
        })
    }

    /// The `deploy.labels` of a service, in list (`key=value`) or map form.
    fn labels(&self, svc: NodeId, svc_path: &str) -> Result<Vec<Label>> {
        let t = self.tree;
        let Some(deploy) = t.get(svc, "deploy")? else {
            return Ok(Vec::new());
        };
        let Some(labels) = t.get(deploy.value, "labels")? else {
            return Ok(Vec::new());
        };
        let base = join(&join(svc_path, "deploy"), "labels");
        let mut out = Vec::new();
        match &t.node(t.resolve(labels.value)).kind {
            Kind::Seq { items, .. } => {
                for (j, &item) in items.iter().enumerate() {
                    let path = format!("{base}[{j}]");
                    let Some(text) = t.scalar(item) else {
                        return Err(Error::invalid(path, "a label must be key=value"));
                    };
                    let (key, value) = text.split_once('=').unwrap_or((text, ""));
                    out.push(Label {
                        key: key.trim().to_string(),
                        value: value.to_string(),
                        path,
                    });
                }
            }
            Kind::Map { .. } => {
                for e in t.entries(labels.value)? {
                    let path = join(&base, &e.key);
                    let Some(value) = t.scalar(e.value) else {
                        return Err(Error::invalid(
                            path,
                            "a label's value must be a single value",
                        ));
                    };
                    out.push(Label {
                        key: e.key,
                        value: value.to_string(),
                        path,
                    });
                }
            }
            Kind::Scalar { value, .. } if value.is_empty() => {}
            _ => {
                return Err(Error::invalid(
                    base,
                    "must be a list or a mapping of labels",
                ))
            }
        }
        Ok(out)
    }
}

/// The labels `traefik.http.<kind>.<name>.<leaf...>`, any name.
fn traefik<'l>(labels: &'l [Label], kind: &str, leaf: &[&str]) -> Vec<&'l Label> {
    labels
        .iter()
        .filter(|l| {
            let parts: Vec<&str> = l.key.split('.').collect();
            parts.len() == 4 + leaf.len()
                && parts[0].eq_ignore_ascii_case("traefik")
                && parts[1].eq_ignore_ascii_case("http")
                && parts[2].eq_ignore_ascii_case(kind)
                && !parts[3].is_empty()
                && parts[4..]
                    .iter()
                    .zip(leaf)
                    .all(|(p, l)| p.eq_ignore_ascii_case(l))
        })
        .collect()
}

/// The one value the labels agree on; several different ones are an error.
fn one_value<'l>(labels: &[&'l Label], svc_path: &str, what: &str) -> Result<Option<&'l Label>> {
    let mut values: Vec<&str> = labels.iter().map(|l| l.value.trim()).collect();
    values.sort_unstable();
    values.dedup();
    if values.len() > 1 {
        return Err(Error::invalid(
            join(&join(svc_path, "deploy"), "labels"),
            format!(
                "Traefik labels give several values for the {what} ({}): set {what} in x-canary",
                values.join(", ")
            ),
        ));
    }
    Ok(labels.first().copied())
}

/// `value` unless it uses compose variables, which canary does not expand.
fn no_variables(value: &str, path: &str, what: &str) -> Result<String> {
    if value.contains('$') {
        return Err(Error::invalid(
            path,
            format!(
                "{value:?} uses compose variables, which canary does not expand: \
                 set {what} in x-canary"
            ),
        ));
    }
    Ok(value.to_string())
}

fn root_has_apps(top: &Option<Vec<(String, NodeId)>>) -> bool {
    top.as_ref()
        .is_some_and(|b| b.iter().any(|(k, _)| k == "apps"))
}
