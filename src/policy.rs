//! Policy: rules about what may run where, over the resolved model, each
//! naming the file and line that broke it.

use crate::diag::Diagnostic;
use crate::model::Cluster;

/// Every policy finding in one cluster.
pub fn check(cluster: &Cluster) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    if cluster.env.production {
        no_fault_injection(cluster, &mut diags);
    }
    diags
}

/// Fault injection breaks requests on purpose; production is not the place.
fn no_fault_injection(cluster: &Cluster, diags: &mut Vec<Diagnostic>) {
    for service in &cluster.services {
        if let Some(fault) = &service.mesh.fault {
            diags.push(
                Diagnostic::error(
                    fault.span,
                    format!("fault injection for `{}` in production environment `{}`", service.name, cluster.env.name),
                )
                .with_label("introduced here")
                .with_hint("inject faults in dev or staging overlays; in prod set `mesh: {faultInjection: null}`"),
            );
        }
    }
}
