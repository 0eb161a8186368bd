//! `files` -> one ConfigMap named from a sha256 of its content, so a content
//! change renames it, changes the pod template, and rolls the pods. Text
//! files are its `data`, binary ones its `binaryData` (their keys differ:
//! `model::workload` derives a key per file, and Kubernetes refuses a key
//! in both, `ValidateConfigMap`).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use sha2::{Digest, Sha256};

use super::meta::{object_meta, sync_before_workloads};
use crate::model::{FileContent, Service};
use crate::names::MAX_ANNOTATION_BYTES;

/// Hex digits of the content hash kept in the name.
const HASH_LEN: usize = 10;

pub fn config_map(service: &Service) -> Option<ConfigMap> {
    if service.files.is_empty() {
        return None;
    }
    let mut data = BTreeMap::new();
    let mut binary = BTreeMap::new();
    for f in &service.files {
        match &f.content {
            FileContent::Text(text) => {
                data.insert(f.key.clone(), text.clone());
            }
            FileContent::Binary(bytes) => {
                binary.insert(f.key.clone(), bytes.clone());
            }
        }
    }
    let name = format!("{}-{}", service.name, content_hash(&data, &binary));
    let mut metadata = object_meta(service, &name);
    sync_before_workloads(&mut metadata);
    let mut config = ConfigMap {
        metadata,
        data: (!data.is_empty()).then_some(data),
        binary_data: (!binary.is_empty()).then(|| {
            binary
                .into_iter()
                .map(|(key, bytes)| (key, ByteString(bytes)))
                .collect()
        }),
        immutable: Some(true),
    };
    if too_big_for_client_side_apply(&config) {
        config
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(SYNC_OPTIONS.into(), SERVER_SIDE_APPLY.into());
    }
    Some(config)
}

const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
const SERVER_SIDE_APPLY: &str = "ServerSideApply=true";
/// Room left in the annotations for those Argo CD and kubectl add besides
/// the object's copy (`argocd.argoproj.io/tracking-id` and the like).
const ANNOTATION_MARGIN: usize = 16 * 1024;

/// Would `kubectl apply`'s copy of the object in the annotation
/// `kubectl.kubernetes.io/last-applied-configuration` (its JSON) take the
/// object's annotations past Kubernetes' 256 KiB? Argo CD applies client
/// side unless told otherwise, and the API server then refuses the
/// object ("metadata.annotations: Too long: must have at most 262144
/// bytes"); Argo CD's `ServerSideApply=true` sync option, on the object
/// itself, keeps no such copy (argo-cd `docs/user-guide/sync-options.md`).
fn too_big_for_client_side_apply(config: &ConfigMap) -> bool {
    let copy = serde_json::to_vec(config).map_or(usize::MAX, |json| json.len());
    let annotations: usize = (config.metadata.annotations.iter().flatten())
        .map(|(k, v)| k.len() + v.len())
        .sum();
    copy.saturating_add(annotations) > MAX_ANNOTATION_BYTES - ANNOTATION_MARGIN
}

/// sha256 over length-prefixed keys and values, so no two maps share an
/// encoding; the binary files after a length no part has.
fn content_hash(data: &BTreeMap<String, String>, binary: &BTreeMap<String, Vec<u8>>) -> String {
    let mut hasher = Sha256::new();
    hash_entries(&mut hasher, data.iter().map(|(k, v)| (k, v.as_bytes())));
    if !binary.is_empty() {
        hasher.update(u64::MAX.to_be_bytes());
        hash_entries(&mut hasher, binary.iter().map(|(k, v)| (k, v.as_slice())));
    }
    let digest = hasher.finalize();
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..HASH_LEN]
        .to_owned()
}

fn hash_entries<'a>(hasher: &mut Sha256, entries: impl Iterator<Item = (&'a String, &'a [u8])>) {
    for (key, value) in entries {
        for part in [key.as_bytes(), value] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(key: &str, value: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(key.to_owned(), value.to_owned())])
    }

    fn bytes(key: &str, value: &str) -> BTreeMap<String, Vec<u8>> {
        BTreeMap::from([(key.to_owned(), value.as_bytes().to_vec())])
    }

    #[test]
    fn hash_changes_with_content_and_is_stable() {
        let none = BTreeMap::new();
        let (a, b) = (map("k", "v1"), map("k", "v2"));
        assert_eq!(content_hash(&a, &none), content_hash(&a.clone(), &none));
        assert_ne!(content_hash(&a, &none), content_hash(&b, &none));
        assert_eq!(content_hash(&a, &none).len(), HASH_LEN);
        let (split, joined) = (map("kv", "1"), map("k", "v1"));
        assert_ne!(content_hash(&split, &none), content_hash(&joined, &none));
        assert_ne!(
            content_hash(&a, &none),
            content_hash(&BTreeMap::new(), &bytes("k", "v1")),
            "binary data counts, apart from text"
        );
        assert_ne!(
            content_hash(&a, &bytes("k2", "x")),
            content_hash(&a, &bytes("k2", "y"))
        );
    }
}
