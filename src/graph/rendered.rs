//! The topology read back from a rendered tree, for a pull request whose
//! base holds rendered YAML and not the inputs it came from. It reads the
//! objects slipway renders for each service, in the layout of `emit::path`
//! (`<env>/<region>/<service>/<kind>-<name>.yaml`):
//!
//! - the Deployment or Rollout named after its folder: the service, its
//!   namespace, its node group (`nodeSelector`) and its strategy;
//! - its AuthorizationPolicy: the callers are the principals of the rules
//!   without `to` (the gateway's and Prometheus' rules name ports), each
//!   `cluster.local/ns/<namespace>/sa/<service>`, the ServiceAccount being
//!   named after the service; a principal that is no service of the
//!   region is not a caller;
//! - each VirtualService in `_gateway/`: its host and gateway, and per
//!   route the match (path prefix, headers) and the Service of its first
//!   destination (the stable one of a canary).
//!
//! Anything else, and any file that does not read as such an object, is
//! left out: a tree rendered by another version of slipway gives what it
//! holds of these.

use std::collections::BTreeMap;

use super::{Matching, Place, Route, ServiceFacts, Strategy, Topology};
use crate::lower::NODE_GROUP_LABEL;
use crate::node::{Node, Value};
use crate::parse::parse;
use crate::source::Sources;

/// A rendered file the topology is read from.
#[derive(Debug, PartialEq, Eq)]
enum Source<'a> {
    Workload(Strategy),
    AuthorizationPolicy,
    GatewayRoutes,
    /// The folder of a service, for a file of another kind.
    Other(&'a str),
}

/// Where a file is and what it is, from its path alone.
fn source(path: &str) -> Option<(Place, &str, Source<'_>)> {
    let mut parts = path.split('/');
    let (env, region, folder, file) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || region.starts_with('_') {
        return None;
    }
    let place = Place {
        env: env.to_owned(),
        region: region.to_owned(),
    };
    let named = |kind: &str| file == format!("{kind}-{folder}.yaml");
    let source = if folder == "_gateway" {
        let routes = file.starts_with("virtualservice-") && file.ends_with(".yaml");
        routes.then_some(Source::GatewayRoutes)?
    } else if folder.starts_with('_') {
        return None;
    } else if named("deployment") {
        Source::Workload(Strategy::Rolling)
    } else if named("rollout") {
        Source::Workload(Strategy::Canary)
    } else if named("authorizationpolicy") {
        Source::AuthorizationPolicy
    } else {
        Source::Other(folder)
    };
    Some((place, folder, source))
}

/// Is this rendered file one [`read`] reads? (A publish fetches only these
/// from the base.)
pub fn wanted(path: &str) -> bool {
    source(path).is_some_and(|(_, _, s)| !matches!(s, Source::Other(_)))
}

/// The topology of a rendered tree (path under the tree -> text).
pub fn read(files: &BTreeMap<String, String>) -> Topology {
    let mut topology = Topology::default();
    let mut callers = Vec::new();
    for (path, text) in files {
        let Some((place, folder, source)) = source(path) else {
            continue;
        };
        if matches!(source, Source::Other(_)) {
            continue;
        }
        let Some(object) = parsed(text) else {
            continue;
        };
        match source {
            Source::Workload(strategy) => {
                if let Some(facts) = workload(&object, strategy) {
                    topology.services.insert((place, folder.to_owned()), facts);
                }
            }
            Source::AuthorizationPolicy => {
                for principal in caller_principals(&object) {
                    callers.push((place.clone(), principal, folder.to_owned()));
                }
            }
            Source::GatewayRoutes => {
                for route in gateway_routes(&object) {
                    topology.routes.insert((place.clone(), route));
                }
            }
            Source::Other(_) => {}
        }
    }
    // Only services of the region call (and are routed to): the same
    // service in the same namespace.
    for (place, (namespace, name), called) in callers {
        let key = (place.clone(), name.clone());
        if topology
            .services
            .get(&key)
            .is_some_and(|s| s.namespace == namespace)
        {
            topology.callers.insert((place, name, called));
        }
    }
    topology.routes.retain(|(place, route)| {
        topology
            .services
            .contains_key(&(place.clone(), route.service.clone()))
    });
    topology
}

fn parsed(text: &str) -> Option<Node> {
    let mut sources = Sources::default();
    let id = sources.add(String::new(), Default::default(), text.to_owned());
    parse(sources.get(id), id).ok()
}

/// A scalar's text, whatever YAML type it reads as.
fn text(node: &Node) -> Option<&str> {
    match &node.value {
        Value::Scalar(scalar) => Some(&scalar.text),
        _ => None,
    }
}

fn at<'a>(node: &'a Node, path: &[&str]) -> Option<&'a Node> {
    path.iter().try_fold(node, |node, key| node.get(key))
}

fn items<'a>(node: &'a Node, key: &str) -> &'a [Node] {
    node.get(key).and_then(Node::as_seq).unwrap_or_default()
}

fn workload(object: &Node, strategy: Strategy) -> Option<ServiceFacts> {
    let namespace = text(at(object, &["metadata", "namespace"])?)?;
    let selector = at(object, &["spec", "template", "spec", "nodeSelector"])?;
    let node_group = text(selector.get(NODE_GROUP_LABEL)?)?;
    Some(ServiceFacts {
        namespace: namespace.to_owned(),
        node_group: node_group.to_owned(),
        strategy,
    })
}

/// `(namespace, service account)` of every principal of the rules that
/// admit callers on every port.
fn caller_principals(object: &Node) -> Vec<(String, String)> {
    let Some(spec) = object.get("spec") else {
        return Vec::new();
    };
    items(spec, "rules")
        .iter()
        .filter(|rule| items(rule, "to").is_empty())
        .flat_map(|rule| items(rule, "from"))
        .filter_map(|from| from.get("source"))
        .flat_map(|source| items(source, "principals"))
        .filter_map(text)
        .filter_map(|principal| {
            let rest = principal.strip_prefix("cluster.local/ns/")?;
            let (namespace, account) = rest.split_once("/sa/")?;
            Some((namespace.to_owned(), account.to_owned()))
        })
        .collect()
}

fn gateway_routes(object: &Node) -> Vec<Route> {
    let Some(spec) = object.get("spec") else {
        return Vec::new();
    };
    let first = |key: &str| items(spec, key).first().and_then(text).map(str::to_owned);
    let (Some(host), Some(gateway)) = (first("hosts"), first("gateways")) else {
        return Vec::new();
    };
    items(spec, "http")
        .iter()
        .filter_map(|http| {
            let destination = items(http, "route")
                .first()
                .and_then(|r| at(r, &["destination", "host"]))
                .and_then(text)?;
            // `<service>.<namespace>.svc.cluster.local`
            let service = destination.split('.').next()?.to_owned();
            let matched = items(http, "match").first();
            let prefix = matched
                .and_then(|m| at(m, &["uri", "prefix"]))
                .and_then(text)
                .unwrap_or("/");
            let mut headers: Vec<(String, Matching)> = matched
                .and_then(|m| m.get("headers"))
                .and_then(Node::as_map)
                .unwrap_or_default()
                .iter()
                .filter_map(|entry| Some((entry.key.clone(), matching(&entry.value)?)))
                .collect();
            headers.sort();
            Some(Route {
                gateway: gateway.clone(),
                host: host.clone(),
                service,
                prefix: prefix.to_owned(),
                headers,
            })
        })
        .collect()
}

fn matching(node: &Node) -> Option<Matching> {
    let value = |key: &str| node.get(key).and_then(text).map(str::to_owned);
    value("exact")
        .map(Matching::Exact)
        .or_else(|| value("prefix").map(Matching::Prefix))
        .or_else(|| value("regex").map(Matching::Regex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_known_by_their_paths() {
        assert!(wanted("dev/us-east-1/web/deployment-web.yaml"));
        assert!(wanted("dev/us-east-1/web/rollout-web.yaml"));
        assert!(wanted("dev/us-east-1/web/authorizationpolicy-web.yaml"));
        assert!(wanted("dev/us-east-1/_gateway/virtualservice-api-dev.yaml"));
        assert!(!wanted("dev/us-east-1/web/deployment-other.yaml"));
        assert!(!wanted("dev/us-east-1/web/service-web.yaml"));
        assert!(!wanted("dev/_argocd/application-dev.us-east-1.web.yaml"));
        assert!(!wanted("dev/us-east-1/_namespaces/x/namespace-x.yaml"));
        assert!(!wanted("dev/us-east-1/web/deployment-web.yaml/x"));
    }
}
