//! The typed objects behind a render, for tests that inspect more than the
//! emitted YAML.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use slipway::compile::{Project, Selection};
use slipway::lower::Rendered;

/// What the one render pipeline produced: the documents by path, every
/// typed object the `inspect` hook saw (by the path of its document), and
/// the mesh identities outside the rendered clusters.
pub struct Rendering {
    pub files: BTreeMap<String, String>,
    pub objects: BTreeMap<String, Rendered>,
    pub external_principals: BTreeSet<String>,
}

/// Render `selection` the way the commands do, asserting it has no
/// diagnostics, and keep the typed objects.
pub fn render(project: &Project, selection: &Selection) -> Rendering {
    let seen = Mutex::new((BTreeMap::new(), BTreeSet::new()));
    let (documents, diags) = project.render(selection, |group| {
        let mut seen = seen.lock().expect("no test thread panicked");
        for object in group.objects {
            let path = slipway::emit::path(group.env, group.region, object);
            seen.0.insert(path, object.clone());
        }
        seen.1.extend(group.external_principals.iter().cloned());
    });
    assert!(diags.is_empty(), "{diags:?}");
    let (objects, external_principals) = seen.into_inner().expect("no test thread panicked");
    Rendering {
        files: documents.into_iter().collect(),
        objects,
        external_principals,
    }
}
