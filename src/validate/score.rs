//! Score workloads as blueprints. A file of `blueprints/` whose
//! `apiVersion` is `score.dev/v1b1` (score-spec/spec: `score-v1b1.json`)
//! is translated here, once it passed `schemas/score.schema.json`, into
//! the tree a blueprint would be, every node keeping the span it came
//! from; its side file `<name>.slipway.yaml` adds slipway's own sections.
//! What follows (merge, templates, the model) sees a blueprint and nothing
//! of Score. Every Score field is translated or refused here with a
//! diagnostic at it; the one left out (a probe's `exec` beside its
//! `httpGet`, as score-k8s does) is left out with a warning at it, and so
//! is a `service` resource no placeholder reads, which nothing checks.
//!
//! Placeholders follow score-spec/score-go `framework/substitution.go`:
//! `${metadata.<key>...}` and `${resources.<name>.<output>}`, `\.` a dot
//! inside a key, `$$` a `$` (and `$${...}` a literal `${...}`), and like
//! score-spec/score-k8s `internal/convert` they are expanded in variables
//! and file contents (a file's `source` too), never in `command` or `args`
//! and never in `binaryContent`.

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Code, Diagnostic, Location};
use crate::input::{StoreKind, source_path};
use crate::load::Attached;
use crate::node::{Entry, Node, Scalar, ScalarKind, Value};
use crate::source::{Sources, Span};
use crate::suggest::did_you_mean;

/// The annotation that names the service's team.
pub const TEAM_ANNOTATION: &str = "slipway.dev/team";
const SLIPWAY_PREFIX: &str = "slipway.dev/";
/// The side file's `apiVersion` and `kind`.
pub const SIDE_API_VERSION: &str = "slipway.dev/v1alpha1";
pub const SIDE_KIND: &str = "ScoreExtension";
/// The blueprint sections a side file may not hold, with the Score
/// field that says them.
const SCORE_SECTIONS: [(&str, &str); 2] =
    [("containers", "containers"), ("dependencies", "resources")];
/// What a Score workload's files' `source` read: the files `load` read
/// for it, in the sources.
pub struct Read<'a> {
    /// The workload's file as shown (`blueprints/orders.yaml`), whose
    /// folder a `source` is relative to.
    pub workload: &'a str,
    /// Every file read, the workload's own among them: placeholders are
    /// found in their text for their spans.
    pub sources: &'a Sources,
    pub attached: &'a Attached,
}

/// A Score workload, translated into a blueprint's tree; `None` if any
/// part was refused (the reasons are in `diags`).
pub fn blueprint(
    score: &Node,
    side: Option<&Node>,
    read: &Read<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Node> {
    let before = diags.len();
    let mut t = Translation {
        read,
        metadata: score.get("metadata").unwrap_or(score),
        resources: resources(score),
        services: services(score),
        read_services: BTreeSet::new(),
        dns: of_type(score.get("resources"), "dns")
            .next()
            .map(|e| e.key.clone()),
        ports: score
            .get("service")
            .and_then(|s| s.get("ports"))
            .map_or(&[], entries_of),
        routes: Vec::new(),
        resources_node: score.get("resources"),
        diags,
    };
    let api = score.entry("apiVersion")?;
    let mut out = vec![
        entry(
            "apiVersion",
            api.key_span,
            string(api.value.span, SIDE_API_VERSION),
        ),
        entry("kind", api.key_span, string(api.value.span, "Blueprint")),
    ];
    out.push(t.metadata(score.entry("metadata")?, side));
    if let Some(containers) = score.entry("containers") {
        out.push(t.containers(containers));
    }
    let side_service = side.and_then(|s| s.entry("service"));
    match (score.entry("service"), side_service) {
        (Some(service), side) => out.push(t.service(service, side.map(|s| &s.value))),
        (None, Some(side)) => t.diags.push(
            Diagnostic::error(
                Code::INVALID_SIDE_FILE,
                side.key_span,
                "the side file sets ports' protocols, but the Score workload has no `service`",
            )
            .with_hint("remove `service` from the side file, or give the Score workload its `service.ports`"),
        ),
        (None, None) => {}
    }
    if let Some(resources) = score.entry("resources") {
        out.push(t.dependencies(resources));
    }
    if let Some(side) = side {
        out.extend(t.side_sections(side));
    }
    if let Some(first) = t.routes.first() {
        // The Score workload's routes, after the side file's.
        let span = first.span;
        match out.iter_mut().find(|e| e.key == "routes") {
            Some(Entry {
                value:
                    Node {
                        value: Value::Seq(items),
                        ..
                    },
                ..
            }) => items.append(&mut t.routes),
            _ => out.push(entry(
                "routes",
                span,
                Node {
                    span,
                    value: Value::Seq(std::mem::take(&mut t.routes)),
                },
            )),
        }
    }
    let refused = t.diags[before..].iter().any(Diagnostic::is_error);
    (!refused).then(|| map(score.span, out))
}

/// The side file's own header: its `apiVersion`, `kind` and that it names
/// the workload beside it. The rest is checked with the blueprint.
pub fn check_side(side: &Node, name: &str, diags: &mut Vec<Diagnostic>) {
    for (key, want) in [("apiVersion", SIDE_API_VERSION), ("kind", SIDE_KIND)] {
        match side.get(key) {
            Some(v) if v.as_str() == Some(want) => {}
            found => diags.push(
                Diagnostic::error(
                    Code::INVALID_SIDE_FILE,
                    found.map_or(side.span, |v| v.span),
                    format!("a Score workload's side file needs `{key}: {want}`"),
                )
                .with_hint(format!("write `{key}: {want}` at the top of the file")),
            ),
        }
    }
    let named = side.get("metadata").and_then(|m| m.get("name"));
    if let Some(n) = named.filter(|n| n.as_str() != Some(name)) {
        diags.push(
            Diagnostic::error(
                Code::INVALID_SIDE_FILE,
                n.span,
                format!("the side file of Score workload `{name}` names another service"),
            )
            .with_hint(format!(
                "write `metadata.name: {name}`, the workload's name"
            )),
        );
    }
}

/// A Score resource slipway connects: a data store's type.
#[derive(Clone, Copy)]
struct Resource {
    kind: StoreKind,
}

/// The `postgres` and `redis` resources, by name: what placeholders reach.
fn resources(score: &Node) -> BTreeMap<String, Resource> {
    let entries = score.get("resources").and_then(Node::as_map).unwrap_or(&[]);
    entries
        .iter()
        .filter_map(|e| {
            let kind = store_kind(e.value.get("type")?.as_str()?)?;
            Some((e.key.clone(), Resource { kind }))
        })
        .collect()
}

/// The `service` resources, by name, each with the workload it names: its
/// `id`'s last `.`-part, else the resource's name (score-spec/community-provisioners
/// `service/score-k8s/10-service.provisioners.yaml`: `splitList "." .Id | last`,
/// the resource's id being `<workload>.<name>` where it gives none).
fn services(score: &Node) -> BTreeMap<String, String> {
    of_type(score.get("resources"), "service")
        .map(|e| {
            let id = e.value.get("id").and_then(Node::as_str);
            let target = id.and_then(|id| id.rsplit('.').next()).unwrap_or(&e.key);
            (e.key.clone(), target.to_owned())
        })
        .collect()
}

/// The resources of `resources` (a Score workload's) of type `kind`, in
/// order.
fn of_type<'a>(resources: Option<&'a Node>, kind: &'a str) -> impl Iterator<Item = &'a Entry> {
    (resources.map(entries_of).unwrap_or_default().iter())
        .filter(move |e| e.value.get("type").and_then(Node::as_str) == Some(kind))
}

fn store_kind(kind: &str) -> Option<StoreKind> {
    match kind {
        "postgres" => Some(StoreKind::Postgres),
        "redis" => Some(StoreKind::Redis),
        _ => None,
    }
}

/// Where a string with placeholders goes: what its resource outputs may
/// become.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A variable of the main container: `$(<NAME>_HOST)`, which the
    /// kubelet expands from the variables the dependency sets there.
    MainVariable,
    /// A variable of another container, which has no such variables.
    Variable,
    /// A file's content, which nothing expands.
    File,
    /// A route's host.
    Route,
}

struct Translation<'a> {
    read: &'a Read<'a>,
    metadata: &'a Node,
    resources: BTreeMap<String, Resource>,
    /// The `service` resources: the workload each names.
    services: BTreeMap<String, String>,
    /// The `service` resources a placeholder reads (containers are
    /// translated before `resources`).
    read_services: BTreeSet<String>,
    /// The workload's `dns` resource: its `host` is the workload's name in
    /// the environment's domain.
    dns: Option<String>,
    /// The Score service's ports, which a `route` names.
    ports: &'a [Entry],
    /// The gateway routes of the `route` resources.
    routes: Vec<Node>,
    /// The Score workload's `resources`.
    resources_node: Option<&'a Node>,
    diags: &'a mut Vec<Diagnostic>,
}

impl Translation<'_> {
    fn refuse(&mut self, span: Span, message: String, hint: &str) {
        self.diags.push(
            Diagnostic::error(Code::SCORE_UNSUPPORTED, span, message).with_hint(hint.to_owned()),
        );
    }

    /// `metadata`: the name, the team (annotation `slipway.dev/team`, or
    /// the side file's `metadata.team`) and the other annotations. Other
    /// keys are read by placeholders only.
    fn metadata(&mut self, meta: &Entry, side: Option<&Node>) -> Entry {
        let mut out = Vec::new();
        if let Some(name) = meta.value.entry("name") {
            out.push(entry("name", name.key_span, copy(&name.value)));
        }
        let mut team = side
            .and_then(|s| s.get("metadata"))
            .and_then(|m| m.entry("team"))
            .map(|t| entry("team", t.key_span, copy(&t.value)));
        let mut annotations = Vec::new();
        for a in entries(&meta.value, "annotations") {
            if a.key == TEAM_ANNOTATION {
                if let Some(first) = &team {
                    self.diags.push(
                        Diagnostic::error(
                            Code::INVALID_SIDE_FILE,
                            a.key_span,
                            "the team is given twice: by annotation `slipway.dev/team` and by the side file",
                        )
                        .with_related(first.key_span, "the side file's `metadata.team`")
                        .with_hint("keep one of the two"),
                    );
                }
                team = Some(entry("team", a.key_span, copy(&a.value)));
            } else if a.key.starts_with(SLIPWAY_PREFIX) {
                let diag = Diagnostic::error(
                    Code::SCORE_UNSUPPORTED,
                    a.key_span,
                    format!("annotation `{}` is not one slipway reads", a.key),
                );
                self.diags.push(match did_you_mean(&a.key, [TEAM_ANNOTATION]) {
                    Some(hint) => diag.with_hint(hint),
                    None => diag.with_hint(format!(
                        "the one `{SLIPWAY_PREFIX}` annotation is `{TEAM_ANNOTATION}`; slipway's other sections go in the side file"
                    )),
                });
            } else {
                annotations.push(entry(&a.key, a.key_span, copy(&a.value)));
            }
        }
        out.extend(team);
        if let Some(a) = meta
            .value
            .entry("annotations")
            .filter(|_| !annotations.is_empty())
        {
            out.push(entry(
                "annotations",
                a.key_span,
                map(a.value.span, annotations),
            ));
        }
        entry("metadata", meta.key_span, map(meta.value.span, out))
    }

    fn containers(&mut self, containers: &Entry) -> Entry {
        let out = entries_of(&containers.value)
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let container = self.container(&c.value, i == 0);
                entry(&c.key, c.key_span, container)
            })
            .collect();
        entry(
            "containers",
            containers.key_span,
            map(containers.value.span, out),
        )
    }

    fn container(&mut self, c: &Node, main: bool) -> Node {
        let mut out = Vec::new();
        for e in entries_of(c) {
            let value = match e.key.as_str() {
                "image" | "command" | "args" | "resources" => copy(&e.value),
                "variables" => self.variables(&e.value, main),
                "files" => self.files(&e.value),
                "livenessProbe" | "readinessProbe" => self.probe(&e.value),
                "volumes" => self.volumes(&e.value),
                "before" => {
                    self.refuse(
                        e.key_span,
                        "slipway starts a pod's containers together, not one before another".into(),
                        "remove `before`; a container that must wait can wait for what it needs itself",
                    );
                    continue;
                }
                _ => continue,
            };
            out.push(entry(&e.key, e.key_span, value));
        }
        map(c.span, out)
    }

    fn variables(&mut self, variables: &Node, main: bool) -> Node {
        let place = if main {
            Place::MainVariable
        } else {
            Place::Variable
        };
        let out = entries_of(variables)
            .iter()
            .map(|v| {
                let text = self.expand(&v.value, place);
                entry(&v.key, v.key_span, string(v.value.span, text))
            })
            .collect();
        map(variables.span, out)
    }

    /// Files, as a map of target -> file or the (deprecated) list of
    /// files with `target` (both are v1b1's `files`).
    fn files(&mut self, files: &Node) -> Node {
        let out = match &files.value {
            Value::Map(entries) => entries
                .iter()
                .filter_map(|e| self.file(string(e.key_span, escape(&e.key)), &e.value))
                .collect(),
            Value::Seq(items) => items
                .iter()
                .filter_map(|f| {
                    let target = f.get("target").map(copy);
                    let Some(target) = target else {
                        self.refuse(
                            f.span,
                            "a file of the list form needs its `target`".into(),
                            "write `target: <path in the container>`, or use the map form `files: {<path>: {content: ...}}`",
                        );
                        return None;
                    };
                    self.file(target, f)
                })
                .collect(),
            Value::Scalar(_) => Vec::new(),
        };
        Node {
            span: files.span,
            value: Value::Seq(out),
        }
    }

    /// A file: `content`, `binaryContent` (as written: Score expands no
    /// placeholders there) or `source`, exactly one (score-spec/spec
    /// `score-v1b1.json` `containerFile`: `oneOf`), and its `mode`.
    fn file(&mut self, target: Node, file: &Node) -> Option<Node> {
        let bodies: Vec<&Entry> = ["content", "binaryContent", "source"]
            .iter()
            .filter_map(|key| file.entry(key))
            .collect();
        let [body] = bodies.as_slice() else {
            let (message, span) = match bodies.get(1) {
                Some(second) => (
                    "a file has more than one of `content`, `binaryContent` and `source`",
                    second.key_span,
                ),
                None => (
                    "a file has none of `content`, `binaryContent` and `source`",
                    file.span,
                ),
            };
            self.refuse(
                span,
                message.into(),
                "give the file exactly one of them, as Score requires",
            );
            return None;
        };
        let raw = file.get("noExpand").and_then(Node::as_bool) == Some(true);
        let value = match body.key.as_str() {
            "binaryContent" => copy(&body.value),
            "content" => self.text_content(&body.value, raw),
            _ => {
                let content = self.source(&body.value)?;
                self.text_content(&content, raw)
            }
        };
        let key = if body.key == "binaryContent" {
            "binaryContent"
        } else {
            "content"
        };
        let mut out = vec![
            entry("target", target.span, target),
            entry(key, body.key_span, value),
        ];
        if let Some(mode) = file.entry("mode") {
            out.push(entry("mode", mode.key_span, copy(&mode.value)));
        }
        Some(map(file.span, out))
    }

    /// A file's text, its placeholders expanded unless `raw` (`noExpand`).
    fn text_content(&mut self, content: &Node, raw: bool) -> Node {
        let text = if raw {
            escape(content.as_str().unwrap_or_default())
        } else {
            self.expand(content, Place::File)
        };
        string(content.span, text)
    }

    /// The file a `source` names, which `load` read: its text as a node
    /// spanning the whole file, or a refusal at the `source`.
    fn source(&mut self, source: &Node) -> Option<Node> {
        let written = source.as_str().unwrap_or_default();
        let path = match source_path(self.read.workload, written) {
            Ok(path) => path,
            Err(reason) => {
                self.refuse(
                    source.span,
                    format!("file source `{written}` is {reason}"),
                    "put the file in `blueprints/` (a `source` is relative to the Score file's folder), or inline it as `content`",
                );
                return None;
            }
        };
        match self.read.attached.get(&path) {
            Some(Ok(id)) => {
                let text = &self.read.sources.get(*id).text;
                let span = Span {
                    file: *id,
                    start: 0,
                    end: u32::try_from(text.len()).unwrap_or(u32::MAX),
                };
                Some(string(span, text.clone()))
            }
            Some(Err(refusal)) => {
                let mut diag = (**refusal).clone();
                diag.location = Location::Span(source.span);
                self.diags.push(diag);
                None
            }
            None => {
                self.diags.push(
                    Diagnostic::error(
                        Code::UNREADABLE_FILE,
                        source.span,
                        format!("file source `{path}` was not read with the inputs"),
                    )
                    .with_hint("inline the file as `content`"),
                );
                None
            }
        }
    }

    /// `volumes`, as a map of target -> volume or the (deprecated) list of
    /// volumes with `target`: each a `volume` resource, which score-k8s'
    /// default provisioner makes an `emptyDir` (score-spec/score-k8s
    /// `internal/provisioners/default/zz-default.provisioners.yaml`), one
    /// per mount (`internal/convert/container_volumes.go` names the pod
    /// volume after the mount's target): a blueprint's scratch volume.
    fn volumes(&mut self, volumes: &Node) -> Node {
        let out = match &volumes.value {
            Value::Map(entries) => entries
                .iter()
                .filter_map(|e| self.volume(string(e.key_span, escape(&e.key)), &e.value))
                .collect(),
            Value::Seq(items) => items
                .iter()
                .filter_map(|v| {
                    let Some(target) = v.get("target").map(copy) else {
                        self.refuse(
                            v.span,
                            "a volume of the list form needs its `target`".into(),
                            "write `target: <path in the container>`, or use the map form `volumes: {<path>: {source: ...}}`",
                        );
                        return None;
                    };
                    self.volume(target, v)
                })
                .collect(),
            Value::Scalar(_) => Vec::new(),
        };
        Node {
            span: volumes.span,
            value: Value::Seq(out),
        }
    }

    fn volume(&mut self, target: Node, volume: &Node) -> Option<Node> {
        let source = volume.get("source")?;
        self.volume_resource(source)?;
        let mut out = vec![entry("target", target.span, target)];
        for e in entries_of(volume) {
            match e.key.as_str() {
                "path" => out.push(entry("subPath", e.key_span, copy(&e.value))),
                "readOnly" => out.push(entry("readOnly", e.key_span, copy(&e.value))),
                _ => {}
            }
        }
        Some(map(volume.span, out))
    }

    /// A volume's `source`: `${resources.<name>}` of a `volume` resource.
    /// score-k8s resolves it to the resource and refuses a source that is
    /// none ("source: resource '...' does not exist",
    /// `internal/convert/container_volumes.go`).
    fn volume_resource(&mut self, source: &Node) -> Option<()> {
        let written = source.as_str().unwrap_or_default();
        let named = written
            .strip_prefix("${")
            .and_then(|s| s.strip_suffix('}'))
            .map(split_reference);
        let volumes: Vec<&str> = of_type(self.resources_node, "volume")
            .map(|r| r.key.as_str())
            .collect();
        let Some(name) = named.as_deref().and_then(|parts| match parts {
            [resources, name] if resources == "resources" => Some(name.clone()),
            _ => None,
        }) else {
            self.refuse(
                source.span,
                format!("volume source `{written}` names no resource: like score-k8s, slipway mounts a `volume` resource, named as `${{resources.<name>}}`"),
                &match volumes.first() {
                    Some(first) => format!("write `source: ${{resources.{first}}}`"),
                    None => "declare `resources: {<name>: {type: volume}}` (an emptyDir) and write `source: ${resources.<name>}`".into(),
                },
            );
            return None;
        };
        let kind = self
            .resources_node
            .and_then(|r| r.get(&name))
            .and_then(|r| r.get("type"))
            .and_then(Node::as_str);
        match kind {
            Some("volume") => Some(()),
            Some(other) => {
                self.refuse(
                    source.span,
                    format!("volume source names resource `{name}`, which is of type `{other}`, not `volume`"),
                    "mount a resource of type `volume`",
                );
                None
            }
            None => {
                let hint = did_you_mean(&name, volumes.iter().copied())
                    .unwrap_or_else(|| "declare it in `resources` as `{type: volume}`".into());
                self.refuse(
                    source.span,
                    format!("volume source names resource `{name}`, which this workload does not declare"),
                    &hint,
                );
                None
            }
        }
    }

    /// The names of the workload's resources of type `kind`.
    /// A probe: `httpGet` or `exec`. A Kubernetes probe runs one handler
    /// (kubernetes `pkg/apis/core/validation` `validateHandler`); where
    /// both are given, score-k8s `buildProbe` (`internal/convert/workloads.go`)
    /// takes `httpGet`, and so does slipway, with a warning at the `exec`
    /// it leaves out (the spec's `containerProbe` would prefer `exec`).
    fn probe(&mut self, probe: &Node) -> Node {
        let http = probe.entry("httpGet");
        let mut out = Vec::new();
        if let Some(http) = http {
            let get = self.http_get(&http.value);
            out.push(entry("httpGet", http.key_span, get));
        }
        match (probe.entry("exec"), http) {
            (Some(exec), Some(http)) => self.diags.push(
                Diagnostic::warning(
                    Code::SCORE_IGNORED,
                    exec.key_span,
                    "this probe's `exec` is left out: a Kubernetes probe runs one handler, and like score-k8s slipway runs its `httpGet`",
                )
                .with_related(http.key_span, "the handler the probe runs")
                .with_hint("remove `exec`, or `httpGet` to probe with the command"),
            ),
            (Some(exec), None) => out.push(entry("exec", exec.key_span, copy(&exec.value))),
            (None, _) => {}
        }
        map(probe.span, out)
    }

    /// `httpGet`: `path`, `port`, `scheme` and `httpHeaders` as written,
    /// and `host` as the request's `Host` header. Score's `httpProbe.host`
    /// "is equivalent to a Host HTTP header" (score-spec/spec
    /// `score-v1b1.json`), which is what Kubernetes' `HTTPGetAction.host`
    /// advises ("You probably want to set \"Host\" in httpHeaders
    /// instead"): as the address to connect to, the kubelet would probe it
    /// from the node, and Istio's injector keeps it while it points the
    /// probe at the sidecar agent's port (istio/istio
    /// `pkg/kube/inject/app_probe.go` `rewriteHTTPGetAction`), so the
    /// probe would reach the node's own address.
    fn http_get(&mut self, http: &Node) -> Node {
        let host = http.entry("host");
        let mut get = Vec::new();
        let mut headers = Vec::new();
        let mut headers_span = host.map(|h| h.key_span);
        for e in entries_of(http) {
            match e.key.as_str() {
                "path" | "port" | "scheme" => get.push(entry(&e.key, e.key_span, copy(&e.value))),
                "httpHeaders" => {
                    headers_span = Some(e.key_span);
                    for h in e.value.as_seq().unwrap_or_default() {
                        if self.header(h, host) {
                            headers.push(copy(h));
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(host) = host {
            headers.push(map(
                host.value.span,
                vec![
                    entry("name", host.key_span, string(host.key_span, "Host")),
                    entry("value", host.value.span, copy(&host.value)),
                ],
            ));
        }
        if let Some(span) = headers_span {
            let seq = Node {
                span,
                value: Value::Seq(headers),
            };
            get.push(entry("httpHeaders", span, seq));
        }
        map(http.span, get)
    }

    /// Whether a probe's header can be sent: its name is one Kubernetes
    /// takes (kubernetes/apimachinery `pkg/util/validation`
    /// `IsHTTPHeaderName`: `[-A-Za-z0-9]+`, narrower than Score's pattern,
    /// which allows `_`), and not a `Host` beside the probe's `host`.
    fn header(&mut self, header: &Node, host: Option<&Entry>) -> bool {
        let Some(name) = header.get("name") else {
            return false;
        };
        let text = name.as_str().unwrap_or_default();
        if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            self.refuse(
                name.span,
                format!("probe header `{text}`: Kubernetes takes header names of letters, digits and `-` only (`IsHTTPHeaderName`), so the API server would refuse the probe"),
                "name the header with `-` instead of `_` (and read it so in the workload), or probe with `exec`",
            );
            return false;
        }
        match host.filter(|_| text.eq_ignore_ascii_case("host")) {
            Some(host) => {
                self.diags.push(
                    Diagnostic::error(
                        Code::SCORE_UNSUPPORTED,
                        name.span,
                        "the probe's host is given twice: by `host` and by a `Host` header",
                    )
                    .with_related(host.key_span, "`host`, which is the `Host` header")
                    .with_hint("keep one of the two"),
                );
                false
            }
            None => true,
        }
    }

    /// `service.ports`, each with the protocol the side file gives it or
    /// its name implies.
    fn service(&mut self, service: &Entry, side: Option<&Node>) -> Entry {
        for e in side.map(entries_of).unwrap_or_default() {
            if e.key != "ports" {
                self.diags.push(
                    Diagnostic::error(
                        Code::INVALID_SIDE_FILE,
                        e.key_span,
                        format!(
                            "the side file's `service` sets ports' protocols only, not `{}`",
                            e.key
                        ),
                    )
                    .with_hint("write `service: {ports: {<name>: {protocol: GRPC}}}`"),
                );
            }
        }
        let side_ports = side.and_then(|s| s.get("ports"));
        let score_ports = service.value.get("ports");
        for p in side_ports.map(entries_of).unwrap_or_default() {
            if score_ports.and_then(|s| s.get(&p.key)).is_none() {
                let known = score_ports.map(entries_of).unwrap_or_default();
                let diag = Diagnostic::error(
                    Code::INVALID_SIDE_FILE,
                    p.key_span,
                    format!(
                        "the side file sets port `{}`, which the Score workload does not have",
                        p.key
                    ),
                );
                self.diags.push(match did_you_mean(&p.key, known.iter().map(|e| e.key.as_str())) {
                    Some(hint) => diag.with_hint(hint),
                    None => diag.with_hint("the side file sets the protocol of the Score workload's ports, nothing else"),
                });
            }
        }
        let mut out = Vec::new();
        if let Some(ports) = service.value.entry("ports") {
            let translated = entries_of(&ports.value)
                .iter()
                .map(|p| {
                    let side = side_ports.and_then(|s| s.get(&p.key));
                    entry(&p.key, p.key_span, self.port(p, side))
                })
                .collect();
            out.push(entry(
                "ports",
                ports.key_span,
                map(ports.value.span, translated),
            ));
        }
        entry("service", service.key_span, map(service.value.span, out))
    }

    fn port(&mut self, port: &Entry, side: Option<&Node>) -> Node {
        let mut out = Vec::new();
        for e in entries_of(&port.value) {
            match e.key.as_str() {
                "port" | "targetPort" => out.push(entry(&e.key, e.key_span, copy(&e.value))),
                // Istio proxies TCP only ("Protocol Selection",
                // https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/:
                // "Istio supports proxying any TCP traffic"; UDP is not
                // proxied), and slipway's Services, NetworkPolicies and
                // AuthorizationPolicies carry TCP ports.
                "protocol" if e.value.as_str() == Some("UDP") => self.refuse(
                    e.value.span,
                    format!("port `{}` is UDP, which slipway does not serve: Istio's sidecars proxy TCP only, and its Services and policies carry TCP", port.key),
                    "serve the port over TCP, or run the workload outside slipway",
                ),
                _ => {}
            }
        }
        for e in side.map(entries_of).unwrap_or_default() {
            if e.key != "protocol" {
                self.diags.push(
                    Diagnostic::error(
                        Code::INVALID_SIDE_FILE,
                        e.key_span,
                        format!("the side file sets `{}` of port `{}`, which the Score workload says", e.key, port.key),
                    )
                    .with_hint("the side file sets a port's `protocol` only: change the rest in the Score file"),
                );
            }
        }
        let protocol = match side.and_then(|s| s.entry("protocol")) {
            Some(p) => entry("protocol", p.key_span, copy(&p.value)),
            None => entry(
                "protocol",
                port.key_span,
                string(port.key_span, self.implied_protocol(&port.key)),
            ),
        };
        out.push(protocol);
        map(port.value.span, out)
    }

    /// A port's protocol by its name (Istio's rule), but HTTP for a port a
    /// `route` resource targets whose name says TCP: score-k8s' `route`
    /// provisioner routes HTTP to it (a Gateway API `HTTPRoute`), and
    /// slipway's gateway routes are HTTP routes.
    fn implied_protocol(&self, name: &str) -> &'static str {
        match protocol_of(name) {
            "TCP" if self.routed_port(name) => "HTTP",
            protocol => protocol,
        }
    }

    /// Whether a `route` resource names this port (by name or number).
    fn routed_port(&self, name: &str) -> bool {
        let routes = self.resources_node.map(entries_of).unwrap_or_default();
        routes
            .iter()
            .filter(|r| r.value.get("type").and_then(Node::as_str) == Some("route"))
            .filter_map(|r| r.value.get("params")?.get("port"))
            .any(|port| self.port_named(port).is_some_and(|p| p.key == name))
    }

    /// The service port a route's `port` names: by name, or by its `port`
    /// number.
    fn port_named(&self, port: &Node) -> Option<&Entry> {
        let name = written(port);
        self.ports
            .iter()
            .find(|p| p.key == name || p.value.get("port").map(written).as_ref() == Some(&name))
    }

    /// `resources`: data stores become dependencies; the rest is refused.
    fn dependencies(&mut self, resources: &Entry) -> Entry {
        let mut out = Vec::new();
        for r in entries_of(&resources.value) {
            let Some(kind) = r.value.entry("type") else {
                continue;
            };
            let name = kind.value.as_str().unwrap_or_default();
            match name {
                "dns" => {
                    self.dns_resource(r);
                    continue;
                }
                "route" => {
                    if let Some(route) = self.route(r) {
                        self.routes.push(route);
                    }
                    continue;
                }
                "volume" => {
                    self.volume_declared(r);
                    continue;
                }
                "service" => {
                    self.service_declared(r);
                    continue;
                }
                _ => {}
            }
            if store_kind(name).is_none() {
                let (why, hint) = other_resource(name);
                self.refuse(
                    kind.value.span,
                    format!("resource `{}` is of type `{name}`, {why}", r.key),
                    hint,
                );
                continue;
            }
            let mut dependency = vec![entry("type", kind.key_span, copy(&kind.value))];
            for e in entries_of(&r.value) {
                match e.key.as_str() {
                    "type" => {}
                    "id" => dependency.push(entry("dataStore", e.key_span, copy(&e.value))),
                    "class" => self.refuse(
                        e.key_span,
                        "a resource's `class`: the overlay's data store says what the resource is".into(),
                        "remove `class`; `id` names the data store of the overlay's `environment.dataStores`",
                    ),
                    other => self.refuse(
                        e.key_span,
                        format!("a resource's `{other}`: slipway provisions nothing, the overlay's data store says where it is and what it is"),
                        "remove it, and describe the data store in the overlay's `environment.dataStores`",
                    ),
                }
            }
            out.push(entry(&r.key, r.key_span, map(r.value.span, dependency)));
        }
        entry(
            "dependencies",
            resources.key_span,
            map(resources.value.span, out),
        )
    }

    /// A `volume` resource: an emptyDir where a container mounts it, as
    /// score-k8s' default `volume` provisioner makes it, which takes no
    /// params, class or id.
    fn volume_declared(&mut self, r: &Entry) {
        for e in entries_of(&r.value) {
            if e.key != "type" {
                self.refuse(
                    e.key_span,
                    format!("a `volume` resource's `{}`: slipway's volume is an emptyDir of the pod, which takes none", e.key),
                    "remove it; storage that outlives the pod is the platform's, outside slipway",
                );
            }
        }
    }

    /// A `service` resource: another workload, which names it by its
    /// `id` or its own name, as the community provisioner reads it; it
    /// takes no params, and a `class` would choose another provisioner.
    fn service_declared(&mut self, r: &Entry) {
        for e in entries_of(&r.value) {
            match e.key.as_str() {
                "type" => {}
                "id" => {
                    let workload = self.services.get(&r.key).cloned().unwrap_or_default();
                    if let Err(reason) = crate::names::dns1123_label(&workload, 63) {
                        self.refuse(
                            e.value.span,
                            format!("`service` resource `{}` names workload `{workload}`, which is no service name: {reason}", r.key),
                            "write the called workload's `metadata.name` as `id`",
                        );
                    }
                }
                other => self.refuse(
                    e.key_span,
                    format!("a `service` resource's `{other}`: it names a workload (by `id`, else its own name) and takes nothing else"),
                    "remove it",
                ),
            }
        }
        let workload = self.services.get(&r.key).cloned().unwrap_or_default();
        if !self.read_services.contains(&r.key) {
            // score-k8s' provisioner fails on a workload that does not
            // exist, read or not; slipway checks the call where `name` is
            // read, as an `endpoint()` call, and admits nothing by itself.
            self.diags.push(
                Diagnostic::warning(
                    Code::SCORE_IGNORED,
                    r.key_span,
                    format!("`service` resource `{}` is read by no placeholder, so slipway neither checks that workload `{workload}` exists nor sees this workload call it", r.key),
                )
                .with_hint(format!("read its host as `${{resources.{}.name}}` where the workload connects to it, or remove it; either way `{workload}` must list this workload in its `mesh.allowFrom` to be reached", r.key)),
            );
        }
        if r.value.get("id").is_none() && crate::names::dns1123_label(&workload, 63).is_err() {
            self.refuse(
                r.key_span,
                format!(
                    "`service` resource `{}` names itself a workload, which is no service name",
                    r.key
                ),
                "name the resource after the called workload, or give its name as `id`",
            );
        }
    }

    /// A `dns` resource: a host for the workload, which slipway does not
    /// provision but takes from the environment, `<name>.<env.domain>`
    /// (score-k8s' default `dns` provisioner, `zz-default.provisioners.yaml`,
    /// makes up a `*.localhost` name and says to replace it with the
    /// platform's own naming). One per workload: a second would be the
    /// same name, where Score gives each its own.
    fn dns_resource(&mut self, r: &Entry) {
        if self.dns.as_deref() != Some(r.key.as_str()) {
            self.refuse(
                r.key_span,
                format!("resource `{}` is a second `dns`: slipway's host for a workload is its name in the environment's domain, one name", r.key),
                "use one `dns` resource, or give further hosts as routes in the side file",
            );
        }
        for e in entries_of(&r.value) {
            if e.key != "type" {
                self.refuse(
                    e.key_span,
                    format!("a `dns` resource's `{}`: slipway provisions no name, the workload's host is `<name>.<env.domain>`", e.key),
                    "remove it; a host of another form goes in the side file's `routes`",
                );
            }
        }
    }

    /// A `route` resource: a gateway route of the service, with the params
    /// of score-k8s' default `route` provisioner (`host`, `path`, `port`:
    /// a service port's name or number, as its `WorkloadServices` ports
    /// are keyed by both, `internal/provisioners/core.go`).
    fn route(&mut self, r: &Entry) -> Option<Node> {
        let mut ok = true;
        for e in entries_of(&r.value) {
            if !matches!(e.key.as_str(), "type" | "params") {
                self.refuse(
                    e.key_span,
                    format!("a `route` resource's `{}`: slipway's routes are the service's own, on the environment's gateway", e.key),
                    "remove it",
                );
                ok = false;
            }
        }
        let params = r.value.get("params");
        let mut out = Vec::new();
        for key in ["host", "path", "port"] {
            if params.and_then(|p| p.get(key)).is_none() {
                self.refuse(
                    params.map_or(r.key_span, |p| p.span),
                    format!(
                        "route `{}` has no `params.{key}`: a route needs `host`, `path` and `port`",
                        r.key
                    ),
                    "write `params: {host: ..., path: /, port: <service port>}`",
                );
                ok = false;
            }
        }
        for e in params.map(entries_of).unwrap_or_default() {
            match e.key.as_str() {
                "host" => {
                    let host = self.expand(&e.value, Place::Route);
                    out.push(entry("host", e.key_span, string(e.value.span, host)));
                }
                "path" => ok &= self.route_path(e),
                "port" => match self.route_port(&e.value) {
                    Some(port) => out.push(entry("port", e.key_span, string(e.value.span, port))),
                    None => ok = false,
                },
                other => {
                    self.refuse(
                        e.key_span,
                        format!("a route's `params.{other}`: a route takes `host`, `path` and `port`"),
                        "remove it; timeouts, retries and header matches go in the side file's `routes`",
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| map(r.value.span, out))
    }

    /// A route's `path`: `/`, every path. score-k8s matches it as a Gateway
    /// API `PathPrefix`, by path elements (`/api` matches `/api/x`, not
    /// `/apis`); slipway's `pathPrefix` is Istio's `uri.prefix`, a string
    /// prefix, so only `/` means the same in both.
    fn route_path(&mut self, path: &Entry) -> bool {
        if path.value.as_str() == Some("/") {
            return true;
        }
        self.refuse(
            path.value.span,
            "a route's `path` other than `/`: score-k8s matches it by path elements (Gateway API `PathPrefix`), slipway's routes by string prefix (Istio `uri.prefix`), which would also match `<path>x`".into(),
            "use `path: /`, or write the route in the side file's `routes` with a `pathPrefix` (a string prefix, `/api/` for what is under `/api`)",
        );
        false
    }

    /// The service port a route names, by name or by `port` number.
    fn route_port(&mut self, port: &Node) -> Option<String> {
        if let Some(p) = self.port_named(port) {
            return Some(p.key.clone());
        }
        let written = written(port);
        let names: Vec<&str> = self.ports.iter().map(|p| p.key.as_str()).collect();
        self.refuse(
            port.span,
            format!("a route to port `{written}`, which is neither the name nor the number of a port of the workload's `service`"),
            &if names.is_empty() {
                "give the workload a `service.ports` entry for the route".to_owned()
            } else {
                format!("its ports are {}", names.join(", "))
            },
        );
        None
    }

    /// The side file's blueprint sections, as written (the blueprint's
    /// schema checks them); what Score says is refused.
    fn side_sections(&mut self, side: &Node) -> Vec<Entry> {
        let mut out = Vec::new();
        for e in entries_of(side) {
            match e.key.as_str() {
                "apiVersion" | "kind" | "metadata" | "service" => {}
                key => match SCORE_SECTIONS.iter().find(|(k, _)| *k == key) {
                    Some((_, score)) => self.diags.push(
                        Diagnostic::error(
                            Code::INVALID_SIDE_FILE,
                            e.key_span,
                            format!("`{key}` is the Score workload's to say (its `{score}`)"),
                        )
                        .with_hint(format!("write it in the Score file's `{score}`, or patch it per environment in an overlay")),
                    ),
                    None => out.push(e.clone()),
                },
            }
        }
        out
    }

    /// A string with its placeholders expanded for `place`, as a template
    /// that renders to it (the blueprint's strings are templates).
    fn expand(&mut self, node: &Node, place: Place) -> String {
        let text = node.as_str().unwrap_or_default();
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&escape(&rest[..at]));
            let after = &rest[at + 1..];
            let close = |from: &str| from.starts_with('{').then(|| from.find('}')).flatten();
            if let Some(end) = after.strip_prefix('$').and_then(&close) {
                // `$${...}`: the placeholder's text, unexpanded.
                out.push_str(&escape(&after[..=end + 1]));
                rest = &after[end + 2..];
            } else if let Some(stripped) = after.strip_prefix('$') {
                out.push('$');
                rest = stripped;
            } else if let Some(end) = close(after) {
                let reference = &after[1..end];
                out.push_str(&self.resolve(reference, node, place));
                rest = &after[end + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(&escape(rest));
        out
    }

    /// One placeholder's value (as template text), or an error at it.
    fn resolve(&mut self, reference: &str, node: &Node, place: Place) -> String {
        let parts = split_reference(reference);
        let text = &self.read.sources.get(node.span.file).text;
        let span = placeholder_span(node, text, reference);
        if let (Some("resources"), Some(name)) = (parts.first().map(String::as_str), parts.get(1)) {
            if self.services.contains_key(name) {
                self.read_services.insert(name.clone());
            }
        }
        let found = match parts.first().map(String::as_str) {
            Some("metadata") if parts.len() > 1 => self.metadata_value(&parts[1..]),
            // A resource of a type slipway refuses: refused at its `type`
            // once, not again at each placeholder that reads it.
            Some("resources") if parts.len() > 1 && self.refused_type(&parts[1]) => {
                return String::new();
            }
            Some("resources") if parts.len() > 1 => match self.resource_output(&parts, place) {
                Ok(text) => return text,
                Err((message, hint)) => {
                    self.diags.push(
                        Diagnostic::error(Code::UNKNOWN_PLACEHOLDER, span, message).with_hint(hint),
                    );
                    return String::new();
                }
            },
            _ => None,
        };
        found.unwrap_or_else(|| {
            self.diags.push(
                Diagnostic::error(
                    Code::UNKNOWN_PLACEHOLDER,
                    span,
                    format!("placeholder `${{{reference}}}` names nothing slipway knows"),
                )
                .with_hint("placeholders are `${metadata.<key>}` (`${metadata.annotations.<key>}`, `\\.` for a dot in a key) and `${resources.<name>.<output>}`; write `$$` for a `$`"),
            );
            String::new()
        })
    }

    /// Whether the workload declares resource `name` with a type slipway
    /// refuses (`other_resource`).
    fn refused_type(&self, name: &str) -> bool {
        let kind = self
            .resources_node
            .and_then(|r| r.get(name))
            .and_then(|r| r.get("type"))
            .and_then(Node::as_str);
        kind.is_some_and(|k| !TRANSLATED_TYPES.contains(&k))
    }

    /// `${metadata.a.b}`: a string as it is, anything else as JSON (as
    /// score-go's `BuildSubstitutionFunction` marshals it).
    fn metadata_value(&self, keys: &[String]) -> Option<String> {
        let mut node = self.metadata;
        for key in keys {
            node = node.get(key)?;
        }
        Some(escape(&match node.as_str() {
            Some(text) => text.to_owned(),
            None => node.to_json().to_string(),
        }))
    }

    /// `${resources.<name>.<output>}` of a data store: the variable the
    /// dependency sets in the main container, `$(<NAME>_<OUTPUT>)`, which
    /// the kubelet expands (a password stays a secret's value, read by
    /// `secretKeyRef`, never a literal). Outputs are score-k8s' default
    /// provisioners' (`postgres`: host, port, name, database, username,
    /// password; `redis`: host, port, username, password), and slipway's
    /// `read_host`.
    fn resource_output(&self, parts: &[String], place: Place) -> Result<String, (String, String)> {
        let name = &parts[1];
        if self.dns.as_ref() == Some(name) {
            return self.dns_output(name, &parts[2..]);
        }
        if let Some(workload) = self.services.get(name) {
            return service_output(name, workload, &parts[2..], place);
        }
        let Some(resource) = self.resources.get(name) else {
            let known = self.resources.keys().chain(self.services.keys());
            let hint = did_you_mean(name, known.map(String::as_str)).unwrap_or_else(|| {
                "name a `postgres`, `redis` or `service` resource of this workload's `resources`".into()
            });
            return Err((
                format!(
                    "placeholder names resource `{name}`, which is no data store or `service` of this workload"
                ),
                hint,
            ));
        };
        let outputs: &[(&str, &str)] = match resource.kind {
            StoreKind::Postgres => &[
                ("host", "HOST"),
                ("read_host", "READ_HOST"),
                ("port", "PORT"),
                ("name", "NAME"),
                ("database", "NAME"),
                ("username", "USERNAME"),
                ("password", "PASSWORD"),
            ],
            StoreKind::Redis => &[
                ("host", "HOST"),
                ("read_host", "READ_HOST"),
                ("port", "PORT"),
                ("username", "USERNAME"),
                ("password", "PASSWORD"),
            ],
        };
        let output = parts.get(2).filter(|_| parts.len() == 3);
        let Some((_, suffix)) = output.and_then(|o| outputs.iter().find(|(k, _)| k == o)) else {
            let known: Vec<&str> = outputs.iter().map(|(k, _)| *k).collect();
            return Err((
                no_output(name, &parts[2..]),
                format!("its outputs are {}", known.join(", ")),
            ));
        };
        match place {
            Place::MainVariable => Ok(format!("$({}_{suffix})", prefix(name))),
            Place::Variable => Err((
                format!("a resource's output in a variable of a container other than the main one: slipway sets `{name}`'s connection in the main container only"),
                "move the variable to the main (first) container".into(),
            )),
            Place::File => Err((
                format!("a resource's output in a file: slipway gives `{name}`'s connection to the main container as variables, and nothing expands them in a file"),
                "read the connection from the main container's variables (`<NAME>_HOST`, ...), or set `noExpand: true` to keep the text".into(),
            )),
            Place::Route => Err((
                format!("a route's host from data store `{name}`, which is no host the gateway serves"),
                "a route's host is text or `${resources.<dns>.host}`".into(),
            )),
        }
    }

    /// `${resources.<dns>.host}`: the workload's name in the environment's
    /// domain, as a template of `env.domain`.
    fn dns_output(&self, name: &str, output: &[String]) -> Result<String, (String, String)> {
        if output != ["host"] {
            return Err((
                no_output(name, output),
                "a `dns` resource's output is `host`".into(),
            ));
        }
        let workload = self
            .metadata
            .get("name")
            .and_then(Node::as_str)
            .unwrap_or_default();
        Ok(format!("{}.{{{{ env.domain }}}}", escape(workload)))
    }
}

/// Why a placeholder of resource `name` reads none of its outputs:
/// `output` is what follows the resource's name, perhaps nothing.
fn no_output(name: &str, output: &[String]) -> String {
    if output.is_empty() {
        return format!("`${{resources.{name}}}` names no output of resource `{name}`");
    }
    format!("resource `{name}` has no output `{}`", output.join("."))
}

/// `${resources.<service>.name}`: the host of the workload a `service`
/// resource names, `{{ endpoint('<workload>') }}`, its Service in the
/// environment (score-k8s' community `service` provisioner outputs the
/// workload's Service name, `name`, its one output; slipway's namespaces are
/// per team, so the host is the Service's full name).
fn service_output(
    name: &str,
    workload: &str,
    output: &[String],
    place: Place,
) -> Result<String, (String, String)> {
    if output != ["name"] {
        return Err((
            no_output(name, output),
            "a `service` resource's output is `name`, the host of the workload it names".into(),
        ));
    }
    if place == Place::Route {
        return Err((
            format!(
                "a route's host from `service` resource `{name}`, another workload's host inside the cluster, which the gateway does not serve"
            ),
            "a route's host is text or `${resources.<dns>.host}`".into(),
        ));
    }
    Ok(format!("{{{{ endpoint('{workload}') }}}}"))
}

/// The prefix of a dependency's variables (`model::data_stores::prefix`):
/// its name in capitals, `-` as `_`.
fn prefix(dependency: &str) -> String {
    dependency.to_ascii_uppercase().replace('-', "_")
}

/// The resource types slipway translates; `other_resource` says why the
/// rest are refused.
const TRANSLATED_TYPES: [&str; 6] = ["postgres", "redis", "dns", "route", "volume", "service"];

/// Why a resource of another type is refused, and what to use instead.
fn other_resource(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "service-port" => (
            "which slipway does not provide as a resource",
            "remove it and set the variable in an overlay's `services.<name>` as `{{ endpoint('<service>', '<port>') }}`",
        ),
        // score-spec/community-provisioners `endpoint/score-k8s`: another
        // workload's URL if it exists, else a Microcks mock it imports.
        "endpoint" => (
            "which slipway does not provide: it mocks no workload, and a workload that exists is a `service` resource",
            "to call another workload, declare `{type: service}` and read its host as `${resources.<name>.name}`",
        ),
        "environment" => (
            "which slipway does not provide: an environment's values are its overlay's",
            "remove it and set the variables per environment in the overlay's `services.<name>`",
        ),
        _ => (
            "which slipway does not provide: its resources are the data stores `postgres` and `redis`, and `dns`, `route`, `service` and `volume`",
            "use one of those types, or pass the address as a variable set per environment in the overlay",
        ),
    }
}

/// Istio's protocol selection by port name: `<protocol>[-<suffix>]`
/// (istio/istio `pkg/config/kube/conversion.go` `ConvertProtocol`: a
/// `grpc-web` prefix first, else the name up to its first `-`,
/// case-insensitive); of the protocols slipway renders, HTTP, HTTP2 and
/// GRPC, else TCP. gRPC-Web is HTTP/1.1 or HTTP/2 that Istio routes as
/// HTTP, so it is HTTP here (not GRPC, which would expect HTTP/2 only).
pub fn protocol_of(port_name: &str) -> &'static str {
    let lower = port_name.to_ascii_lowercase();
    if lower.starts_with("grpc-web") {
        return "HTTP";
    }
    match lower.split('-').next().unwrap_or_default() {
        "http" => "HTTP",
        "http2" => "HTTP2",
        "grpc" => "GRPC",
        _ => "TCP",
    }
}

/// A reference's parts: split at `.`, where `\.` is a dot inside a part
/// (score-go `SplitRefParts`).
fn split_reference(reference: &str) -> Vec<String> {
    reference
        .replace("\\.", "\0")
        .split('.')
        .map(|part| part.replace('\0', "."))
        .collect()
}

/// The span of `${reference}` in a scalar, where its source text holds
/// it as written; else the scalar's.
fn placeholder_span(node: &Node, text: &str, reference: &str) -> Span {
    let span = node.span;
    let written = format!("${{{reference}}}");
    let source = text
        .get(span.start as usize..span.end as usize)
        .unwrap_or_default();
    match (source.find(&written), u32::try_from(written.len())) {
        (Some(at), Ok(len)) => {
            let start = span.start + u32::try_from(at).unwrap_or_default();
            Span {
                file: span.file,
                start,
                end: start + len,
            }
        }
        _ => span,
    }
}

/// Text as a template that renders to exactly it: every `{` that would
/// open a tag (`{{`, `{%`, `{#`) is written as the expression `{{ '{' }}`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{' && matches!(chars.peek(), Some('{' | '%' | '#')) {
            out.push_str("{{ '{' }}");
        } else {
            out.push(c);
        }
    }
    out
}

/// A tree with every string escaped ([`escape`]), spans kept.
fn copy(node: &Node) -> Node {
    let value = match &node.value {
        Value::Scalar(s) if s.kind == ScalarKind::Str => Value::Scalar(Scalar {
            text: escape(&s.text),
            kind: ScalarKind::Str,
        }),
        Value::Scalar(s) => Value::Scalar(s.clone()),
        Value::Seq(items) => Value::Seq(items.iter().map(copy).collect()),
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|e| entry(&e.key, e.key_span, copy(&e.value)))
                .collect(),
        ),
    };
    Node {
        span: node.span,
        value,
    }
}

/// A scalar as written: a string as it is, a number as its digits.
fn written(node: &Node) -> String {
    node.as_str()
        .map_or_else(|| node.to_json().to_string(), str::to_owned)
}

fn entries_of(node: &Node) -> &[Entry] {
    node.as_map().unwrap_or(&[])
}

fn entries<'a>(node: &'a Node, key: &str) -> &'a [Entry] {
    node.get(key).map_or(&[], entries_of)
}

fn entry(key: &str, key_span: Span, value: Node) -> Entry {
    Entry {
        key: key.to_owned(),
        key_span,
        value,
    }
}

fn string(span: Span, text: impl Into<String>) -> Node {
    Node {
        span,
        value: Value::Scalar(Scalar {
            text: text.into(),
            kind: ScalarKind::Str,
        }),
    }
}

fn map(span: Span, entries: Vec<Entry>) -> Node {
    Node {
        span,
        value: Value::Map(entries),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use crate::source::Sources;

    /// A Score workload's translation, as YAML-ish text of the result's
    /// JSON, and the diagnostics' messages.
    fn translate(text: &str) -> (Option<serde_json::Value>, Vec<String>) {
        let mut sources = Sources::default();
        let id = sources.add("blueprints/w.yaml".into(), "w.yaml".into(), text.into());
        let tree = parse(sources.get(id), id).expect("YAML");
        let mut diags = Vec::new();
        let read = Read {
            workload: "blueprints/w.yaml",
            sources: &sources,
            attached: &Attached::new(),
        };
        let out = blueprint(&tree, None, &read, &mut diags);
        (
            out.map(|n| n.to_json()),
            diags.into_iter().map(|d| d.message).collect(),
        )
    }

    fn variable(value: &str) -> (Option<String>, Vec<String>) {
        let text = format!(
            "apiVersion: score.dev/v1b1\nmetadata: {{name: w, tier: {{level: 2}}}}\ncontainers:\n  main:\n    image: i:1\n    variables: {{V: '{value}'}}\nresources:\n  db: {{type: postgres}}\n"
        );
        let (tree, diags) = translate(&text);
        let value = tree.map(|t| {
            t["containers"]["main"]["variables"]["V"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        });
        (value, diags)
    }

    #[test]
    fn placeholders_follow_score_gos_grammar() {
        assert_eq!(variable("${metadata.name}").0.as_deref(), Some("w"));
        assert_eq!(variable("$$").0.as_deref(), Some("$"));
        assert_eq!(
            variable("$${metadata.name}").0.as_deref(),
            Some("${metadata.name}")
        );
        assert_eq!(variable("a $ b ${ c").0.as_deref(), Some("a $ b ${ c"));
        assert_eq!(
            variable("${metadata.tier}").0.as_deref(),
            Some(r#"{"level":2}"#)
        );
        assert_eq!(variable("${metadata.tier.level}").0.as_deref(), Some("2"));
        assert_eq!(
            variable("${resources.db.host}:${resources.db.port}")
                .0
                .as_deref(),
            Some("$(DB_HOST):$(DB_PORT)")
        );
        let (value, diags) = variable("${metadata}");
        assert_eq!((value, diags.len()), (None, 1));
        let (_, diags) = variable("${resources.db}");
        assert!(diags[0].contains("no output"), "{diags:?}");
    }

    #[test]
    fn score_text_is_never_a_template() {
        assert_eq!(
            escape("{{ x }} {% y %} {# z #} { a }"),
            "{{ '{' }}{ x }} {{ '{' }}% y %} {{ '{' }}# z #} { a }"
        );
        assert_eq!(escape("{{{"), "{{ '{' }}{{ '{' }}{");
        assert_eq!(
            variable("{{ env.name }}").0.as_deref(),
            Some("{{ '{' }}{ env.name }}")
        );
    }

    #[test]
    fn a_probe_runs_its_http_get_and_sends_its_host_as_a_header() {
        let text = "apiVersion: score.dev/v1b1\nmetadata: {name: w}\ncontainers:\n  main:\n    image: i:1\n    livenessProbe:\n      httpGet: {host: a.example, port: 80, path: /, httpHeaders: [{name: X-A, value: b}]}\n      exec: {command: [/bin/true]}\n";
        let (tree, diags) = translate(text);
        let probe = &tree.expect("translated")["containers"]["main"]["livenessProbe"];
        assert_eq!(probe.get("exec"), None);
        assert_eq!(
            probe["httpGet"]["httpHeaders"],
            serde_json::json!([{"name": "X-A", "value": "b"}, {"name": "Host", "value": "a.example"}])
        );
        assert_eq!(probe["httpGet"].get("host"), None);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].contains("`exec` is left out"), "{diags:?}");
    }

    #[test]
    fn references_split_at_unescaped_dots() {
        assert_eq!(
            split_reference(r"metadata.annotations.a\.b/c"),
            ["metadata", "annotations", "a.b/c"]
        );
    }

    #[test]
    fn protocols_follow_the_port_name_as_istio_reads_it() {
        for (name, protocol) in [
            ("http", "HTTP"),
            ("http-web", "HTTP"),
            ("HTTP-admin", "HTTP"),
            ("http2", "HTTP2"),
            ("grpc-web", "HTTP"),
            ("grpc-api", "GRPC"),
            ("https", "TCP"),
            ("web", "TCP"),
            ("httpx", "TCP"),
        ] {
            assert_eq!(protocol_of(name), protocol, "{name}");
        }
    }
}
