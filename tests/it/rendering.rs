//! The typed objects behind a render, for tests that inspect more than the
//! emitted YAML.

use std::collections::BTreeMap;
use std::sync::Mutex;

use slipway::compile::{Project, Selection};
use slipway::lower::Rendered;
use slipway::model::External;

/// What the one render pipeline produced: the documents by path, every
/// typed object the `inspect` hook saw (by the path of its document), and
/// the mesh identities and pods outside the rendered clusters.
pub struct Rendering {
    pub files: BTreeMap<String, String>,
    pub objects: BTreeMap<String, Rendered>,
    pub external: External,
}

/// Render `selection` the way the commands do, asserting it has no
/// diagnostics, and keep the typed objects.
pub fn render(project: &Project, selection: &Selection) -> Rendering {
    let seen = Mutex::new((BTreeMap::new(), External::default()));
    let (documents, diags) = project.render(selection, |group| {
        let mut seen = seen.lock().expect("no test thread panicked");
        for object in group.objects {
            let path = slipway::emit::path(group.env, group.region, object);
            seen.0.insert(path, object.clone());
        }
        let external = &mut seen.1;
        external
            .principals
            .extend(group.external.principals.iter().cloned());
        external.pods.extend(group.external.pods.iter().cloned());
        external
            .secrets
            .extend(group.external.secrets.iter().cloned());
    });
    assert!(diags.is_empty(), "{diags:?}");
    let (objects, external) = seen.into_inner().expect("no test thread panicked");
    Rendering {
        files: documents.into_iter().collect(),
        objects,
        external,
    }
}
