//! An overlay's `environment` settings that are read as written (no
//! merging, no templates): each must be what its consumer accepts, since
//! the consumer refuses it or misbehaves only once the rendered objects are
//! applied.

use crate::diag::{Code, Diagnostic};
use crate::input::OverlayHead;
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
}
