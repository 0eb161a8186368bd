//! Routes Istio can never reach: a VirtualService's HTTP routes are tried
//! in order, so a route is dead when one before it matches every request it
//! would. A gateway's VirtualService holds a route per service, so the
//! routes before each one are looked up by URI, not scanned.

use std::collections::{BTreeMap, HashMap};

use crate::crd::istio::{HttpMatch, HttpRoute, StringMatch};
use crate::diag::{Code, Diagnostic};
use crate::lower::{ObjectId, Rendered};

/// Istio applies the first HTTP route whose match fits a request
/// (`VirtualService.http`: "the first rule matching an incoming request is
/// used"), so a route after one that matches every request it would match
/// can never be reached.
pub fn unreachable(
    rendered: &Rendered,
    id: &ObjectId,
    routes: &[HttpRoute],
    diags: &mut Vec<Diagnostic>,
) {
    let mut earlier = Earlier::default();
    for (later, route) in routes.iter().enumerate() {
        if let Some(first) = earlier.first_covering(routes, route).map(|i| &routes[i]) {
            diags.push(
                Diagnostic::error(
                    Code::UNREACHABLE_ROUTE,
                    rendered.origin,
                    format!(
                        "route `{}` of {} `{}/{}` can never match: route `{}` before it matches every request it would",
                        route.name, id.kind, id.namespace, id.name, first.name
                    ),
                )
                .with_hint("give the later route a longer `pathPrefix` or a header match, or remove one"),
            );
        }
        earlier.add(later, route);
    }
}

/// The routes seen so far, by the URI condition of each of their matches.
/// A route covers another only if one of its matches covers the other's
/// first match, whose URI condition then selects it: no condition, a
/// prefix of its path, or the same condition.
#[derive(Default)]
struct Earlier<'a> {
    /// Routes with no matches, or a match without a URI condition.
    any_uri: Vec<usize>,
    /// By `prefix` condition.
    prefixes: HashMap<&'a str, Vec<usize>>,
    /// By `exact` or `regex` condition.
    equal: BTreeMap<&'a StringMatch, Vec<usize>>,
}

impl<'a> Earlier<'a> {
    fn add(&mut self, index: usize, route: &'a HttpRoute) {
        if route.matches.is_empty() {
            self.any_uri.push(index);
        }
        for m in &route.matches {
            let list = match &m.uri {
                None => &mut self.any_uri,
                Some(StringMatch::Prefix(p)) => self.prefixes.entry(p).or_default(),
                Some(other) => self.equal.entry(other).or_default(),
            };
            // A route with two matches of one condition is listed once.
            if list.last() != Some(&index) {
                list.push(index);
            }
        }
    }

    /// The index of the first route seen that covers `later`.
    fn first_covering(&self, routes: &[HttpRoute], later: &HttpRoute) -> Option<usize> {
        let mut candidates: Vec<usize> = self.any_uri.clone();
        let uri = later.matches.first().and_then(|m| m.uri.as_ref());
        let path = match uri {
            Some(StringMatch::Prefix(q) | StringMatch::Exact(q)) => Some(q.as_str()),
            Some(StringMatch::Regex(_)) => None,
            // Every request path starts with `/`.
            None => Some("/"),
        };
        if let Some(path) = path {
            let prefixes = (1..=path.len()).filter(|&end| path.is_char_boundary(end));
            for end in prefixes {
                candidates.extend(self.prefixes.get(&path[..end]).into_iter().flatten());
            }
        }
        if let Some(uri @ (StringMatch::Exact(_) | StringMatch::Regex(_))) = uri {
            candidates.extend(self.equal.get(uri).into_iter().flatten());
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates.into_iter().find(|&i| covers(&routes[i], later))
    }
}

/// Does every request that `later` matches also match `earlier`? An empty
/// match list matches every request; otherwise some match of `earlier` must
/// cover each match of `later`.
fn covers(earlier: &HttpRoute, later: &HttpRoute) -> bool {
    if earlier.matches.is_empty() {
        return true;
    }
    let all = HttpMatch {
        uri: None,
        headers: BTreeMap::new(),
        port: None,
    };
    let later_matches: Vec<&HttpMatch> = if later.matches.is_empty() {
        vec![&all]
    } else {
        later.matches.iter().collect()
    };
    later_matches
        .iter()
        .all(|l| earlier.matches.iter().any(|e| match_covers(e, l)))
}

/// Every value one string match accepts, another accepts too: equal
/// matches, or a prefix of the other's prefix or exact value.
fn string_covers(earlier: &StringMatch, later: &StringMatch) -> bool {
    match (earlier, later) {
        (StringMatch::Prefix(p), StringMatch::Prefix(q) | StringMatch::Exact(q)) => {
            q.starts_with(p.as_str())
        }
        (e, l) => e == l,
    }
}

/// One match's requests include another's: its URI condition is weaker
/// (none or `/`, or a prefix of the other's prefix or exact path), each of its
/// header conditions is also the other's, and its port, if any, is the
/// other's.
fn match_covers(earlier: &HttpMatch, later: &HttpMatch) -> bool {
    let uri = match (&earlier.uri, &later.uri) {
        (None, _) => true,
        (Some(e), Some(l)) => string_covers(e, l),
        // Every request path starts with `/`.
        (Some(StringMatch::Prefix(p)), None) => p == "/",
        (Some(_), None) => false,
    };
    let headers = earlier
        .headers
        .iter()
        .all(|(name, m)| later.headers.get(name).is_some_and(|l| string_covers(m, l)));
    let port = earlier.port.is_none() || earlier.port == later.port;
    uri && headers && port
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, matches: Vec<HttpMatch>) -> HttpRoute {
        HttpRoute {
            name: name.into(),
            matches,
            route: Vec::new(),
            timeout: None,
            retries: None,
            fault: None,
        }
    }

    fn on(prefix: Option<&str>, headers: &[(&str, &str)], port: Option<i32>) -> HttpMatch {
        HttpMatch {
            uri: prefix.map(|p| StringMatch::Prefix(p.into())),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).into(), StringMatch::Exact((*v).into())))
                .collect(),
            port,
        }
    }

    #[test]
    fn what_an_earlier_route_covers() {
        let all = route("all", Vec::new());
        let root = route("root", vec![on(Some("/"), &[], None)]);
        let api = route("api", vec![on(Some("/api"), &[], None)]);
        let beta = route("beta", vec![on(Some("/"), &[("x-beta", "1")], None)]);
        let http = route("http", vec![on(None, &[], Some(80))]);
        assert!(covers(&all, &api) && covers(&root, &api) && covers(&root, &beta));
        assert!(covers(&root, &all), "`/` matches every request");
        assert!(!covers(&api, &root) && !covers(&beta, &root) && !covers(&api, &beta));
        assert!(!covers(&http, &all) && covers(&all, &http));
        let two_ports = route(
            "two",
            vec![on(None, &[], Some(80)), on(None, &[], Some(81))],
        );
        assert!(!covers(&http, &two_ports), "port 81 is not covered");
    }

    /// A few conditions that cover one another in every way: prefixes of
    /// prefixes, an exact path under a prefix, a regex, headers, ports.
    fn generated(seed: &mut u64) -> HttpRoute {
        let mut next = |n: u64| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*seed >> 33) % n
        };
        let paths = ["/", "/a", "/ab", "/b", "/é", "/éa"];
        let matches = (0..next(3))
            .map(|_| {
                let path = paths[next(6) as usize].to_owned();
                let uri = match next(5) {
                    0 => None,
                    1 => Some(StringMatch::Exact(path)),
                    2 => Some(StringMatch::Regex(path)),
                    _ => Some(StringMatch::Prefix(path)),
                };
                let headers = (next(3) == 0)
                    .then(|| ("x".to_owned(), StringMatch::Exact("1".into())))
                    .into_iter()
                    .collect();
                let port = (next(4) == 0).then(|| 80 + next(2) as i32);
                HttpMatch { uri, headers, port }
            })
            .collect();
        route("r", matches)
    }

    #[test]
    fn the_index_finds_the_first_covering_route_a_scan_finds() {
        let mut seed = 7;
        let mut found = 0;
        for _ in 0..300 {
            let routes: Vec<HttpRoute> = (0..12).map(|_| generated(&mut seed)).collect();
            let mut earlier = Earlier::default();
            for (later, route) in routes.iter().enumerate() {
                let scan = routes[..later].iter().position(|e| covers(e, route));
                let indexed = earlier.first_covering(&routes, route);
                assert_eq!(indexed, scan, "{routes:?}");
                found += usize::from(scan.is_some());
                earlier.add(later, route);
            }
        }
        assert!(
            found > 300,
            "the routes cover one another often enough: {found}"
        );
    }
}
