//! `files` -> one ConfigMap named from a sha256 of its content, so a content
//! change renames it, changes the pod template, and rolls the pods.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use sha2::{Digest, Sha256};

use super::meta::{object_meta, sync_before_workloads};
use crate::model::Service;

/// Hex digits of the content hash kept in the name.
const HASH_LEN: usize = 10;

pub fn config_map(service: &Service) -> Option<ConfigMap> {
    if service.files.is_empty() {
        return None;
    }
    let data: BTreeMap<String, String> = service
        .files
        .iter()
        .map(|f| (f.key.clone(), f.content.clone()))
        .collect();
    let name = format!("{}-{}", service.name, content_hash(&data));
    let mut metadata = object_meta(service, &name);
    sync_before_workloads(&mut metadata);
    Some(ConfigMap {
        metadata,
        data: Some(data),
        immutable: Some(true),
        ..ConfigMap::default()
    })
}

/// sha256 over length-prefixed keys and values, so no two maps share an encoding.
fn content_hash(data: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (key, value) in data {
        for part in [key, value] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
    }
    let digest = hasher.finalize();
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..HASH_LEN]
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_changes_with_content_and_is_stable() {
        let a = BTreeMap::from([("k".to_owned(), "v1".to_owned())]);
        let b = BTreeMap::from([("k".to_owned(), "v2".to_owned())]);
        assert_eq!(content_hash(&a), content_hash(&a.clone()));
        assert_ne!(content_hash(&a), content_hash(&b));
        assert_eq!(content_hash(&a).len(), HASH_LEN);
        let split = BTreeMap::from([("kv".to_owned(), "1".to_owned())]);
        let joined = BTreeMap::from([("k".to_owned(), "v1".to_owned())]);
        assert_ne!(content_hash(&split), content_hash(&joined));
    }
}
