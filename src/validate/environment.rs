//! An overlay's `environment` settings that are read as written (no
//! merging, no templates): each must be what its consumer accepts, since
//! the consumer refuses it or misbehaves only once the rendered objects are
//! applied.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use super::check_name;
use crate::diag::{Code, Diagnostic, Location};
use crate::input::{ArgoCd, OverlayHead, Promotion, Tracing};
use crate::names::{self, PROMOTION_BRANCHES, promotion_branch};
use crate::node::de::Spanned;
use crate::node::path::{Segment, display};
use crate::node::{Node, Value};
use crate::source::Span;
use crate::template::{ENVIRONMENT_TEMPLATES, is_template};

/// Every rule on the environment's settings; `tree` is the overlay's.
pub fn check(head: &OverlayHead, tree: &Node, diags: &mut Vec<Diagnostic>) {
    if let Some(environment) = tree.get("environment") {
        for entry in environment.as_map().into_iter().flatten() {
            if !ENVIRONMENT_TEMPLATES.contains(&entry.key.as_str()) {
                let path = vec![Segment::Key(entry.key.clone())];
                check_no_templates(&entry.value, path, diags);
            }
        }
    }
    let env = &head.environment;
    if let Some(account) = &env.gateway_service_account {
        check_gateway_account(account, diags);
    }
    if let Some(account) = &env.prometheus_service_account {
        check_prometheus_account(account, diags);
    }
    if let Some(url) = &env.prometheus_url {
        check_prometheus_url(url, diags);
    }
    if let Some(tracing) = &env.tracing {
        check_tracing(tracing, diags);
    }
    if let Some(argocd) = &env.argocd {
        check_argocd(argocd, diags);
        if let Some(promotion) = &argocd.promotion {
            check_promotion(head, argocd, promotion, diags);
        }
    }
}

/// Every other `environment` field is read as written: its text goes into
/// the rendered objects (Prometheus' URL, Argo CD's repository, a
/// ServiceAccount) or becomes a name, so template syntax there would reach
/// the cluster as braces. Refused, naming the fields that are templates.
fn check_no_templates(node: &Node, path: Vec<Segment>, diags: &mut Vec<Diagnostic>) {
    match &node.value {
        Value::Scalar(_) => {
            if node.as_str().is_some_and(is_template) {
                diags.push(
                    Diagnostic::error(
                        Code::TEMPLATE_NOT_ALLOWED,
                        node.span,
                        format!(
                            "`environment.{}` is not a template: it is used as written",
                            display(&path)
                        ),
                    )
                    .with_label("template syntax here")
                    .with_hint(
                        "of `environment`, only `namespace`, `domain` and `gateway` are templates (and every string in `defaults`, `services` and `regionOverrides`); write this value out",
                    ),
                );
            }
        }
        Value::Seq(items) => {
            for (index, item) in items.iter().enumerate() {
                let mut path = path.clone();
                path.push(Segment::Index(index));
                check_no_templates(item, path, diags);
            }
        }
        Value::Map(entries) => {
            for entry in entries {
                let mut path = path.clone();
                path.push(Segment::Key(entry.key.clone()));
                check_no_templates(&entry.value, path, diags);
            }
        }
    }
}

/// A value with template syntax outside a template is reported once, as
/// such: what the other rules say of its braces is left out. Applies to
/// `diags[from..]`.
pub fn once_per_template(diags: &mut Vec<Diagnostic>, from: usize) {
    let templated: Vec<Location> = diags[from..]
        .iter()
        .filter(|d| d.code == Code::TEMPLATE_NOT_ALLOWED)
        .map(|d| d.location.clone())
        .collect();
    let mut index = 0;
    diags.retain(|d| {
        index += 1;
        index <= from || d.code == Code::TEMPLATE_NOT_ALLOWED || !templated.contains(&d.location)
    });
}

/// The gateway's pods run as this ServiceAccount of the gateway's
/// namespace, and the AuthorizationPolicies allow its principal. A
/// ServiceAccount name is a DNS-1123 subdomain (kubernetes/apimachinery
/// `pkg/api/validation/generic.go`: `ValidateServiceAccountName =
/// NameIsDNSSubdomain`): a principal with any other name matches no pod,
/// and the gateway is denied on every route.
fn check_gateway_account(account: &Spanned<String>, diags: &mut Vec<Diagnostic>) {
    if let Err(reason) = names::dns1123_subdomain(&account.value) {
        diags.push(
            Diagnostic::error(
                Code::INVALID_NAME,
                account.span,
                format!(
                    "invalid `gatewayServiceAccount` `{}`: {reason}",
                    account.value
                ),
            )
            .with_label("not a ServiceAccount name")
            .with_hint(
                "name the ServiceAccount the gateway's pods run as (`kubectl -n <gateway namespace> get serviceaccounts`), such as `istio-ingressgateway-service-account`",
            ),
        );
    }
}

/// Prometheus' ServiceAccount as `<namespace>/<name>` (the schema holds the
/// shape): the namespace a DNS-1123 label of at most 63 characters
/// (`ValidateNamespaceName = NameIsDNSLabel`), the name a DNS-1123
/// subdomain (`ValidateServiceAccountName = NameIsDNSSubdomain`), both in
/// kubernetes/apimachinery `pkg/api/validation/generic.go`.
fn check_prometheus_account(account: &Spanned<String>, diags: &mut Vec<Diagnostic>) {
    let Some((namespace, name)) = account.value.split_once('/') else {
        return;
    };
    let refusal = names::dns1123_label(namespace, 63)
        .map_err(|reason| format!("its namespace `{namespace}` {reason}"))
        .and_then(|()| {
            names::dns1123_subdomain(name).map_err(|reason| format!("its name `{name}` {reason}"))
        });
    if let Err(reason) = refusal {
        diags.push(
            Diagnostic::error(
                Code::INVALID_NAME,
                account.span,
                format!(
                    "invalid `prometheusServiceAccount` `{}`: {reason}",
                    account.value
                ),
            )
            .with_label("not a ServiceAccount of a namespace")
            .with_hint(
                "write `<namespace>/<name>` of Prometheus' ServiceAccount: a namespace of at most 63 characters and a name of at most 253, lowercase letters, digits and `-` (and `.` in the name)",
            ),
        );
    }
}

/// Canary analysis queries Prometheus at this address. Argo Rollouts
/// refuses an address that is not a URL with a scheme and a host
/// (argoproj/argo-rollouts `metricproviders/prometheus/prometheus.go`,
/// `NewPrometheusAPI`: "prometheus address is not is url format", by
/// `IsUrl`: Go's `url.Parse` succeeds, `Scheme != ""`, `Host != ""`), so
/// every measurement is an Error and the rollout aborts; its HTTP client
/// speaks only `http` and `https` (Go's `net/http`: "unsupported protocol
/// scheme").
fn check_prometheus_url(url: &Spanned<String>, diags: &mut Vec<Diagnostic>) {
    if has_password(&url.value) {
        diags.push(
            Diagnostic::error(
                Code::CREDENTIAL_LITERAL,
                url.span,
                "`prometheusUrl` holds a password",
            )
            .with_label("value hidden")
            .with_hint("slipway writes this URL into every AnalysisTemplate, in Git: give Prometheus' in-cluster address without credentials")
            .redacted(),
        );
        return;
    }
    if let Err(reason) = prometheus_address(&url.value) {
        diags.push(
            Diagnostic::error(
                Code::INVALID_VALUE,
                url.span,
                format!("`prometheusUrl` `{}` {reason}", url.value),
            )
            .with_label("Argo Rollouts cannot query this")
            .with_hint(
                "write an http or https URL with a host, such as `http://prometheus-operated.monitoring.svc.cluster.local:9090`",
            ),
        );
    }
}

/// `scheme://user:password@host`: a password before the host.
fn has_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    authority
        .rsplit_once('@')
        .and_then(|(user, _)| user.split_once(':'))
        .is_some_and(|(_, password)| !password.is_empty())
}

/// What Go's `net/url.Parse` and `net/http` need of an address to reach a
/// server: no control characters (`parse`: "invalid control character in
/// URL"), `http://` or `https://`, user information of the characters
/// `validUserinfo` allows, an optional port of digits
/// (`validOptionalPort`), and `%` only as an escape of two hex digits in
/// the path and fragment (`unescape`: "invalid URL escape"; the query is
/// kept as written). Stricter than `url.Parse` where an address would parse
/// and still reach nothing: a host name is required before any port
/// (`http://:9090` dials the controller's own pod) and has only the
/// characters of DNS names, or is an IP address (IPv6 in brackets), and a
/// port is one that can be dialed (1 to 65535).
fn prometheus_address(url: &str) -> Result<(), String> {
    if url.chars().any(char::is_control) {
        return Err("contains a control character".into());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("does not start with `http://` or `https://`".into());
    };
    if !["http", "https"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s))
    {
        return Err(format!(
            "has scheme `{scheme}`: Argo Rollouts queries Prometheus over `http` or `https`"
        ));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // `user:password@`, if any, comes before the last `@`.
    let (user, host_port) = authority.rsplit_once('@').unwrap_or(("", authority));
    let user_ok = user
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b));
    if !user_ok {
        return Err("has user information with characters a URL cannot hold there".into());
    }
    let (host, port) = split_port(host_port)?;
    if host.is_empty() {
        return Err("has no host".into());
    }
    let name_ok = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    let ip6_ok = host.starts_with('[')
        && host.len() > 2
        && host[1..host.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
    if !name_ok && !ip6_ok {
        return Err(format!(
            "has host `{host}`: a host is letters, digits, `-`, `.` and `_`, or an IP address (`[::1]` for IPv6)"
        ));
    }
    if let Some(port) = port.filter(|p| !p.is_empty()) {
        let number = port.parse::<u32>().ok().filter(|n| (1..=65535).contains(n));
        if !port.bytes().all(|b| b.is_ascii_digit()) || number.is_none() {
            return Err(format!(
                "has port `{port}`, which is not a number from 1 to 65535"
            ));
        }
    }
    // The query is kept as written (`RawQuery`); path and fragment are unescaped.
    let (before_fragment, fragment) = tail.split_once('#').unwrap_or((tail, ""));
    let path = before_fragment.split('?').next().unwrap_or_default();
    if !escapes_ok(path) || !escapes_ok(fragment) {
        return Err("has a `%` that is not followed by two hex digits".into());
    }
    Ok(())
}

/// A host and its port (`None`: no `:`), an IPv6 address keeping its brackets.
fn split_port(host_port: &str) -> Result<(&str, Option<&str>), String> {
    if host_port.starts_with('[') {
        let Some(close) = host_port.find(']') else {
            return Err("has an IPv6 host without its closing `]`".into());
        };
        let (host, after) = host_port.split_at(close + 1);
        return match after {
            "" => Ok((host, None)),
            _ => after
                .strip_prefix(':')
                .map(|port| (host, Some(port)))
                .ok_or_else(|| format!("has `{after}` after its IPv6 host")),
        };
    }
    Ok(match host_port.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    })
}

/// Every `%` starts an escape of two hex digits.
fn escapes_ok(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

/// The Telemetry objects name `tracing.provider` as their provider, and
/// Istio refuses a provider without a name (istio/istio
/// `pkg/config/validation/validation.go`, `validateTelemetryProviders`:
/// "providers.name may not be empty"; istio/api `telemetry/v1alpha1/
/// telemetry.proto`, `ProviderRef.name`: `MinLength=1`).
fn check_tracing(tracing: &Tracing, diags: &mut Vec<Diagnostic>) {
    let Some(provider) = &tracing.provider else {
        return;
    };
    if provider.value.is_empty() {
        diags.push(
            Diagnostic::error(
                Code::INVALID_VALUE,
                provider.span,
                "`tracing.provider` is empty: Istio refuses a Telemetry provider without a name",
            )
            .with_hint(
                "name one of the mesh's `meshConfig.extensionProviders`, or leave `provider` out for the mesh's default",
            ),
        );
    }
}

/// Argo CD settings that become a repository, a namespace and a path. Argo
/// CD refuses an Application without a repository (argoproj/argo-cd
/// `util/argo/argo.go`, `validateSourcePermissions`: "spec.source.repoURL
/// and either spec.source.path or spec.source.chart are required"); an
/// empty `targetRevision` is valid, Argo CD reads it as `HEAD`
/// (`util/git/client.go`, `Checkout`). Argo CD's namespace is a DNS-1123
/// label, and the tree's folder in the GitOps repository a relative path
/// inside it, out of `.git` (Argo CD refuses an Application path that
/// leaves the repository).
fn check_argocd(argocd: &ArgoCd, diags: &mut Vec<Diagnostic>) {
    if argocd.repo_url.value.is_empty() {
        diags.push(
            Diagnostic::error(
                Code::INVALID_VALUE,
                argocd.repo_url.span,
                "`argocd.repoURL` is empty: Argo CD refuses an Application without a repository",
            )
            .with_hint(
                "write the URL Argo CD clones the GitOps repository from, such as `https://github.com/example/platform-gitops.git`",
            ),
        );
    }
    if let Some(namespace) = &argocd.namespace {
        check_name(namespace, "Argo CD namespace", 63, diags);
    }
    if let Some(path) = &argocd.path {
        let parts: Vec<Component<'_>> = Path::new(&path.value).components().collect();
        let inside = !parts.is_empty()
            && parts
                .iter()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
            && !parts.iter().any(|c| c.as_os_str() == ".git");
        if !inside {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_VALUE,
                    path.span,
                    format!(
                        "`argocd.path` `{}` is not a folder inside the GitOps repository",
                        path.value
                    ),
                )
                .with_hint("write a relative folder such as `rendered` or `clusters/prod`"),
            );
        }
    }
}

/// Staged promotion: every region of the environment exactly once, so each
/// region's branch (`slipway/promotion/<env>/<region>`, which its
/// Applications read) is advanced by someone: the first region's by
/// `publish`, each next one's by `promote`. And a target revision that is
/// the branch `publish` pushes to: Argo CD reads an empty or `HEAD`
/// revision as the repository's default branch (argoproj/argo-cd
/// `util/git/client.go`, `LsRemote`: `""` is `HEAD`), which no publish names. A branch
/// named `slipway/promotion` or under it could not exist beside the region
/// branches: git refuses a ref that is the folder of another
/// (`refs/heads/a` and `refs/heads/a/b`, git `refs.c`,
/// `refs_verify_refname_available`).
fn check_promotion(
    head: &OverlayHead,
    argocd: &ArgoCd,
    promotion: &Spanned<Promotion>,
    diags: &mut Vec<Diagnostic>,
) {
    let env = &head.metadata.name.value;
    let regions: Vec<&str> = head
        .environment
        .regions
        .iter()
        .map(|r| r.name.value.as_str())
        .collect();
    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
    for region in &promotion.value.order {
        super::known(&region.value, region.span, "region", &regions, env, diags);
        if let Some(first) = seen.insert(&region.value, region.span) {
            diags.push(
                Diagnostic::error(
                    Code::DUPLICATE_REGION,
                    region.span,
                    format!(
                        "region `{}` is listed twice in `argocd.promotion.order`",
                        region.value
                    ),
                )
                .with_related(first, "first listed here")
                .with_hint("a change reaches each region once: list it once"),
            );
        }
    }
    let missing: Vec<&str> = regions
        .iter()
        .copied()
        .filter(|r| !seen.contains_key(r))
        .collect();
    if !missing.is_empty() {
        // The hint's order: the known regions as listed, once, then the rest.
        let mut order: Vec<&str> = Vec::new();
        for region in &promotion.value.order {
            let name = region.value.as_str();
            if regions.contains(&name) && !order.contains(&name) {
                order.push(name);
            }
        }
        order.extend(&missing);
        diags.push(
            Diagnostic::error(
                Code::INVALID_VALUE,
                promotion.span,
                format!(
                    "`argocd.promotion.order` leaves out {}: its Applications would read `{}`, which nothing advances",
                    list("region", &missing),
                    promotion_branch(env, missing[0])
                ),
            )
            .with_label("every region of the environment, once")
            .with_hint(format!("write `order: [{}]`", order.join(", "))),
        );
    }
    let revision = argocd.target_revision.as_ref();
    match revision.map(|r| r.value.as_str()) {
        None | Some("" | "HEAD") => diags.push(
            Diagnostic::error(
                Code::INVALID_VALUE,
                revision.map_or(promotion.span, |r| r.span),
                "staged promotion needs `argocd.targetRevision` to name the branch `slipway publish` pushes to",
            )
            .with_label(match revision {
                Some(_) => "Argo CD reads this as the repository's default branch",
                None => "no `targetRevision` beside this",
            })
            .with_hint("write `targetRevision: main` (the branch, as `slipway publish --base` names it)"),
        ),
        Some(branch)
            if branch == PROMOTION_BRANCHES
                || branch.starts_with(&format!("{PROMOTION_BRANCHES}/")) =>
        {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_VALUE,
                    revision.map_or(promotion.span, |r| r.span),
                    format!(
                        "`argocd.targetRevision` `{branch}` is among the region branches under `{PROMOTION_BRANCHES}/`: git cannot hold it beside them"
                    ),
                )
                .with_hint("name the branch `slipway publish` pushes to, such as `main`"),
            );
        }
        Some(_) => {}
    }
}

/// `region `a``, `regions `a` and `b``.
fn list(what: &str, names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [one] => format!("{what} {one}"),
        [rest @ .., last] => format!("{what}s {} and {last}", rest.join(", ")),
        [] => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::de::from_node;
    use crate::parse::parse;
    use crate::source::Sources;

    /// The diagnostics of the environment checks of an overlay's `text`.
    fn checked(text: String) -> Vec<Diagnostic> {
        let mut sources = Sources::default();
        let id = sources.add("dev.yaml".into(), "dev.yaml".into(), text);
        let tree = parse(sources.get(id), id).expect("parses");
        let head: OverlayHead = from_node(&tree).expect("an overlay");
        let mut diags = Vec::new();
        check(&head, &tree, &mut diags);
        once_per_template(&mut diags, 0);
        diags
    }

    /// The messages of an overlay whose `environment` adds `extra`.
    fn refusals(extra: &str) -> Vec<String> {
        let text = format!(
            "metadata: {{name: dev}}\nenvironment:\n  namespace: ns\n  domain: example.com\n  gateway: istio-system/gw\n  regions: []\n{extra}"
        );
        checked(text).into_iter().map(|d| d.message).collect()
    }

    #[test]
    fn service_accounts_are_names_kubernetes_accepts() {
        for ok in [
            "  gatewayServiceAccount: istio-ingressgateway-service-account\n",
            "  gatewayServiceAccount: gateway.v2\n",
            "  prometheusServiceAccount: monitoring/prometheus-k8s\n",
        ] {
            assert_eq!(refusals(ok), Vec::<String>::new(), "{ok}");
        }
        let long_name = format!(
            "  prometheusServiceAccount: monitoring/{}\n",
            "p".repeat(200)
        );
        assert_eq!(
            refusals(&long_name),
            Vec::<String>::new(),
            "a name may be 253 long"
        );
        for bad in [
            "  gatewayServiceAccount: Not A SA\n".to_owned(),
            "  gatewayServiceAccount: \"\"\n".to_owned(),
            format!("  gatewayServiceAccount: {}\n", "g".repeat(254)),
            format!(
                "  prometheusServiceAccount: {}/prometheus\n",
                "m".repeat(64)
            ),
            format!(
                "  prometheusServiceAccount: monitoring/{}\n",
                "p".repeat(254)
            ),
            "  prometheusServiceAccount: monitoring/a..b\n".to_owned(),
        ] {
            assert_eq!(refusals(&bad).len(), 1, "{bad}");
        }
    }

    #[test]
    fn a_tracing_provider_and_a_repository_have_names() {
        let tracing = "  tracing: {samplingPercent: 1, provider: PROVIDER}\n";
        let argocd = "  argocd: {repoURL: REPO, targetRevision: \"\"}\n";
        let ok = format!(
            "{}{}",
            tracing.replace("PROVIDER", "jaeger"),
            argocd.replace("REPO", "https://git.example.com/gitops.git")
        );
        assert_eq!(
            refusals(&ok),
            Vec::<String>::new(),
            "an empty targetRevision is HEAD"
        );
        let empty = format!(
            "{}{}",
            tracing.replace("PROVIDER", "\"\""),
            argocd.replace("REPO", "\"\"")
        );
        assert_eq!(refusals(&empty).len(), 2, "{empty}");
    }

    #[test]
    fn passwords_in_the_prometheus_url_are_credentials() {
        assert!(has_password("http://admin:hunter2@prometheus:9090"));
        assert!(!has_password("http://admin@prometheus:9090"));
        assert!(!has_password("http://prometheus:9090/a:b@c"));
    }

    #[test]
    fn prometheus_addresses_are_urls_argo_rollouts_can_query() {
        for ok in [
            "http://prometheus-operated.monitoring.svc.cluster.local:9090",
            "https://prometheus.example.com",
            "HTTP://Prometheus:9090/",
            "http://10.0.0.7:9090/prometheus?x=%zz",
            "http://[fd00::7]:9090",
            "http://[::1]",
            "http://prometheus:/",
            "http://user@prometheus_1.monitoring:9090/a%20b#top",
        ] {
            assert_eq!(prometheus_address(ok), Ok(()), "{ok}");
        }
        for bad in [
            "prometheus:9090",
            "localhost:9090",
            "prometheus-operated.monitoring.svc:9090/",
            "ftp://prometheus:21",
            "http://",
            "http:///api",
            "http://:9090",
            "http://prom etheus:9090",
            "http://prometheus:90x0",
            "http://prometheus:0",
            "http://prometheus:65536",
            "http://[::1",
            "http://[::1]x",
            "http://us er@prometheus:9090",
            "http://prometheus/%zz",
            "http://prometheus\n",
            "",
        ] {
            assert!(prometheus_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_namespace_domain_and_gateway_are_templates() {
        let templated =
            "  namespace: \"{{ service.team }}-dev\"\n  domain: \"{{ env.name }}.example.com\"\n";
        let text = format!(
            "metadata: {{name: dev}}\nenvironment:\n{templated}  gateway: \"{{{{ env.name }}}}/gw\"\n  regions: [{{name: r, cluster: \"{{{{ env.name }}}}-r\"}}]\n  prometheusUrl: \"http://prometheus.{{{{ env.name }}}}:9090\"\n  argocd: {{repoURL: \"https://git/{{{{ env.name }}}}.git\", targetRevision: \"{{% if true %}}main{{% endif %}}\"}}\n  monitoring: {{labels: {{release: \"{{# x #}}\"}}}}\n"
        );
        let diags = checked(text);
        let fields: Vec<&str> = diags
            .iter()
            .map(|d| d.message.split('`').nth(1).unwrap_or_default())
            .collect();
        assert_eq!(
            fields,
            [
                "environment.regions[0].cluster",
                "environment.prometheusUrl",
                "environment.argocd.repoURL",
                "environment.argocd.targetRevision",
                "environment.monitoring.labels.release",
            ],
            "once each, and the URL not also as a bad host"
        );
    }
}
