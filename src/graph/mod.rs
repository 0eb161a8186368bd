//! The platform's topology as a Mermaid flowchart: for `graph`, each
//! region of an environment with its namespaces and services, the callers
//! each service admits and the gateway's routes, drawn from the resolved
//! model; for a pull request, what a change adds and removes, compared over
//! the facts both the model and a rendered tree hold ([`Topology`]).

pub mod mermaid;
mod rendered;

use std::collections::{BTreeMap, BTreeSet};

use crate::lower::node_group;
use crate::model::{self, HeaderMatch};
use mermaid::{Class, Edge, Graph, Ids, Item, Node, Shape, Subgraph};
pub use rendered::{read, wanted};

/// One (environment, region).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub env: String,
    pub region: String,
}

impl Place {
    fn of(cluster: &model::Cluster) -> Place {
        Place {
            env: cluster.env.name.clone(),
            region: cluster.region.clone(),
        }
    }
}

/// What a graph shows of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceFacts {
    pub namespace: String,
    /// The EKS node group, as the pods' `nodeSelector` names it.
    pub node_group: String,
    pub strategy: Strategy,
}

impl ServiceFacts {
    fn summary(&self) -> String {
        format!("{} · {}", self.node_group, self.strategy.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// A Deployment's rolling update.
    Rolling,
    /// An Argo Rollout.
    Canary,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::Rolling => "rolling",
            Strategy::Canary => "canary",
        }
    }
}

/// A route on a gateway host to a service: what it matches.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// `<namespace>/<name>` of the Istio Gateway.
    pub gateway: String,
    pub host: String,
    pub service: String,
    /// The path prefix, `/` for every path.
    pub prefix: String,
    /// Header name and match, sorted by name.
    pub headers: Vec<(String, Matching)>,
}

impl Route {
    /// `/api/catalog x-variant=b`: the prefix and each header condition.
    fn label(&self) -> String {
        let mut label = self.prefix.clone();
        for (name, matching) in &self.headers {
            let condition = match matching {
                Matching::Exact(value) => format!("{name}={value}"),
                Matching::Prefix(value) => format!("{name}^={value}"),
                Matching::Regex(value) => format!("{name}~{value}"),
            };
            label.push(' ');
            label.push_str(&condition);
        }
        label
    }
}

/// How a route matches a header's value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Matching {
    Exact(String),
    Prefix(String),
    Regex(String),
}

/// What can be compared between two renders: every service of each
/// (environment, region), the callers each admits (`mesh.allowFrom`, as
/// its AuthorizationPolicy and NetworkPolicy do: a caller not rendered in
/// the region is left out) and the gateway's routes. The model and a
/// rendered tree ([`read`]) give the same topology; `tests/it/graph.rs`
/// holds them equal.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Topology {
    pub services: BTreeMap<(Place, String), ServiceFacts>,
    /// `(place, caller, called)`.
    pub callers: BTreeSet<(Place, String, String)>,
    pub routes: BTreeSet<(Place, Route)>,
}

impl Topology {
    /// The topology of resolved clusters.
    pub fn of(clusters: &[model::Cluster]) -> Topology {
        let mut topology = Topology::default();
        for cluster in clusters {
            let place = Place::of(cluster);
            for service in &cluster.services {
                let facts = ServiceFacts {
                    namespace: service.namespace.clone(),
                    node_group: node_group(service.node_group).to_owned(),
                    strategy: match service.canary {
                        Some(_) => Strategy::Canary,
                        None => Strategy::Rolling,
                    },
                };
                let key = (place.clone(), service.name.clone());
                topology.services.insert(key, facts);
                for caller in cluster.callers(service) {
                    let edge = (place.clone(), caller.name.clone(), service.name.clone());
                    topology.callers.insert(edge);
                }
                for route in &service.routes {
                    topology
                        .routes
                        .insert((place.clone(), route_of(service, route)));
                }
            }
        }
        topology
    }
}

fn route_of(service: &model::Service, route: &model::Route) -> Route {
    Route {
        gateway: service.gateway.reference(),
        host: route.host.clone(),
        service: service.name.clone(),
        prefix: route.effective_prefix().to_owned(),
        headers: route
            .headers
            .iter()
            .map(|(name, m)| {
                let matching = match m {
                    HeaderMatch::Exact(v) => Matching::Exact(v.clone()),
                    HeaderMatch::Prefix(v) => Matching::Prefix(v.clone()),
                    HeaderMatch::Regex(v) => Matching::Regex(v.clone()),
                };
                (name.clone(), matching)
            })
            .collect(),
    }
}

/// The graph of one environment's clusters, regions in the overlay's
/// order: each region's gateway hosts and namespaces with their services
/// (name, node group, strategy); an edge from each caller to the service
/// that admits it, labelled with the ports its templates name through
/// `endpoint()`; an edge from each host to the services it routes to,
/// labelled with the route's match.
pub fn environment(clusters: &[model::Cluster]) -> Graph {
    let topology = Topology::of(clusters);
    let mut sketch = Sketch::default();
    for cluster in clusters {
        let label = format!("{} (cluster {})", cluster.region, cluster.cluster);
        sketch.regions.push((Place::of(cluster), label));
    }
    for ((place, name), facts) in &topology.services {
        sketch.service(place, name, facts, None, None);
    }
    for (place, route) in &topology.routes {
        sketch.route(place, route, None);
    }
    for (place, caller, called) in &topology.callers {
        let label = calls(clusters, place, caller, called);
        sketch.caller(place, caller, called, label, None);
    }
    sketch.draw(|place| place.region.clone())
}

/// `endpoint grpc, http`: the ports the caller's templates name on the
/// called service; `endpoint` where they name its host alone.
fn calls(clusters: &[model::Cluster], place: &Place, caller: &str, called: &str) -> Option<String> {
    let cluster = clusters.iter().find(|c| Place::of(c) == *place)?;
    let calls: Vec<&model::Call> = cluster
        .service(caller)?
        .calls
        .iter()
        .filter(|call| call.service == called)
        .collect();
    let ports: BTreeSet<&str> = calls.iter().filter_map(|c| c.port.as_deref()).collect();
    let ports: Vec<&str> = ports.into_iter().collect();
    match (calls.is_empty(), ports.is_empty()) {
        (true, _) => None,
        (false, true) => Some("endpoint".to_owned()),
        (false, false) => Some(format!("endpoint {}", ports.join(", "))),
    }
}

/// What a change does to the topology: services added, removed or changed
/// (node group, strategy, namespace), callers and routes added or removed.
#[derive(Debug)]
pub struct Changes<'a> {
    before: &'a Topology,
    after: &'a Topology,
    services: Vec<(&'a Place, &'a str, Class)>,
    callers: Vec<(&'a (Place, String, String), Class)>,
    routes: Vec<(&'a (Place, Route), Class)>,
}

/// The changes from `before` to `after`.
pub fn changes<'a>(before: &'a Topology, after: &'a Topology) -> Changes<'a> {
    let mut services = Vec::new();
    for ((place, name), facts) in &after.services {
        match before.services.get(&(place.clone(), name.clone())) {
            None => services.push((place, name.as_str(), Class::Added)),
            Some(old) if old != facts => services.push((place, name.as_str(), Class::Changed)),
            Some(_) => {}
        }
    }
    for (place, name) in before.services.keys() {
        if !after.services.contains_key(&(place.clone(), name.clone())) {
            services.push((place, name.as_str(), Class::Removed));
        }
    }
    services.sort();
    Changes {
        before,
        after,
        services,
        callers: difference(&before.callers, &after.callers),
        routes: difference(&before.routes, &after.routes),
    }
}

/// What `after` adds to `before` and what it drops, in order.
fn difference<'a, T: Ord>(before: &'a BTreeSet<T>, after: &'a BTreeSet<T>) -> Vec<(&'a T, Class)> {
    let mut out: Vec<(&T, Class)> = after
        .difference(before)
        .map(|t| (t, Class::Added))
        .chain(before.difference(after).map(|t| (t, Class::Removed)))
        .collect();
    out.sort();
    out
}

impl Changes<'_> {
    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.callers.is_empty() && self.routes.is_empty()
    }

    /// How many facts changed: services, callers and routes.
    pub fn len(&self) -> usize {
        self.services.len() + self.callers.len() + self.routes.len()
    }

    /// `1 service added, 2 callers removed`, leaving out what is zero.
    pub fn summary(&self) -> String {
        let kinds: [(&str, Vec<Class>); 3] = [
            ("service", self.services.iter().map(|s| s.2).collect()),
            ("caller", self.callers.iter().map(|c| c.1).collect()),
            ("route", self.routes.iter().map(|r| r.1).collect()),
        ];
        let mut parts = Vec::new();
        for (noun, classes) in &kinds {
            for (class, verb) in [
                (Class::Added, "added"),
                (Class::Removed, "removed"),
                (Class::Changed, "changed"),
            ] {
                match classes.iter().filter(|c| **c == class).count() {
                    0 => {}
                    1 => parts.push(format!("1 {noun} {verb}")),
                    n => parts.push(format!("{n} {noun}s {verb}")),
                }
            }
        }
        parts.join(", ")
    }

    /// One line per change: `+` added, `-` removed, `~` changed.
    pub fn lines(&self) -> Vec<String> {
        let sign = |class: Class| match class {
            Class::Added => '+',
            Class::Removed => '-',
            Class::Changed => '~',
        };
        let mut lines = Vec::new();
        for (place, name, class) in &self.services {
            let (old, new) = self.facts(place, name);
            let what = match (old, new, class) {
                (Some(old), Some(new), Class::Changed) => {
                    format!("{} in {}, {}", new.summary(), new.namespace, was(old, new))
                }
                (_, Some(facts), _) | (Some(facts), None, _) => {
                    format!("{} in {}", facts.summary(), facts.namespace)
                }
                (None, None, _) => String::new(),
            };
            lines.push(format!(
                "{} service {}/{} {name}: {what}",
                sign(*class),
                place.env,
                place.region
            ));
        }
        for ((place, caller, called), class) in &self.callers {
            lines.push(format!(
                "{} caller {}/{} {caller} -> {called}",
                sign(*class),
                place.env,
                place.region
            ));
        }
        for ((place, route), class) in &self.routes {
            lines.push(format!(
                "{} route {}/{} {} {} -> {}",
                sign(*class),
                place.env,
                place.region,
                route.host,
                route.label(),
                route.service
            ));
        }
        lines
    }

    /// A service's facts before and after.
    fn facts(&self, place: &Place, name: &str) -> (Option<&ServiceFacts>, Option<&ServiceFacts>) {
        let key = (place.clone(), name.to_owned());
        (
            self.before.services.get(&key),
            self.after.services.get(&key),
        )
    }

    /// The changed services, callers and routes, with the services and
    /// hosts at both ends of a changed edge for context; added in green,
    /// removed in red (and dotted), changed in amber. Regions are
    /// `<env>/<region>`.
    pub fn graph(&self) -> Graph {
        let mut sketch = Sketch::default();
        let mut places = BTreeSet::new();
        places.extend(self.services.iter().map(|s| s.0));
        places.extend(self.callers.iter().map(|c| &c.0.0));
        places.extend(self.routes.iter().map(|r| &r.0.0));
        for place in places {
            let label = format!("{}/{}", place.env, place.region);
            sketch.regions.push((place.clone(), label));
        }
        for (place, name, class) in &self.services {
            let (old, new) = self.facts(place, name);
            let was = match (old, new) {
                (Some(old), Some(new)) if *class == Class::Changed => Some(was(old, new)),
                _ => None,
            };
            if let Some(facts) = new.or(old) {
                sketch.service(place, name, facts, Some(*class), was);
            }
        }
        for ((place, route), class) in &self.routes {
            self.context(&mut sketch, place, &route.service);
            sketch.route(place, route, Some(*class));
        }
        for ((place, caller, called), class) in &self.callers {
            for name in [caller, called] {
                self.context(&mut sketch, place, name);
            }
            sketch.caller(place, caller, called, None, Some(*class));
        }
        sketch.draw(|place| format!("{}/{}", place.env, place.region))
    }

    /// An unchanged service drawn because a changed edge ends at it.
    fn context(&self, sketch: &mut Sketch, place: &Place, name: &str) {
        let (old, new) = self.facts(place, name);
        if let Some(facts) = new.or(old) {
            sketch.service(place, name, facts, None, None);
        }
    }
}

/// `was memory · rolling`, and the namespace if it changed.
fn was(old: &ServiceFacts, new: &ServiceFacts) -> String {
    if old.namespace == new.namespace {
        format!("was {}", old.summary())
    } else {
        format!("was {} in {}", old.summary(), old.namespace)
    }
}

/// What a graph will show, collected before ids are given: regions in
/// order, then services, hosts and edges, drawn region by region.
#[derive(Default)]
struct Sketch {
    regions: Vec<(Place, String)>,
    /// `(place, namespace, name)` -> label lines and class.
    services: BTreeMap<(Place, String, String), Drawn>,
    /// `(place, gateway)` -> hosts.
    hosts: BTreeMap<(Place, String), BTreeSet<String>>,
    edges: Vec<Sketched>,
}

/// A node's label lines and class.
type Drawn = (Vec<String>, Option<Class>);

/// An edge: its region, its ends, label and class.
struct Sketched {
    place: Place,
    from: End,
    to: End,
    label: Option<String>,
    class: Option<Class>,
}

enum End {
    Service(String),
    Host(String),
}

impl Sketch {
    /// Add a service; a service added already keeps its first label.
    fn service(
        &mut self,
        place: &Place,
        name: &str,
        facts: &ServiceFacts,
        class: Option<Class>,
        was: Option<String>,
    ) {
        let key = (place.clone(), facts.namespace.clone(), name.to_owned());
        let label = [name.to_owned(), facts.summary()].into_iter().chain(was);
        self.services
            .entry(key)
            .or_insert_with(|| (label.collect(), class));
    }

    fn caller(
        &mut self,
        place: &Place,
        caller: &str,
        called: &str,
        label: Option<String>,
        class: Option<Class>,
    ) {
        self.edges.push(Sketched {
            place: place.clone(),
            from: End::Service(caller.to_owned()),
            to: End::Service(called.to_owned()),
            label,
            class,
        });
    }

    fn route(&mut self, place: &Place, route: &Route, class: Option<Class>) {
        self.hosts
            .entry((place.clone(), route.gateway.clone()))
            .or_default()
            .insert(route.host.clone());
        self.edges.push(Sketched {
            place: place.clone(),
            from: End::Host(route.host.clone()),
            to: End::Service(route.service.clone()),
            label: Some(route.label()),
            class,
        });
    }

    /// The graph: one subgraph per region (named by `scope`) holding a
    /// subgraph per gateway with its hosts and one per namespace with its
    /// services; every edge after them.
    fn draw(self, scope: impl Fn(&Place) -> String) -> Graph {
        let mut ids = Ids::default();
        let mut items = Vec::new();
        for (place, label) in &self.regions {
            let at = scope(place);
            let mut inside = Vec::new();
            for ((_, gateway), hosts) in self.hosts.iter().filter(|((p, _), _)| p == place) {
                inside.push(Item::Subgraph(Subgraph {
                    id: ids.of('g', &format!("{at}/{gateway}")),
                    label: format!("gateway {gateway}"),
                    items: hosts
                        .iter()
                        .map(|host| {
                            Item::Node(Node {
                                id: ids.of('h', &format!("{at}/{host}")),
                                label: vec![host.clone()],
                                shape: Shape::Stadium,
                                class: None,
                            })
                        })
                        .collect(),
                }));
            }
            let mut namespaces: BTreeMap<&str, Vec<Item>> = BTreeMap::new();
            for ((_, namespace, name), (label, class)) in
                self.services.iter().filter(|((p, _, _), _)| p == place)
            {
                namespaces
                    .entry(namespace)
                    .or_default()
                    .push(Item::Node(Node {
                        id: ids.of('s', &format!("{at}/{name}")),
                        label: label.clone(),
                        shape: Shape::Box,
                        class: *class,
                    }));
            }
            for (namespace, services) in namespaces {
                inside.push(Item::Subgraph(Subgraph {
                    id: ids.of('n', &format!("{at}/{namespace}")),
                    label: format!("namespace {namespace}"),
                    items: services,
                }));
            }
            items.push(Item::Subgraph(Subgraph {
                id: ids.of('r', &at),
                label: label.clone(),
                items: inside,
            }));
        }
        let mut end = |place: &Place, end: &End| {
            let at = scope(place);
            match end {
                End::Service(name) => ids.of('s', &format!("{at}/{name}")),
                End::Host(host) => ids.of('h', &format!("{at}/{host}")),
            }
        };
        let by_region = self
            .regions
            .iter()
            .flat_map(|(place, _)| self.edges.iter().filter(move |e| &e.place == place));
        let edges = by_region
            .map(|edge| Edge {
                from: end(&edge.place, &edge.from),
                to: end(&edge.place, &edge.to),
                label: edge.label.clone(),
                class: edge.class,
            })
            .collect();
        Graph { items, edges }
    }
}
