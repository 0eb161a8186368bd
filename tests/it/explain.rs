//! `explain` answers for every field of the contract: the example platform
//! uses every field, so every leaf of every merged blueprint is a field the
//! schema knows, with a final value and at least one layer that set it.

use slipway::compile::{Selection, open};
use slipway::explain::{provenance, value_at};
use slipway::node::path::Segment;
use slipway::node::{Node, Value};
use slipway::validate::schema::check_field;

use crate::support::root;

fn leaves(node: &Node, path: &mut Vec<Segment>, out: &mut Vec<Vec<Segment>>) {
    match &node.value {
        Value::Map(entries) if !entries.is_empty() => {
            for entry in entries {
                path.push(Segment::Key(entry.key.clone()));
                leaves(&entry.value, path, out);
                path.pop();
            }
        }
        Value::Seq(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                path.push(Segment::Index(i));
                leaves(item, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

#[test]
fn every_field_of_every_service_is_explained() {
    let (project, diags) = open(root()).expect("opens");
    assert!(diags.is_empty(), "{diags:?}");
    let mut explained = 0;
    for env in ["dev", "staging", "prod"] {
        for service in project.inputs.blueprints.keys() {
            let selection = Selection {
                env: Some(env.into()),
                region: None,
                service: Some(service.clone()),
            };
            let (tree, layers) = project.merged(&selection).expect("merges");
            let mut paths = Vec::new();
            leaves(&tree, &mut Vec::new(), &mut paths);
            for path in paths {
                check_field(&path).unwrap_or_else(|e| panic!("{env} {service}: {e}"));
                assert!(value_at(&tree, &path).is_some());
                assert!(
                    !provenance(&layers, &path).is_empty(),
                    "{env} {service} {path:?} has a source"
                );
                explained += 1;
            }
        }
    }
    assert!(explained > 500, "{explained} fields explained");
}
