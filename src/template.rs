//! minijinja over string fields, strict: an undefined variable is an error
//! at the file and line of the template, never an empty string. A template
//! renders to a string value, so it can never inject YAML structure.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Enumerator, Object, Value as Jinja, ValueKind, from_args};
use minijinja::{Environment, ErrorKind, State, UndefinedBehavior, context};
use serde::Serialize;

use crate::diag::{Code, Diagnostic};
use crate::input;
use crate::node::de::Spanned;
use crate::node::{Node, ScalarKind, Value};
use crate::source::Span;
use crate::suggest::did_you_mean;

/// The fields of an overlay's `environment` that are templates, the ones
/// [`Templates::scope`] expands; the others are read as written (and
/// `crate::validate` refuses template syntax in them).
pub const ENVIRONMENT_TEMPLATES: [&str; 3] = ["namespace", "domain", "gateway"];

/// Bound on the work one template may do (loops, filters).
const FUEL: u64 = 50_000;

/// `service.*` in templates.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceScope {
    pub name: String,
    pub team: String,
}

/// `env.*` in templates; fields not yet known are left out, so using them is an error.
#[derive(Clone, Debug, Serialize)]
pub struct EnvScope {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

/// `region.*` in templates.
#[derive(Clone, Debug, Serialize)]
pub struct RegionScope {
    pub name: String,
    pub cluster: String,
    pub primary: bool,
}

/// Everything a template can see.
#[derive(Clone, Debug, Serialize)]
pub struct Scope {
    pub service: ServiceScope,
    pub env: EnvScope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionScope>,
    /// The services `endpoint(service, port)` finds: the region's, for a
    /// service's own fields; none for the environment's fields.
    #[serde(skip)]
    pub endpoints: Option<Arc<Directory>>,
}

/// The services of one (environment, region) as `endpoint()` sees them.
#[derive(Debug, Default)]
pub struct Directory {
    pub region: String,
    /// The services the region runs; `None` where the service's own
    /// namespace template or ports are in error (reported for it).
    pub services: BTreeMap<String, Option<Listing>>,
    /// Services with a blueprint that the region does not run (its `only`).
    pub elsewhere: BTreeSet<String>,
}

/// Where a service of the region answers.
#[derive(Debug)]
pub struct Listing {
    /// Its namespace template, rendered for it.
    pub namespace: String,
    pub ports: Vec<ListedPort>,
}

/// A service port, as callers reach it.
#[derive(Debug)]
pub struct ListedPort {
    pub name: String,
    pub port: u16,
    /// HTTP or HTTP2 (h2c): `endpoint()` renders an `http://` URL.
    pub url: bool,
}

/// One `endpoint(service, port)` (or `endpoint(service)`) a template
/// called, at the span of the string that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub span: Span,
    pub service: String,
    /// The port it names; `None` for the service's host alone.
    pub port: Option<String>,
}

/// A strict template engine.
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Name the undefined variable in release builds too (minijinja
        // turns its debug info off without debug assertions).
        env.set_debug(true);
        env.set_fuel(Some(FUEL));
        // Keep the text as written: minijinja drops a template's final
        // newline by default, so a templated file would lose it where the
        // same text without a template keeps it.
        env.set_syntax(
            SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                // The default delimiters always build.
                .unwrap_or_default(),
        );
        // Booleans print as YAML and Kubernetes write them, not Python's `True`.
        env.set_formatter(|out, state, value| match value.kind() {
            ValueKind::Bool => out
                .write_str(if value.is_true() { "true" } else { "false" })
                .map_err(Into::into),
            _ => minijinja::escape_formatter(out, state, value),
        });
        Self { env }
    }
}

/// Does this text contain template syntax?
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

impl Templates {
    /// Render one string found at `span`.
    pub fn render(&self, text: &str, span: Span, scope: &Scope) -> Result<String, Diagnostic> {
        self.render_calling(text, span, scope).map(|(text, _)| text)
    }

    /// Render one string found at `span`, with the `endpoint()` calls it made.
    fn render_calling(
        &self,
        text: &str,
        span: Span,
        scope: &Scope,
    ) -> Result<(String, Vec<Reference>), Diagnostic> {
        if !is_template(text) {
            return Ok((text.to_owned(), Vec::new()));
        }
        let values = Jinja::from(minijinja::value::Serde(scope));
        let Some(directory) = &scope.endpoints else {
            return self
                .env
                .render_str(text, values)
                .map(|text| (text, Vec::new()))
                .map_err(|e| error(&e, span, scope));
        };
        let endpoint = Arc::new(EndpointFn {
            directory: Arc::clone(directory),
            calls: Mutex::default(),
        });
        let rendered = self
            .env
            .render_str(
                text,
                context! { endpoint => Jinja::from_dyn_object(Arc::clone(&endpoint)), ..values },
            )
            .map_err(|e| error(&e, span, scope))?;
        let calls = std::mem::take(
            &mut *endpoint
                .calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let references = calls
            .into_iter()
            .map(|(service, port)| Reference {
                span,
                service,
                port,
            })
            .collect();
        Ok((rendered, references))
    }

    /// Render every template string in a tree, in place; one diagnostic per
    /// failing string. Returns the `endpoint()` calls, in tree order.
    pub fn expand(
        &self,
        tree: &mut Node,
        scope: &Scope,
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<Reference> {
        let mut references = Vec::new();
        self.expand_into(tree, scope, diags, &mut references);
        references
    }

    fn expand_into(
        &self,
        tree: &mut Node,
        scope: &Scope,
        diags: &mut Vec<Diagnostic>,
        references: &mut Vec<Reference>,
    ) {
        match &mut tree.value {
            Value::Scalar(s) if s.kind == ScalarKind::Str && is_template(&s.text) => {
                match self.render_calling(&s.text, tree.span, scope) {
                    Ok((text, calls)) => {
                        s.text = text;
                        references.extend(calls);
                    }
                    Err(diag) => diags.push(diag),
                }
            }
            Value::Scalar(_) => {}
            Value::Seq(items) => items
                .iter_mut()
                .for_each(|n| self.expand_into(n, scope, diags, references)),
            Value::Map(entries) => entries
                .iter_mut()
                .for_each(|e| self.expand_into(&mut e.value, scope, diags, references)),
        }
    }
}

/// `endpoint(service, port)`: another service's address in this region,
/// recording each call; `endpoint(service)`: its host.
#[derive(Debug)]
struct EndpointFn {
    directory: Arc<Directory>,
    calls: Mutex<Vec<(String, Option<String>)>>,
}

impl Object for EndpointFn {
    fn call(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        args: &[Jinja],
    ) -> Result<Jinja, minijinja::Error> {
        let (service, port): (&str, Option<&str>) = from_args(args)?;
        let endpoint = self.directory.endpoint(service, port).map_err(|e| {
            minijinja::Error::new(ErrorKind::InvalidOperation, e.to_string()).with_source(e)
        })?;
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((service.to_owned(), port.map(str::to_owned)));
        Ok(Jinja::from_object(endpoint))
    }
}

/// What `endpoint()` returns: it renders as `http://<host>:<port>` for an
/// HTTP or HTTP2 port and as `<host>:<port>` otherwise (GRPC, TCP), and has
/// `.host`, `.port` and `.address` (`<host>:<port>`). Without a port (the
/// call named none) it renders as the host and has `.host` only.
#[derive(Debug)]
struct Endpoint {
    host: String,
    port: Option<u16>,
    url: bool,
}

impl Endpoint {
    fn address(&self) -> Option<String> {
        self.port.map(|port| format!("{}:{port}", self.host))
    }
}

impl Object for Endpoint {
    fn get_value(self: &Arc<Self>, key: &Jinja) -> Option<Jinja> {
        match key.as_str()? {
            "host" => Some(Jinja::from(self.host.as_str())),
            "port" => self.port.map(Jinja::from),
            "address" => self.address().map(Jinja::from),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        if self.port.is_some() {
            Enumerator::Str(&["host", "port", "address"])
        } else {
            Enumerator::Str(&["host"])
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.address() {
            Some(address) if self.url => write!(f, "http://{address}"),
            Some(address) => f.write_str(&address),
            None => f.write_str(&self.host),
        }
    }
}

impl Directory {
    /// The endpoint of `port` of `service` (its host alone without a
    /// port), or why there is none.
    fn endpoint(&self, service: &str, port: Option<&str>) -> Result<Endpoint, EndpointError> {
        let Some(listing) = self.services.get(service) else {
            return Err(if self.elsewhere.contains(service) {
                EndpointError::NotInRegion {
                    service: service.to_owned(),
                    region: self.region.clone(),
                }
            } else {
                EndpointError::UnknownService {
                    service: service.to_owned(),
                    hint: did_you_mean(
                        service,
                        self.services
                            .keys()
                            .chain(&self.elsewhere)
                            .map(String::as_str),
                    ),
                }
            });
        };
        let Some(listing) = listing else {
            return Err(EndpointError::InError {
                service: service.to_owned(),
            });
        };
        let host = crate::names::service_host(service, &listing.namespace);
        let Some(port) = port else {
            // Only a service with ports has a Service, whose name resolves.
            if listing.ports.is_empty() {
                return Err(EndpointError::NoService {
                    service: service.to_owned(),
                });
            }
            return Ok(Endpoint {
                host,
                port: None,
                url: false,
            });
        };
        let Some(found) = listing.ports.iter().find(|p| p.name == port) else {
            return Err(EndpointError::UnknownPort {
                service: service.to_owned(),
                port: port.to_owned(),
                ports: listing.ports.iter().map(|p| p.name.clone()).collect(),
            });
        };
        Ok(Endpoint {
            host,
            port: Some(found.port),
            url: found.url,
        })
    }
}

/// Why `endpoint()` found nothing.
#[derive(Debug)]
enum EndpointError {
    UnknownService {
        service: String,
        hint: Option<String>,
    },
    NotInRegion {
        service: String,
        region: String,
    },
    InError {
        service: String,
    },
    NoService {
        service: String,
    },
    UnknownPort {
        service: String,
        port: String,
        ports: Vec<String>,
    },
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::UnknownService { service, .. } => {
                write!(f, "a call of unknown service `{service}`")
            }
            EndpointError::NotInRegion { service, region } => {
                write!(f, "`{service}` does not run in region `{region}`")
            }
            EndpointError::InError { service } => write!(
                f,
                "the endpoint of `{service}` is not known: its own namespace or ports are in error here"
            ),
            EndpointError::NoService { service } => write!(
                f,
                "`{service}` has no Service to call: it has no `service.ports`"
            ),
            EndpointError::UnknownPort { service, port, .. } => {
                write!(f, "`{service}` has no port `{port}`")
            }
        }
    }
}

impl std::error::Error for EndpointError {}

impl EndpointError {
    fn diagnostic(&self, span: Span) -> Diagnostic {
        let (code, label, hint) = match self {
            EndpointError::UnknownService { hint, .. } => (
                Code::UNKNOWN_ENDPOINT,
                "no blueprint defines this service",
                hint.clone()
                    .unwrap_or_else(|| "name a service that has a blueprint".to_owned()),
            ),
            EndpointError::NotInRegion { .. } => (
                Code::UNKNOWN_ENDPOINT,
                "the region's `only` leaves this service out",
                "add the service to the region's `only`, or set this value for the region alone in `regionOverrides`".to_owned(),
            ),
            EndpointError::InError { service } => (
                Code::UNKNOWN_ENDPOINT,
                "called here",
                format!("fix the errors reported for `{service}`"),
            ),
            EndpointError::NoService { service } => (
                Code::UNKNOWN_ENDPOINT,
                "no Service answers for the called service",
                format!("give `{service}` a `service.ports` entry, or call a service that has one"),
            ),
            EndpointError::UnknownPort { port, ports, .. } => (
                Code::UNKNOWN_PORT,
                "not a service port of the called service",
                match did_you_mean(port, ports.iter().map(String::as_str)) {
                    Some(hint) => hint,
                    None if ports.is_empty() => "the service has no `service.ports`".to_owned(),
                    None => format!(
                        "its ports: {}",
                        ports.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
                    ),
                },
            ),
        };
        Diagnostic::error(code, span, self.to_string())
            .with_label(label)
            .with_hint(hint)
    }
}

fn error(error: &minijinja::Error, span: Span, scope: &Scope) -> Diagnostic {
    if let Some(endpoint) =
        std::error::Error::source(error).and_then(|source| source.downcast_ref::<EndpointError>())
    {
        return endpoint.diagnostic(span);
    }
    let detail = error
        .detail()
        .map_or_else(|| error.kind().to_string(), str::to_owned);
    let diag = Diagnostic::error(
        Code::TEMPLATE_ERROR,
        span,
        format!("template error: {detail}"),
    );
    match error.kind() {
        minijinja::ErrorKind::UndefinedError => diag
            .with_label("this template uses a variable that is not defined here")
            .with_hint(format!("in scope here: {}", in_scope(scope))),
        minijinja::ErrorKind::OutOfFuel => {
            diag.with_hint("templates may not loop this much; simplify it")
        }
        _ => diag,
    }
}

/// The variable names a scope offers, for hints.
fn in_scope(scope: &Scope) -> String {
    let json = serde_json::to_value(scope).unwrap_or_default();
    let mut names = Vec::new();
    for (top, value) in json.as_object().into_iter().flatten() {
        for field in value.as_object().into_iter().flatten().map(|(k, _)| k) {
            names.push(format!("`{top}.{field}`"));
        }
    }
    if scope.endpoints.is_some() {
        names.push("`endpoint(service, port)`".to_owned());
    }
    names.join(", ")
}

impl Templates {
    /// The scope of one service's templates in one region, with the
    /// environment's namespace and gateway rendered. Built in dependency
    /// order: the namespace sees `service` and `env.name`; domain and
    /// gateway also see `region`.
    pub fn scope(
        &self,
        service: ServiceScope,
        (env_name, env): (&str, &input::Environment),
        region: &input::Region,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<(Scope, Spanned<String>, Spanned<String>)> {
        let mut scope = namespace_scope(service, env_name);
        let namespace = self.field(&env.namespace, &scope, diags)?;
        scope.env.namespace = Some(namespace.value.clone());
        scope.region = Some(RegionScope {
            name: region.name.value.clone(),
            cluster: region.cluster.value.clone(),
            primary: region.primary,
        });
        scope.env.domain = Some(self.field(&env.domain, &scope, diags)?.value);
        let gateway = self.field(&env.gateway, &scope, diags)?;
        scope.env.gateway = Some(gateway.value.clone());
        Some((scope, namespace, gateway))
    }

    /// The namespace a service renders into: its namespace template,
    /// which sees `service` and `env.name` only.
    pub fn namespace(
        &self,
        service: ServiceScope,
        (env_name, env): (&str, &input::Environment),
    ) -> Result<String, Diagnostic> {
        let scope = namespace_scope(service, env_name);
        self.render(&env.namespace.value, env.namespace.span, &scope)
    }

    /// A spanned field rendered in `scope`, keeping its span.
    fn field(
        &self,
        field: &Spanned<String>,
        scope: &Scope,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Spanned<String>> {
        match self.render(&field.value, field.span, scope) {
            Ok(value) => Some(Spanned {
                span: field.span,
                value,
            }),
            Err(diag) => {
                diags.push(diag);
                None
            }
        }
    }
}

/// What the namespace template sees.
fn namespace_scope(service: ServiceScope, env_name: &str) -> Scope {
    Scope {
        service,
        env: EnvScope {
            name: env_name.to_owned(),
            domain: None,
            namespace: None,
            gateway: None,
        },
        region: None,
        endpoints: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use crate::source::Sources;

    fn scope() -> Scope {
        Scope {
            service: ServiceScope {
                name: "orders".into(),
                team: "commerce".into(),
            },
            env: EnvScope {
                name: "prod".into(),
                domain: Some("example.com".into()),
                namespace: Some("commerce-prod".into()),
                gateway: None,
            },
            region: Some(RegionScope {
                name: "eu-west-1".into(),
                cluster: "prod-eu-west-1".into(),
                primary: false,
            }),
            endpoints: None,
        }
    }

    fn expand(text: &str) -> (Sources, Node, Vec<Diagnostic>) {
        let mut sources = Sources::default();
        let id = sources.add("t.yaml".into(), "t.yaml".into(), text.into());
        let mut node = parse(sources.get(id), id).expect("parses");
        let mut diags = Vec::new();
        Templates::default().expand(&mut node, &scope(), &mut diags);
        (sources, node, diags)
    }

    #[test]
    fn expands_strings_and_leaves_the_rest() {
        let (_, node, diags) =
            expand("host: \"{{ service.name }}.{{ env.domain }}\"\nport: 80\nplain: x\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            node.to_json().to_string(),
            r#"{"host":"orders.example.com","port":80,"plain":"x"}"#
        );
    }

    #[test]
    fn undefined_variables_are_errors_at_their_line() {
        let (sources, _, diags) =
            expand("a: ok\nb: \"{{ env.gateway }}\"\nc: \"{{ region.zone }}\"\n");
        assert_eq!(diags.len(), 2);
        let crate::diag::Location::Span(span) = diags[0].location else {
            panic!("span expected");
        };
        assert_eq!(sources.locate(span), "t.yaml:2:4");
        assert!(
            diags[0]
                .hint
                .as_deref()
                .unwrap_or("")
                .contains("`env.domain`")
        );
    }

    #[test]
    fn booleans_render_as_yaml_writes_them() {
        let (_, node, diags) = expand("a: \"{{ region.primary }}\"\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(node.get("a").and_then(Node::as_str), Some("false"));
    }

    #[test]
    fn output_is_text_not_yaml() {
        let (_, node, diags) = expand("a: \"{{ '{x: 1}' }}\"\n");
        assert!(diags.is_empty());
        assert_eq!(node.get("a").and_then(Node::as_str), Some("{x: 1}"));
    }

    #[test]
    fn runaway_loops_run_out_of_fuel() {
        let (_, _, diags) = expand(
            "a: \"{% for i in range(100000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}\"\n",
        );
        assert_eq!(diags.len(), 1);
    }

    #[test]
    fn a_template_keeps_its_final_newline() {
        let (_, tree, diags) =
            expand("text: \"hello {{ service.name }}\\n\"\nplain: \"hello\\n\"\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            tree.get("text").and_then(Node::as_str),
            Some("hello orders\n")
        );
        assert_eq!(tree.get("plain").and_then(Node::as_str), Some("hello\n"));
    }

    fn directory() -> Directory {
        let port = |name: &str, port, url| ListedPort {
            name: name.into(),
            port,
            url,
        };
        Directory {
            region: "eu-west-1".into(),
            services: BTreeMap::from([
                (
                    "cart".into(),
                    Some(Listing {
                        namespace: "commerce-prod".into(),
                        ports: vec![port("http", 80, true), port("grpc", 9090, false)],
                    }),
                ),
                (
                    "worker".into(),
                    Some(Listing {
                        namespace: "commerce-prod".into(),
                        ports: Vec::new(),
                    }),
                ),
            ]),
            elsewhere: BTreeSet::from(["search".into()]),
        }
    }

    fn expand_calling(text: &str) -> (Node, Vec<Diagnostic>, Vec<Reference>) {
        let mut sources = Sources::default();
        let id = sources.add("t.yaml".into(), "t.yaml".into(), text.into());
        let mut node = parse(sources.get(id), id).expect("parses");
        let mut diags = Vec::new();
        let scope = Scope {
            endpoints: Some(Arc::new(directory())),
            ..scope()
        };
        let references = Templates::default().expand(&mut node, &scope, &mut diags);
        (node, diags, references)
    }

    #[test]
    fn endpoints_render_by_protocol_and_are_recorded() {
        let (node, diags, references) = expand_calling(concat!(
            "url: \"{{ endpoint('cart', 'http') }}/v1\"\n",
            "grpc: \"{{ endpoint('cart', 'grpc') }}\"\n",
            "parts: \"{{ endpoint('cart', 'http').host }} {{ endpoint('cart', 'http').port + 1 }} {{ endpoint('cart', 'grpc').address }}\"\n",
            "plain: \"{{ service.name }}\"\n",
        ));
        assert!(diags.is_empty(), "{diags:?}");
        let get = |key| node.get(key).and_then(Node::as_str);
        assert_eq!(
            get("url"),
            Some("http://cart.commerce-prod.svc.cluster.local:80/v1")
        );
        assert_eq!(
            get("grpc"),
            Some("cart.commerce-prod.svc.cluster.local:9090")
        );
        assert_eq!(
            get("parts"),
            Some(
                "cart.commerce-prod.svc.cluster.local 81 cart.commerce-prod.svc.cluster.local:9090"
            )
        );
        let called: Vec<(&str, &str)> = references
            .iter()
            .map(|r| (r.service.as_str(), r.port.as_deref().unwrap_or_default()))
            .collect();
        assert_eq!(
            called,
            [
                ("cart", "http"),
                ("cart", "grpc"),
                ("cart", "http"),
                ("cart", "http"),
                ("cart", "grpc")
            ]
        );
        // Each reference carries the span of the string that made it.
        assert_eq!(references[0].span, node.get("url").expect("url").span);
        assert_eq!(references[1].span, node.get("grpc").expect("grpc").span);
    }

    #[test]
    fn an_endpoint_without_a_port_is_the_services_host() {
        let (node, diags, references) = expand_calling(concat!(
            "host: \"{{ endpoint('cart') }}:7070\"\n",
            "same: \"{{ endpoint('cart').host }}\"\n",
            "port: \"{{ endpoint('cart').port }}\"\n",
        ));
        let get = |key| node.get(key).and_then(Node::as_str);
        assert_eq!(
            get("host"),
            Some("cart.commerce-prod.svc.cluster.local:7070")
        );
        assert_eq!(get("same"), Some("cart.commerce-prod.svc.cluster.local"));
        // No port was named, so there is none to give.
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].code, Code::TEMPLATE_ERROR);
        assert_eq!(references.len(), 2);
        assert!(references.iter().all(|r| r.port.is_none()));
    }

    #[test]
    fn endpoints_that_do_not_resolve_are_errors_with_their_code() {
        let (_, diags, references) = expand_calling(concat!(
            "a: \"{{ endpoint('crat', 'http') }}\"\n",
            "b: \"{{ endpoint('search', 'http') }}\"\n",
            "c: \"{{ endpoint('cart', 'grcp') }}\"\n",
            "d: \"{{ endpoint() }}\"\n",
            "e: \"{{ endpoint('worker') }}\"\n",
        ));
        let codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "unknown-endpoint",
                "unknown-endpoint",
                "unknown-port",
                "template-error",
                "unknown-endpoint"
            ]
        );
        assert_eq!(
            diags[4].message,
            "`worker` has no Service to call: it has no `service.ports`"
        );
        assert_eq!(diags[0].hint.as_deref(), Some("did you mean `cart`?"));
        assert_eq!(
            diags[1].message,
            "`search` does not run in region `eu-west-1`"
        );
        assert_eq!(diags[2].hint.as_deref(), Some("did you mean `grpc`?"));
        assert!(references.is_empty());
    }

    #[test]
    fn endpoint_is_not_in_the_scope_of_environment_fields() {
        let (_, _, diags) = expand("a: \"{{ endpoint('cart', 'http') }}\"\n");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, Code::TEMPLATE_ERROR);
    }
}
