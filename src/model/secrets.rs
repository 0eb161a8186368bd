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

/// Every secret reference of a service's containers, resolved: the env
/// value of each `(container, variable)`, and the ExternalSecret the
/// stored ones need.
#[derive(Debug, Default)]
pub struct Resolved {
    pub env: BTreeMap<(String, String), EnvValue>,
    pub external: Option<ExternalSecret>,
}

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
    /// The reference's `store` field.
    span: Span,
}

impl Collector {
    fn add(&mut self, container: &str, variable: &str, remote: Remote, span: Span) {
        self.wanted.push(Wanted {
            container: container.to_owned(),
            variable: variable.to_owned(),
            remote,
            span,
        });
    }

    /// The Secret key of each stored secret is its variable's name, so the
    /// Secret reads like the pod's environment; where two containers read
    /// one variable from different secrets, each key ends in a hash of what
    /// it reads, so no reference is refused for a name slipway derives.
    /// Without a store in the cluster, every stored secret is refused.
    fn finish(
        self,
        setting: &StoreSetting,
        env: &mut BTreeMap<(String, String), EnvValue>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<ExternalSecret> {
        if self.wanted.is_empty() {
            return None;
        }
        let Some(store) = &setting.store else {
            for wanted in &self.wanted {
                diags.push(no_store(wanted, setting));
            }
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

fn no_store(wanted: &Wanted, setting: &StoreSetting) -> Diagnostic {
    Diagnostic::error(
        Code::SECRET_STORE_MISSING,
        wanted.span,
        format!(
            "`{}` is read from the secret store, but environment `{}` names no `externalSecrets.store` for region `{}`",
            wanted.variable, setting.environment, setting.region.value
        ),
    )
    .with_label("a stored secret")
    .with_related(setting.region.span, "the region, with no ClusterSecretStore")
    .with_hint("set `environment.externalSecrets.store` (or this region's `externalSecrets.store`) in the overlay to the ClusterSecretStore that reads Secrets Manager, or reference an existing Secret: `{secret: <name>, key: <key>}`")
}

/// Resolve every `secrets` entry of a service's containers.
pub fn resolve(
    raw: &input::Blueprint,
    setting: &StoreSetting,
    diags: &mut Vec<Diagnostic>,
) -> Resolved {
    let mut env = BTreeMap::new();
    let mut stored = Collector::default();
    for (container, c) in &raw.containers {
        for (variable, reference) in &c.secrets {
            match form(variable, reference, diags) {
                Some(Form::Kubernetes { secret, key }) => {
                    env.insert(
                        (container.clone(), variable.clone()),
                        EnvValue::Secret { secret, key },
                    );
                }
                Some(Form::Stored(remote, span)) => stored.add(container, variable, remote, span),
                None => {}
            }
        }
    }
    let external = stored.finish(setting, &mut env, diags);
    Resolved { env, external }
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
    if let Err(reason) = secret_id(&store.value) {
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
    if let Some((version, Err(reason))) = version.map(|v| (v, version_id(&v.value))) {
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

/// What a secret's name may hold: ASCII letters, digits and `/_+=.@-`, 1 to
/// 512 of them (AWS Secrets Manager API Reference, `CreateSecret`, `Name`).
const NAME_LIMIT: usize = 512;
/// `GetSecretValue`'s `SecretId`, a name or an ARN, holds 2048 characters.
const SECRET_ID_LIMIT: usize = 2048;

/// A secret Secrets Manager can find by its name or ARN
/// (`arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`).
/// The external-secrets provider passes `remoteRef.key` as `SecretId`
/// (`providers/v1/aws/secretsmanager/secretsmanager.go`).
pub fn secret_id(key: &str) -> Result<(), String> {
    let name_chars = |name: &str| {
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
    };
    if key.len() > SECRET_ID_LIMIT {
        return Err(format!("is longer than {SECRET_ID_LIMIT} characters"));
    }
    let Some(arn) = key.strip_prefix("arn:") else {
        if key.is_empty() || key.len() > NAME_LIMIT {
            return Err(format!("must be 1 to {NAME_LIMIT} characters"));
        }
        if !name_chars(key) {
            return Err("may hold only ASCII letters, digits and `/_+=.@-`".to_owned());
        }
        return Ok(());
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let shaped = matches!(parts.as_slice(),
        [partition, "secretsmanager", region, account, "secret", name]
            if !partition.is_empty()
                && !region.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && !name.is_empty()
                && name_chars(name));
    if shaped {
        Ok(())
    } else {
        Err("is not a secret's ARN (`arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`)".to_owned())
    }
}

/// A version the provider can ask for: `uuid/<id>` is sent as `VersionId`
/// (32 to 64 characters), anything else as `VersionStage` (1 to 256)
/// (`secretsmanager.go`; API Reference, `GetSecretValue`).
pub fn version_id(version: &str) -> Result<(), String> {
    match version.strip_prefix("uuid/") {
        Some(id) if !(32..=64).contains(&id.len()) => Err(format!(
            "names version id `{id}`, which Secrets Manager holds to 32 to 64 characters"
        )),
        None if version.len() > 256 => Err(
            "is a version stage longer than the 256 characters Secrets Manager allows".to_owned(),
        ),
        _ => Ok(()),
    }
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

    #[test]
    fn secret_ids_are_names_or_arns() {
        for ok in [
            "orders/prod/db",
            "a",
            "team+x=y.z@w-1_2",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:orders/prod/db-AbCdEf",
            "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x",
        ] {
            assert_eq!(secret_id(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "has space",
            "colon:name",
            &"x".repeat(513),
            "arn:aws:secretsmanager:us-east-1:1234:secret:x",
            "arn:aws:ssm:us-east-1:123456789012:parameter/x",
        ] {
            assert!(secret_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_are_stages_or_uuids() {
        assert_eq!(version_id("AWSPREVIOUS"), Ok(()));
        assert_eq!(
            version_id("uuid/01234567-89ab-cdef-0123-456789abcdef"),
            Ok(())
        );
        assert!(version_id("uuid/short").is_err());
        assert!(version_id(&"s".repeat(257)).is_err());
    }

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
        collector.add("app", "DB_PASSWORD", remote("a"), NOWHERE);
        collector.add("sidecar", "DB_PASSWORD", remote("a"), NOWHERE);
        collector.add("app", "TOKEN", remote("t1"), NOWHERE);
        collector.add("sidecar", "TOKEN", remote("t2"), NOWHERE);
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
        collector.add("app", "A", remote("a"), NOWHERE);
        collector.add("app", "B", remote("b"), NOWHERE);
        let mut diags = Vec::new();
        let external = collector.finish(&setting(None), &mut BTreeMap::new(), &mut diags);
        assert!(external.is_none());
        assert_eq!(diags.len(), 2);
        assert!(
            diags[0].message.contains("environment `dev`"),
            "{}",
            diags[0].message
        );
        assert!(diags[0].message.contains("region `r1`"));
    }
}
