//! Data stores, region-aware, as each region's pods see them: a service's
//! writes go to its data store's writer (the primary region's, for a
//! PostgreSQL), its reads to its own region's reader, and its credentials
//! come through its ExternalSecret.

use std::collections::BTreeMap;
use std::path::Path;

use slipway::compile::{Selection, open};
use slipway::lower::Object;

use crate::rendering::render;
use crate::support::root;

/// The main container's variables of `service`'s workload in one cluster:
/// plain values as they are, Secret keys as `secret:<Secret>/<key>`.
fn env_of(platform: &Path, env: &str, region: &str, service: &str) -> BTreeMap<String, String> {
    let (project, diags) = open(platform).expect("platform opens");
    assert!(diags.is_empty(), "{diags:?}");
    let selection = Selection {
        env: Some(env.into()),
        region: Some(region.into()),
        service: Some(service.into()),
    };
    let rendered = render(&project, &selection);
    let template = rendered
        .objects
        .values()
        .find_map(|r| match &r.object {
            Object::Deployment(d) if d.metadata.name.as_deref() == Some(service) => {
                Some(d.spec.template.clone())
            }
            Object::Rollout(r) if r.metadata.name.as_deref() == Some(service) => {
                Some(r.spec.template.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("{service} has a workload in {env}/{region}"));
    let pod = template.spec.expect("pod spec");
    pod.containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| {
            let value = match (
                &e.value,
                e.value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref()),
            ) {
                (Some(text), _) => text.clone(),
                (None, Some(r)) => format!("secret:{}/{}", r.name, r.key),
                (None, None) => String::new(),
            };
            (e.name.clone(), value)
        })
        .collect()
}

const WRITER: &str = "orders-prod.cluster-c9akciq32xlm.us-east-1.rds.amazonaws.com";

#[test]
fn postgres_writes_go_to_the_primary_and_reads_stay_in_the_region() {
    let east = env_of(root(), "prod", "us-east-1", "orders");
    let west = env_of(root(), "prod", "eu-west-1", "orders");
    assert_eq!(east["DB_HOST"], WRITER);
    assert_eq!(
        west["DB_HOST"], WRITER,
        "eu-west-1 writes to the primary's writer"
    );
    assert_eq!(
        east["DB_READ_HOST"],
        "orders-prod.cluster-ro-c9akciq32xlm.us-east-1.rds.amazonaws.com"
    );
    assert_eq!(
        west["DB_READ_HOST"], "orders-prod-eu.cluster-ro-c4bnx81kd2pq.eu-west-1.rds.amazonaws.com",
        "eu-west-1 reads its own replica"
    );
    for env in [&east, &west] {
        assert_eq!(env["DB_PORT"], "5432");
        assert_eq!(env["DB_NAME"], "orders");
        assert_eq!(env["DB_USERNAME"], "secret:orders-external/DB_USERNAME");
        assert_eq!(env["DB_PASSWORD"], "secret:orders-external/DB_PASSWORD");
    }
}

#[test]
fn a_single_instance_serves_reads_too() {
    let dev = env_of(root(), "dev", "us-east-1", "orders");
    assert_eq!(dev["DB_HOST"], dev["DB_READ_HOST"]);
}

#[test]
fn a_cache_per_region_takes_local_writes() {
    let east = env_of(root(), "prod", "us-east-1", "checkout");
    let west = env_of(root(), "prod", "eu-west-1", "checkout");
    assert_eq!(
        east["SESSIONS_HOST"],
        "master.sessions-prod.x1fq2r.use1.cache.amazonaws.com"
    );
    assert_eq!(
        west["SESSIONS_HOST"],
        "master.sessions-prod.k7d0wz.euw1.cache.amazonaws.com"
    );
    assert_eq!(
        west["SESSIONS_READ_HOST"],
        "replica.sessions-prod.k7d0wz.euw1.cache.amazonaws.com"
    );
    assert_eq!(east["SESSIONS_PORT"], "6379");
    assert!(
        !east.contains_key("SESSIONS_NAME"),
        "Redis has no database name"
    );
    let staging = env_of(root(), "staging", "eu-west-1", "checkout");
    assert!(
        !staging.contains_key("SESSIONS_PASSWORD"),
        "no credentials where the data store has none"
    );
}

#[test]
fn variables_that_use_the_connection_come_after_it() {
    let (project, diags) = open(root()).expect("example platform opens");
    assert!(diags.is_empty(), "{diags:?}");
    let selection = Selection {
        env: Some("prod".into()),
        region: Some("eu-west-1".into()),
        service: Some("order-worker".into()),
    };
    let rendered = render(&project, &selection);
    let Some(Object::Deployment(d)) = rendered
        .objects
        .values()
        .map(|r| &r.object)
        .find(|o| o.id().name == "order-worker" && matches!(o, Object::Deployment(_)))
    else {
        panic!("order-worker is a Deployment");
    };
    let pod = d.spec.template.spec.as_ref().expect("pod spec");
    let names: Vec<&str> = pod.containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| e.name.as_str())
        .collect();
    let at = |name: &str| names.iter().position(|n| *n == name).expect(name);
    for used in ["ORDERS_DB_HOST", "ORDERS_DB_PORT", "ORDERS_DB_NAME"] {
        assert!(at(used) < at("ORDERS_DB_URL"), "{names:?}");
    }
}

#[test]
fn the_credentials_are_read_from_the_data_stores_secret() {
    let (project, diags) = open(root()).expect("example platform opens");
    assert!(diags.is_empty(), "{diags:?}");
    let selection = Selection {
        env: Some("prod".into()),
        region: Some("eu-west-1".into()),
        service: Some("orders".into()),
    };
    let rendered = render(&project, &selection);
    let external = rendered
        .objects
        .values()
        .find_map(|r| match &r.object {
            Object::ExternalSecret(es)
                if es.metadata.name.as_deref() == Some("orders-external") =>
            {
                Some(es.clone())
            }
            _ => None,
        })
        .expect("orders has an ExternalSecret");
    let reads: BTreeMap<&str, (&str, Option<&str>)> = external
        .spec
        .data
        .iter()
        .map(|d| {
            let r = &d.remote_ref;
            (
                d.secret_key.as_str(),
                (r.key.as_str(), r.property.as_deref()),
            )
        })
        .collect();
    assert_eq!(
        reads["DB_USERNAME"],
        ("commerce/prod/orders-db", Some("username"))
    );
    assert_eq!(
        reads["DB_PASSWORD"],
        ("commerce/prod/orders-db", Some("password"))
    );
    assert_eq!(
        external.spec.secret_store_ref.name,
        "secrets-manager-eu-west-1"
    );
}

#[test]
fn a_replica_region_of_the_second_platform_writes_across_regions() {
    let fleet = root().join("tests/fixtures/platforms/fleet");
    let us = env_of(&fleet, "staging", "us-east-2", "billing-api");
    assert_eq!(
        us["LEDGER_HOST"],
        "billing-staging.cq1x9tz0v2sd.eu-central-1.rds.amazonaws.com"
    );
    assert_eq!(
        us["LEDGER_READ_HOST"],
        "billing-staging-replica.c7m2kq5wq1ab.us-east-2.rds.amazonaws.com"
    );
    assert_eq!(us["LEDGER_PORT"], "5433");
}
