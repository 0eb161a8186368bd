//! Data stores, region-aware: a blueprint's `dependencies` (Score's
//! `resources`) name what the service needs, the overlay's
//! `environment.dataStores` says where each is in each region, and the
//! main container gets the connection as variables. A PostgreSQL has one
//! writer, in the primary region (an Aurora global database's primary
//! cluster, or the RDS instance cross-region replicas follow); every region
//! reads from its own reader. A Redis (ElastiCache) has a primary endpoint
//! in each region that runs a cache of its own.

use std::collections::BTreeMap;

use super::secrets::{Collector, Remote, SecretEnv};
use super::workload::{EnvValue, EnvVar};
use crate::diag::{Code, Diagnostic};
use crate::input::{self, StoreKind, Writes};
use crate::node::de::Spanned;
use crate::source::Span;
use crate::suggest::did_you_mean;

/// PostgreSQL's port unless the overlay says.
pub const POSTGRES_PORT: u16 = 5432;
/// Redis' port unless the overlay says.
pub const REDIS_PORT: u16 = 6379;
/// The keys of a credentials secret's JSON value: what RDS and ElastiCache
/// write into the secrets they manage (and what Secrets Manager's database
/// secret structure names).
pub const USERNAME_PROPERTY: &str = "username";
pub const PASSWORD_PROPERTY: &str = "password";

/// The data stores of one (environment, region).
#[derive(Debug)]
pub struct DataStores {
    stores: BTreeMap<String, DataStore>,
    environment: String,
    region: String,
    primary: String,
}

#[derive(Debug)]
struct DataStore {
    /// Its `type`, where the overlay defines it.
    kind: Spanned<StoreKind>,
    port: u16,
    database: Option<String>,
    credentials: Option<(Remote, Span)>,
    /// Its endpoints in this region, if it has an entry here.
    here: Option<Endpoints>,
    /// The primary region's writer.
    primary_writer: Option<String>,
}

#[derive(Debug)]
struct Endpoints {
    writer: Option<String>,
    reader: Option<String>,
}

impl DataStores {
    /// An overlay's data stores, as `region` sees them.
    pub fn new(head: &input::OverlayHead, region: &input::Region) -> DataStores {
        let env = &head.environment;
        let primary = env
            .primary_region()
            .map_or_else(String::new, |r| r.name.value.clone());
        let endpoints = |store: &input::DataStore, region: &str| {
            store.regions.get(region).map(|e| Endpoints {
                writer: e.value.writer.as_ref().map(|w| w.value.clone()),
                reader: e.value.reader.as_ref().map(|r| r.value.clone()),
            })
        };
        let stores = env
            .data_stores
            .iter()
            .map(|(name, store)| {
                let raw = &store.value;
                let default_port = match raw.kind.value {
                    StoreKind::Postgres => POSTGRES_PORT,
                    StoreKind::Redis => REDIS_PORT,
                };
                let store = DataStore {
                    kind: raw.kind,
                    port: raw.port.map_or(default_port, |p| p.value),
                    database: raw.database.as_ref().map(|d| d.value.clone()),
                    credentials: raw.credentials.as_ref().map(|c| {
                        let remote = Remote {
                            key: c.value.store.value.clone(),
                            property: None,
                            version: c.value.version.as_ref().map(|v| v.value.clone()),
                        };
                        (remote, c.value.store.span)
                    }),
                    here: endpoints(raw, &region.name.value),
                    primary_writer: endpoints(raw, &primary).and_then(|e| e.writer),
                };
                (name.clone(), store)
            })
            .collect();
        DataStores {
            stores,
            environment: head.metadata.name.value.clone(),
            region: region.name.value.clone(),
            primary,
        }
    }
}

/// One variable a dependency sets: its text, or a stored secret's key.
#[derive(Debug)]
enum Setting {
    Text(String),
    Stored,
}

/// The variables the dependencies of a service set in its main container,
/// before the stored ones have their Secret keys.
#[derive(Debug, Default)]
pub struct Connections {
    container: String,
    variables: Vec<(String, Setting)>,
}

impl Connections {
    /// The main container's variables, stored credentials read from the
    /// Secret keys `env` gives them.
    pub fn env(self, env: &SecretEnv) -> Vec<EnvVar> {
        let container = self.container;
        self.variables
            .into_iter()
            .filter_map(|(name, setting)| {
                let value = match setting {
                    Setting::Text(text) => EnvValue::Text(text),
                    Setting::Stored => env.get(&(container.clone(), name.clone()))?.clone(),
                };
                Some(EnvVar { name, value })
            })
            .collect()
    }
}

/// The prefix of a dependency's variables: its name in capitals, `-` as `_`.
pub fn prefix(dependency: &str) -> String {
    dependency.to_ascii_uppercase().replace('-', "_")
}

/// Connect every dependency of a service to its data store in this region;
/// credentials go to `stored`, for the service's ExternalSecret.
pub fn connect(
    raw: &input::Blueprint,
    stores: &DataStores,
    stored: &mut Collector,
    diags: &mut Vec<Diagnostic>,
) -> Connections {
    let Some((container, main)) = raw.containers.first() else {
        return Connections::default();
    };
    let mut connections = Connections {
        container: container.clone(),
        variables: Vec::new(),
    };
    let mut set: BTreeMap<String, (Span, String)> = main
        .variables
        .iter()
        .map(|(name, value)| {
            (
                name.clone(),
                (value.span, format!("main container `{container}`")),
            )
        })
        .chain(main.secrets.iter().map(|(name, reference)| {
            (
                name.clone(),
                (reference.span, format!("main container `{container}`")),
            )
        }))
        .collect();
    let mut connected = Vec::new();
    for (name, dependency) in &raw.dependencies {
        let Some(store) = data_store(name, dependency, stores, diags) else {
            continue;
        };
        connected.push((name.as_str(), dependency, store));
        let Some(hosts) = hosts(name, dependency, store, stores, diags) else {
            continue;
        };
        let p = prefix(name);
        let mut variables = vec![
            (format!("{p}_HOST"), Setting::Text(hosts.writer)),
            (format!("{p}_READ_HOST"), Setting::Text(hosts.reader)),
            (format!("{p}_PORT"), Setting::Text(store.port.to_string())),
        ];
        if let Some(database) = &store.database {
            variables.push((format!("{p}_NAME"), Setting::Text(database.clone())));
        }
        if let Some((remote, span)) = &store.credentials {
            for (suffix, property) in [
                ("USERNAME", USERNAME_PROPERTY),
                ("PASSWORD", PASSWORD_PROPERTY),
            ] {
                let variable = format!("{p}_{suffix}");
                let remote = Remote {
                    property: Some(property.to_owned()),
                    ..remote.clone()
                };
                let because = (
                    dependency.span,
                    format!("dependency `{name}`, which reads its credentials"),
                );
                stored.add(container, &variable, remote, *span, Some(because));
                variables.push((variable, Setting::Stored));
            }
        }
        for (variable, setting) in variables {
            let owner = format!("dependency `{name}`");
            if let Some((span, first)) = set.get(&variable) {
                diags.push(
                    Diagnostic::error(
                        Code::DUPLICATE_VARIABLE,
                        dependency.span,
                        format!("{owner} sets `{variable}`, which {first} sets too"),
                    )
                    .with_related(*span, format!("`{variable}` set here"))
                    .with_hint(
                        "rename the dependency (its name is the variables' prefix) or the variable",
                    ),
                );
                continue;
            }
            set.insert(variable.clone(), (dependency.span, owner));
            connections.variables.push((variable, setting));
        }
    }
    for (name, dependency, store) in connected {
        check_unset(main, name, dependency, store, &set, stores, diags);
    }
    connections
}

/// A main container's variable that refers (`$(DB_PASSWORD)`) to one of
/// the variables a dependency can set, where in this environment it does
/// not: the kubelet would leave the text `$(DB_PASSWORD)` as it is
/// (kubernetes/kubernetes `third_party/forked/golang/expansion/expand.go`).
fn check_unset(
    main: &input::Container,
    name: &str,
    dependency: &Spanned<input::Dependency>,
    store: &DataStore,
    set: &BTreeMap<String, (Span, String)>,
    stores: &DataStores,
    diags: &mut Vec<Diagnostic>,
) {
    let p = prefix(name);
    let wanted = dependency
        .value
        .data_store
        .as_ref()
        .map_or(name, |d| d.value.as_str());
    for (variable, value) in &main.variables {
        for reference in super::workload::references(&value.value) {
            let why = match reference.strip_prefix(&p).and_then(|r| r.strip_prefix('_')) {
                Some("NAME") => "no `database`",
                Some("USERNAME" | "PASSWORD") => "no `credentials`",
                _ => continue,
            };
            if set.contains_key(reference) {
                continue;
            }
            diags.push(
                Diagnostic::error(
                    Code::UNSET_VARIABLE,
                    value.span,
                    format!(
                        "`{variable}` refers to `$({reference})`, which dependency `{name}` does not set in environment `{}`: data store `{wanted}` has {why}",
                        stores.environment
                    ),
                )
                .with_related(store.kind.span, format!("data store `{wanted}`"))
                .with_hint(format!("give the data store {} in the overlay, or do not refer to `$({reference})`", why.trim_start_matches("no "))),
            );
        }
    }
}

/// The data store a dependency names, of its type.
fn data_store<'a>(
    name: &str,
    dependency: &Spanned<input::Dependency>,
    stores: &'a DataStores,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a DataStore> {
    let raw = &dependency.value;
    let (wanted, span) = raw
        .data_store
        .as_ref()
        .map_or((name, dependency.span), |d| (d.value.as_str(), d.span));
    let Some(store) = stores.stores.get(wanted) else {
        let diag = Diagnostic::error(
            Code::UNKNOWN_DATA_STORE,
            span,
            format!(
                "dependency `{name}` needs data store `{wanted}`, which environment `{}` does not have",
                stores.environment
            ),
        );
        diags.push(
            match did_you_mean(wanted, stores.stores.keys().map(String::as_str)) {
                Some(hint) => diag.with_hint(hint),
                None => diag.with_hint(
                    "add it to the overlay's `environment.dataStores`, or name one that is there (`dataStore: <name>`)",
                ),
            },
        );
        return None;
    };
    if store.kind.value != raw.kind.value {
        diags.push(
            Diagnostic::error(
                Code::DEPENDENCY_TYPE_MISMATCH,
                raw.kind.span,
                format!(
                    "dependency `{name}` is a {}, but data store `{wanted}` is a {}",
                    kind_name(raw.kind.value),
                    kind_name(store.kind.value)
                ),
            )
            .with_related(store.kind.span, "the data store's type")
            .with_hint("depend on a data store of the type the service speaks"),
        );
        return None;
    }
    Some(store)
}

fn kind_name(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::Postgres => "PostgreSQL (`postgres`)",
        StoreKind::Redis => "Redis (`redis`)",
    }
}

struct Hosts {
    /// Where writes go.
    writer: String,
    /// Where reads go, in the region.
    reader: String,
}

/// Where a dependency in this region writes and reads: writes go to the
/// region's own writer, else (`writes: primary`) to the primary region's;
/// reads to the region's reader, else its writer.
fn hosts(
    name: &str,
    dependency: &Spanned<input::Dependency>,
    store: &DataStore,
    stores: &DataStores,
    diags: &mut Vec<Diagnostic>,
) -> Option<Hosts> {
    let wanted = dependency
        .value
        .data_store
        .as_ref()
        .map_or(name, |d| d.value.as_str());
    let region = &stores.region;
    let Some(here) = &store.here else {
        diags.push(
            Diagnostic::error(
                Code::DATA_STORE_NOT_IN_REGION,
                dependency.span,
                format!(
                    "data store `{wanted}` has no endpoints in region `{region}` of environment `{}`, where dependency `{name}` needs it",
                    stores.environment
                ),
            )
            .with_related(store.kind.span, format!("data store `{wanted}`, with no entry for the region"))
            .with_hint(format!(
                "add `regions.{region}` to the data store, or leave the service out of the region (its `only`)"
            )),
        );
        return None;
    };
    let local = dependency.value.writes.filter(|w| w.value == Writes::Local);
    let writer = match (&here.writer, local) {
        (Some(writer), _) => writer.clone(),
        (None, Some(writes)) => {
            let elsewhere = store.primary_writer.as_ref().map_or_else(String::new, |_| {
                format!(": its writer is in the primary region `{}`", stores.primary)
            });
            diags.push(
                Diagnostic::error(
                    Code::NO_WRITER,
                    writes.span,
                    format!(
                        "dependency `{name}` writes locally, but data store `{wanted}` has no writer in region `{region}`{elsewhere}"
                    ),
                )
                .with_related(store.kind.span, format!("data store `{wanted}`"))
                .with_hint("without `writes: local` its writes go to the primary region's writer, across regions; or run the service only where the data store has a writer (`only`)"),
            );
            return None;
        }
        (None, None) => match &store.primary_writer {
            Some(writer) => writer.clone(),
            None => {
                diags.push(
                    Diagnostic::error(
                        Code::NO_WRITER,
                        dependency.span,
                        if *region == stores.primary {
                            format!("data store `{wanted}` has no writer in the primary region `{region}`, so dependency `{name}` has nowhere to write")
                        } else {
                            format!(
                                "data store `{wanted}` has no writer in region `{region}` nor in the primary region `{}`, so dependency `{name}` has nowhere to write",
                                stores.primary
                            )
                        },
                    )
                    .with_related(store.kind.span, format!("data store `{wanted}`"))
                    .with_hint("give the data store a `writer` in this region or the primary one"),
                );
                return None;
            }
        },
    };
    let reader = here
        .reader
        .clone()
        .or_else(|| here.writer.clone())
        .unwrap_or_else(|| writer.clone());
    Some(Hosts { writer, reader })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_capitals_with_underscores() {
        assert_eq!(prefix("db"), "DB");
        assert_eq!(prefix("orders-db"), "ORDERS_DB");
    }
}
