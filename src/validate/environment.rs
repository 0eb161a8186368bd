//! An overlay's `environment` settings that are read as written (no
//! merging, no templates): each must be what its consumer accepts, since
//! the consumer refuses it or misbehaves only once the rendered objects are
//! applied.

use std::path::{Component, Path};

use super::check_name;
use crate::diag::{Code, Diagnostic};
use crate::input::{ArgoCd, OverlayHead, Tracing};
use crate::names;
use crate::node::de::Spanned;

/// Every rule on the environment's settings.
pub fn check(head: &OverlayHead, diags: &mut Vec<Diagnostic>) {
    let env = &head.environment;
    if let Some(account) = &env.gateway_service_account {
        check_gateway_account(account, diags);
    }
    if let Some(account) = &env.prometheus_service_account {
        check_prometheus_account(account, diags);
    }
    if let Some(tracing) = &env.tracing {
        check_tracing(tracing, diags);
    }
    if let Some(argocd) = &env.argocd {
        check_argocd(argocd, diags);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::de::from_node;
    use crate::parse::parse;
    use crate::source::Sources;

    /// The diagnostics of an overlay whose `environment` adds `extra`.
    fn refusals(extra: &str) -> Vec<String> {
        let text = format!(
            "metadata: {{name: dev}}\nenvironment:\n  namespace: ns\n  domain: example.com\n  gateway: istio-system/gw\n  regions: []\n{extra}"
        );
        let mut sources = Sources::default();
        let id = sources.add("dev.yaml".into(), "dev.yaml".into(), text);
        let tree = parse(sources.get(id), id).expect("parses");
        let head: OverlayHead = from_node(&tree).expect("an overlay");
        let mut diags = Vec::new();
        check(&head, &mut diags);
        diags.into_iter().map(|d| d.message).collect()
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
}
