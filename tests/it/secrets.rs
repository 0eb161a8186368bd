//! Secrets by reference, as the pods and the External Secrets Operator
//! read the rendered objects: every secret a pod reads by a `store:`
//! reference is a key of the Secret its service's ExternalSecret creates,
//! and that ExternalSecret asks its region's ClusterSecretStore for it.

use std::collections::BTreeMap;

use slipway::compile::{Selection, open};
use slipway::crd::external_secrets::ExternalSecret;
use slipway::lower::{Object, Rendered};

use crate::rendering::render;
use crate::support::root;

/// Every ExternalSecret of one cluster, by (namespace, target Secret).
fn external_secrets(objects: &[&Rendered]) -> BTreeMap<(String, String), ExternalSecret> {
    objects
        .iter()
        .filter_map(|r| match &r.object {
            Object::ExternalSecret(es) => Some((
                (
                    es.metadata.namespace.clone().unwrap_or_default(),
                    es.spec.target.name.clone(),
                ),
                es.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn cluster(env: &str, region: &str) -> Vec<Rendered> {
    let (project, diags) = open(root()).expect("example platform opens");
    assert!(diags.is_empty(), "{diags:?}");
    let selection = Selection {
        env: Some(env.into()),
        region: Some(region.into()),
        service: None,
    };
    let rendered = render(&project, &selection);
    rendered
        .objects
        .into_iter()
        .filter(|(path, _)| path.starts_with(&format!("{env}/{region}/")))
        .map(|(_, object)| object)
        .collect()
}

/// `(variable, Secret, key)` of every secretKeyRef of a Deployment's pods.
fn secret_env(object: &Rendered) -> Vec<(String, String, String)> {
    let Object::Deployment(d) = &object.object else {
        return Vec::new();
    };
    let pod = d.spec.template.spec.as_ref();
    pod.into_iter()
        .flat_map(|p| &p.containers)
        .flat_map(|c| c.env.iter().flatten())
        .filter_map(|e| {
            let r = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
            Some((e.name.clone(), r.name.clone(), r.key.clone()))
        })
        .collect()
}

#[test]
fn stored_secrets_come_from_the_regions_store_into_the_secret_the_pod_reads() {
    let mut stores = BTreeMap::new();
    for region in ["us-east-1", "eu-west-1"] {
        let objects = cluster("prod", region);
        let all: Vec<&Rendered> = objects.iter().collect();
        let secrets = external_secrets(&all);
        let payments = secrets
            .get(&("payments-prod".into(), "payments-external".into()))
            .expect("payments reads stored secrets");
        assert_eq!(payments.spec.secret_store_ref.kind, "ClusterSecretStore");
        assert_eq!(payments.spec.target.creation_policy, "Owner");
        assert_eq!(payments.spec.refresh_interval, "30m");
        stores.insert(region, payments.spec.secret_store_ref.name.clone());
        let mut read = 0;
        for object in &objects {
            let namespace = object
                .object
                .metadata()
                .namespace
                .clone()
                .unwrap_or_default();
            for (variable, secret, key) in secret_env(object) {
                let Some(es) = secrets.get(&(namespace.clone(), secret.clone())) else {
                    continue;
                };
                let data = es
                    .spec
                    .data
                    .iter()
                    .find(|d| d.secret_key == key)
                    .unwrap_or_else(|| panic!("{variable}: key `{key}` is in `{secret}`"));
                assert!(!data.remote_ref.key.is_empty());
                read += 1;
            }
        }
        assert!(
            read >= 2,
            "payments' two stored secrets are read in {region}"
        );
    }
    assert_eq!(stores["us-east-1"], "secrets-manager");
    assert_eq!(
        stores["eu-west-1"], "secrets-manager-eu-west-1",
        "the region's own store"
    );
}

#[test]
fn the_stored_secret_names_the_environments_key_and_property() {
    let objects = cluster("staging", "us-east-1");
    let all: Vec<&Rendered> = objects.iter().collect();
    let secrets = external_secrets(&all);
    let payments = &secrets[&("payments-staging".into(), "payments-external".into())];
    let api_key = payments
        .spec
        .data
        .iter()
        .find(|d| d.secret_key == "PSP_API_KEY")
        .expect("PSP_API_KEY");
    assert_eq!(api_key.remote_ref.key, "payments/staging/psp");
    assert_eq!(api_key.remote_ref.property.as_deref(), Some("api-key"));
    assert_eq!(payments.spec.refresh_interval, "1h", "the default");
}
