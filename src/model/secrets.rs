//! Secret references: a Kubernetes Secret's key, or a secret of the cloud's
//! store (AWS Secrets Manager) that the service's ExternalSecret copies
//! into the Secret its pods read. No secret value passes through slipway:
//! the model holds names and keys only.

use std::collections::{BTreeMap, BTreeSet};

use super::workload::EnvValue;
use crate::diag::{Code, Diagnostic};
use crate::input;
use crate::names;
use crate::node::de::Spanned;
use crate::source::Span;

/// How often the operator reads a secret again unless the overlay says:
/// the operator's own default (`spec.refreshInterval`, `1h0m0s` in the
/// ExternalSecret CRD).
pub const DEFAULT_REFRESH_INTERVAL: &str = "1h";

/// The ClusterSecretStore a cluster's ExternalSecrets read through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretStore {
    pub name: String,
    pub refresh_interval: String,
}

/// What one cluster offers `store:` references: its store, if the overlay
/// names one for the region, and where the overlay would name it.
#[derive(Clone, Debug)]
pub struct StoreSetting {
    pub store: Option<SecretStore>,
    pub environment: String,
    /// The region's entry in the overlay.
    pub region: Spanned<String>,
}

impl StoreSetting {
    /// The environment's `externalSecrets`, with the region's own fields
    /// over it.
    pub fn new(head: &input::OverlayHead, region: &input::Region) -> StoreSetting {
        let layers = [&region.external_secrets, &head.environment.external_secrets];
        let field = |pick: fn(&input::SecretStore) -> &Option<Spanned<String>>| {
            layers
                .iter()
                .find_map(|layer| layer.as_ref().and_then(|l| pick(&l.value).clone()))
                .map(|s| s.value)
        };
        let store = field(|l| &l.store).map(|name| SecretStore {
            name,
            refresh_interval: field(|l| &l.refresh_interval)
                .unwrap_or_else(|| DEFAULT_REFRESH_INTERVAL.to_owned()),
        });
        StoreSetting {
            store,
            environment: head.metadata.name.value.clone(),
            region: region.name.clone(),
        }
    }
}

/// What the provider is asked for: `remoteRef` of an ExternalSecret's data.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Remote {
    /// The secret's name or ARN.
    pub key: String,
    /// A key of its JSON value; none: the whole value.
    pub property: Option<String>,
    /// A version stage or `uuid/<version id>`; none: `AWSCURRENT`.
    pub version: Option<String>,
}

/// One key of the Secret the ExternalSecret creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteValue {
    pub secret_key: String,
    pub remote: Remote,
}

/// A service's ExternalSecret: one per service, for every container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalSecret {
    pub store: SecretStore,
    /// By secret key.
    pub data: Vec<RemoteValue>,
}

/// The env value of each secret `(container, variable)` of a service.
pub type SecretEnv = BTreeMap<(String, String), EnvValue>;

/// The stored secrets of one service, each named by the variable it sets,
/// before their Secret keys are chosen.
#[derive(Debug, Default)]
pub struct Collector {
    wanted: Vec<Wanted>,
}

#[derive(Debug)]
struct Wanted {
    container: String,
    variable: String,
    remote: Remote,
    /// Where the secret is named (a reference's `store`).
    span: Span,
    /// What else asks for it, if not the blueprint (a dependency).
    because: Option<(Span, String)>,
}

impl Collector {
    /// `variable` of `container` reads `remote`, named at `span`; `because`
    /// is what needs it when `span` is not in the blueprint.
    pub fn add(
        &mut self,
        container: &str,
        variable: &str,
        remote: Remote,
        span: Span,
        because: Option<(Span, String)>,
    ) {
        self.wanted.push(Wanted {
            container: container.to_owned(),
            variable: variable.to_owned(),
            remote,
            span,
            because,
        });
    }

    /// The Secret key of each stored secret is its variable's name, so the
    /// Secret reads like the pod's environment; where two containers read
    /// one variable from different secrets, each key ends in a hash of what
    /// it reads, so no reference is refused for a name slipway derives.
    /// Without a store in the cluster, every stored secret is refused.
    pub fn finish(
        self,
        setting: &StoreSetting,
        env: &mut SecretEnv,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<ExternalSecret> {
        if self.wanted.is_empty() {
            return None;
        }
        let Some(store) = &setting.store else {
            // One finding per place a stored secret is named.
            let mut by_place: BTreeMap<Span, Vec<&Wanted>> = BTreeMap::new();
            for wanted in &self.wanted {
                by_place.entry(wanted.span).or_default().push(wanted);
            }
            diags.extend(by_place.values().map(|wanted| no_store(wanted, setting)));
            return None;
        };
        let mut reads: BTreeMap<&str, BTreeSet<&Remote>> = BTreeMap::new();
        for wanted in &self.wanted {
            reads
                .entry(wanted.variable.as_str())
                .or_default()
                .insert(&wanted.remote);
        }
        let mut data: BTreeMap<String, Remote> = BTreeMap::new();
        for wanted in &self.wanted {
            let secret_key = if reads[wanted.variable.as_str()].len() == 1 {
                wanted.variable.clone()
            } else {
                let Remote {
                    key,
                    property,
                    version,
                } = &wanted.remote;
                let read = format!(
                    "{key}\0{}\0{}",
                    property.as_deref().unwrap_or_default(),
                    version.as_deref().unwrap_or_default()
                );
                format!("{}-{}", wanted.variable, names::short_hash(&read))
            };
            env.insert(
                (wanted.container.clone(), wanted.variable.clone()),
                EnvValue::External {
                    key: secret_key.clone(),
                },
            );
            data.insert(secret_key, wanted.remote.clone());
        }
        Some(ExternalSecret {
            store: store.clone(),
            data: data
                .into_iter()
                .map(|(secret_key, remote)| RemoteValue { secret_key, remote })
                .collect(),
        })
    }
}

/// The stored secrets named at one place, in a cluster without a store.
fn no_store(wanted: &[&Wanted], setting: &StoreSetting) -> Diagnostic {
    let mut variables: Vec<String> = wanted.iter().map(|w| format!("`{}`", w.variable)).collect();
    variables.sort();
    variables.dedup();
    let (read, are) = match variables.as_slice() {
        [one] => (one.clone(), "is"),
        [rest @ .., last] => (format!("{} and {last}", rest.join(", ")), "are"),
        [] => (String::new(), "is"),
    };
    let first = wanted[0];
    let diag = Diagnostic::error(
        Code::SECRET_STORE_MISSING,
        first.span,
        format!(
            "{read} {are} read from the secret store, but environment `{}` names no `externalSecrets.store` for region `{}`",
            setting.environment, setting.region.value
        ),
    )
    .with_label("a stored secret")
    .with_related(setting.region.span, "the region, with no ClusterSecretStore")
    .with_hint("set `environment.externalSecrets.store` (or this region's `externalSecrets.store`) in the overlay to the ClusterSecretStore that reads Secrets Manager, or reference an existing Secret: `{secret: <name>, key: <key>}`");
    match &first.because {
        Some((span, label)) => diag.with_related(*span, label.clone()),
        None => diag,
    }
}

/// Resolve every `secrets` entry of a service's containers: the env value
/// of each reference to a Kubernetes Secret; the stored ones go to
/// `stored`, whose `finish` gives theirs.
pub fn references(
    raw: &input::Blueprint,
    stored: &mut Collector,
    diags: &mut Vec<Diagnostic>,
) -> SecretEnv {
    let mut env = BTreeMap::new();
    for (container, c) in &raw.containers {
        for (variable, reference) in &c.secrets {
            match form(variable, reference, diags) {
                Some(Form::Kubernetes { secret, key }) => {
                    env.insert(
                        (container.clone(), variable.clone()),
                        EnvValue::Secret { secret, key },
                    );
                }
                Some(Form::Stored(remote, span)) => {
                    stored.add(container, variable, remote, span, None);
                }
                None => {}
            }
        }
    }
    env
}

/// The Secrets a service's `{secret, key}` references name (each once, at
/// its first reference).
pub fn named(raw: &input::Blueprint) -> Vec<Spanned<String>> {
    let mut seen = BTreeSet::new();
    raw.containers
        .values()
        .flat_map(|c| c.secrets.values())
        .filter_map(|r| r.value.secret.as_ref())
        .filter(|name| seen.insert(name.value.clone()))
        .cloned()
        .collect()
}

/// What a reference is, once every layer is merged.
enum Form {
    Kubernetes { secret: String, key: String },
    Stored(Remote, Span),
}

/// Exactly one form, complete: `secret` and `key`, or `store` with its
/// optional `property` and `version`.
fn form(
    variable: &str,
    raw: &Spanned<input::SecretRef>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Form> {
    let r = &raw.value;
    let kubernetes: Vec<(&str, Span)> = [("secret", &r.secret), ("key", &r.key)]
        .into_iter()
        .filter_map(|(name, field)| Some((name, field.as_ref()?.span)))
        .collect();
    let stored_only: Vec<(&str, Span)> = [("property", &r.property), ("version", &r.version)]
        .into_iter()
        .filter_map(|(name, field)| Some((name, field.as_ref()?.span)))
        .collect();
    if let Some(store) = &r.store {
        if !kubernetes.is_empty() {
            let diag = Diagnostic::error(
                Code::INVALID_VALUE,
                raw.span,
                format!("secret `{variable}` is both a Kubernetes Secret's key and a stored secret (`store`)"),
            )
            .with_related(store.span, "`store` set here")
            .with_hint("layers merge: where you write one form, set the other's fields to `null` (`secret: null, key: null`, or `store: null`)");
            diags.push(kubernetes.iter().fold(diag, |d, (name, span)| {
                d.with_related(*span, format!("`{name}` set here"))
            }));
            return None;
        }
        return stored(variable, store, r, diags).map(|remote| Form::Stored(remote, store.span));
    }
    if let Some((name, span)) = stored_only.first() {
        diags.push(
            Diagnostic::error(
                Code::INVALID_VALUE,
                *span,
                format!("`{name}` of secret `{variable}` belongs to a stored secret, which names its `store`"),
            )
            .with_hint("add `store: <secret name or ARN>`, or remove `property` and `version` from a Kubernetes Secret's reference"),
        );
        return None;
    }
    match (&r.secret, &r.key) {
        (Some(secret), Some(key)) => {
            check_secret_ref(secret, key, diags).then(|| Form::Kubernetes {
                secret: secret.value.clone(),
                key: key.value.clone(),
            })
        }
        (secret, key) => {
            let (message, hint) = match (secret, key) {
                (Some(secret), None) => (
                    format!(
                        "secret `{variable}` names Secret `{}` but no `key` in it",
                        secret.value
                    ),
                    "add `key: <key in the Secret>`",
                ),
                (None, Some(key)) => (
                    format!(
                        "secret `{variable}` names key `{}` but no `secret` it is in",
                        key.value
                    ),
                    "add `secret: <Secret name>`",
                ),
                _ => (
                    format!(
                        "secret `{variable}` names neither a Kubernetes Secret nor a stored secret"
                    ),
                    "write `{secret: <name>, key: <key>}`, or `{store: <secret name or ARN>}`",
                ),
            };
            diags.push(Diagnostic::error(Code::MISSING_FIELD, raw.span, message).with_hint(hint));
            None
        }
    }
}

/// A secret reference must name a Secret and a key Kubernetes could have
/// (a Secret's name is a DNS-1123 subdomain; its keys follow
/// `IsConfigMapKey`), or the pod never starts (`CreateContainerConfigError`).
fn check_secret_ref(
    secret: &Spanned<String>,
    key: &Spanned<String>,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let checks = [
        (
            "Secret name",
            secret,
            names::dns1123_subdomain(&secret.value),
        ),
        ("Secret key", key, names::config_map_key(&key.value)),
    ];
    let mut ok = true;
    for (what, field, verdict) in checks {
        if let Err(reason) = verdict {
            ok = false;
            diags.push(Diagnostic::error(
                Code::INVALID_NAME,
                field.span,
                format!("invalid {what} `{}`: it {reason}", field.value),
            ));
        }
    }
    ok
}

/// A stored secret's `remoteRef`, each field as AWS Secrets Manager reads it.
fn stored(
    variable: &str,
    store: &Spanned<String>,
    r: &input::SecretRef,
    diags: &mut Vec<Diagnostic>,
) -> Option<Remote> {
    let before = diags.len();
    if let Err(reason) = names::aws_secret_id(&store.value) {
        diags.push(
            Diagnostic::error(
                Code::INVALID_NAME,
                store.span,
                format!("`store` of secret `{variable}` is not a Secrets Manager secret: `{}` {reason}", store.value),
            )
            .with_hint("write the secret's name (`orders/prod/db`) or its ARN (`arn:aws:secretsmanager:<region>:<account>:secret:<name>`)"),
        );
    }
    let version = r.version.as_ref();
    if let Some((version, Err(reason))) = version.map(|v| (v, names::aws_secret_version(&v.value)))
    {
        diags.push(
            Diagnostic::error(
                Code::INVALID_VALUE,
                version.span,
                format!("`version` of secret `{variable}` {reason}"),
            )
            .with_hint(
                "write a version stage (`AWSCURRENT`, `AWSPREVIOUS`) or `uuid/<version id>`",
            ),
        );
    }
    (diags.len() == before).then(|| Remote {
        key: store.value.clone(),
        property: r.property.as_ref().map(|p| p.value.clone()),
        version: r.version.as_ref().map(|v| v.value.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    const NOWHERE: Span = Span {
        file: FileId(0),
        start: 0,
        end: 0,
    };

    fn setting(store: Option<&str>) -> StoreSetting {
        StoreSetting {
            store: store.map(|name| SecretStore {
                name: name.into(),
                refresh_interval: DEFAULT_REFRESH_INTERVAL.into(),
            }),
            environment: "dev".into(),
            region: Spanned {
                span: NOWHERE,
                value: "r1".into(),
            },
        }
    }

    fn remote(key: &str) -> Remote {
        Remote {
            key: key.into(),
            property: None,
            version: None,
        }
    }

    #[test]
    fn secret_keys_are_variable_names_unless_two_reads_share_one() {
        let mut collector = Collector::default();
        collector.add("app", "DB_PASSWORD", remote("a"), NOWHERE, None);
        collector.add("sidecar", "DB_PASSWORD", remote("a"), NOWHERE, None);
        collector.add("app", "TOKEN", remote("t1"), NOWHERE, None);
        collector.add("sidecar", "TOKEN", remote("t2"), NOWHERE, None);
        let mut env = BTreeMap::new();
        let mut diags = Vec::new();
        let external = collector
            .finish(&setting(Some("aws")), &mut env, &mut diags)
            .expect("a store");
        assert!(diags.is_empty());
        let keys: Vec<&str> = external
            .data
            .iter()
            .map(|d| d.secret_key.as_str())
            .collect();
        assert_eq!(keys.len(), 3, "one read shared, two kept apart: {keys:?}");
        assert_eq!(keys[0], "DB_PASSWORD");
        assert!(keys[1].starts_with("TOKEN-") && keys[2].starts_with("TOKEN-"));
        let key_of =
            |container: &str, variable: &str| match &env[&(container.into(), variable.into())] {
                EnvValue::External { key } => key.clone(),
                other => panic!("{other:?}"),
            };
        assert_eq!(
            key_of("app", "DB_PASSWORD"),
            key_of("sidecar", "DB_PASSWORD")
        );
        assert_ne!(key_of("app", "TOKEN"), key_of("sidecar", "TOKEN"));
    }

    #[test]
    fn without_a_store_every_stored_secret_is_refused() {
        let mut collector = Collector::default();
        let elsewhere = Span {
            start: 1,
            ..NOWHERE
        };
        collector.add("app", "A", remote("a"), NOWHERE, None);
        collector.add("app", "B", remote("b"), elsewhere, None);
        collector.add("app", "C", remote("b"), elsewhere, None);
        let mut diags = Vec::new();
        let external = collector.finish(&setting(None), &mut BTreeMap::new(), &mut diags);
        assert!(external.is_none());
        assert_eq!(diags.len(), 2, "one finding per place: {diags:?}");
        assert!(
            diags[1].message.starts_with("`B` and `C` are read"),
            "{}",
            diags[1].message
        );
        assert!(
            diags[0].message.contains("environment `dev`"),
            "{}",
            diags[0].message
        );
        assert!(diags[0].message.contains("region `r1`"));
    }
}
