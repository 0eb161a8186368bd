//! Kubernetes naming rules, checked at compile time so the API server never
//! has to refuse what slipway rendered, and the names of AWS Secrets
//! Manager that rendered ExternalSecrets ask for.

use sha2::{Digest, Sha256};

/// Where the region branches of staged promotion live in the GitOps
/// repository: `slipway/promotion/<env>/<region>`. Environment and region
/// names are DNS-1123 labels (no `/`), so every branch here has exactly
/// four parts and none is the folder of another (git refuses `a` beside
/// `a/b`), in one environment or across several in one repository.
pub const PROMOTION_BRANCHES: &str = "slipway/promotion";

/// The branch one region's Applications read under staged promotion.
pub fn promotion_branch(env: &str, region: &str) -> String {
    format!("{PROMOTION_BRANCHES}/{env}/{region}")
}

/// A DNS-1123 label: lowercase alphanumerics and `-`, starting and ending
/// alphanumeric, at most `max` characters.
pub fn dns1123_label(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > max {
        return Err(format!(
            "is {} characters long; the limit is {max}",
            name.len()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("may contain only lowercase letters, digits and `-`".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// The longest DNS-1123 subdomain (`IsDNS1123Subdomain`).
pub const MAX_SUBDOMAIN: usize = 253;
/// Kubernetes' limit on the total size of an object's annotations
/// (apimachinery `ValidateAnnotationsSize`, `TotalAnnotationSizeLimitB`).
pub const MAX_ANNOTATION_BYTES: usize = 256 * 1024;
/// Kubernetes' limit on a ConfigMap's data (`ValidateConfigMap`,
/// `MaxSecretSize`).
pub const MAX_CONFIG_MAP_BYTES: usize = 1024 * 1024;

/// A DNS-1123 subdomain (most object names, ServiceAccount names among
/// them): lowercase alphanumerics and `-` in parts separated by `.`, each
/// part starting and ending alphanumeric, at most 253 characters in all.
/// As Kubernetes has it (kubernetes/apimachinery
/// `pkg/util/validation/validation.go`, `IsDNS1123Subdomain`), a part has
/// no length limit of its own.
pub fn dns1123_subdomain(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > MAX_SUBDOMAIN {
        return Err(format!(
            "is {} characters long; the limit is {MAX_SUBDOMAIN}",
            name.len()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err("may contain only lowercase letters, digits, `-` and `.`".into());
    }
    let alnum_ends = |part: &str| {
        part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    if !name.split('.').all(alnum_ends) {
        return Err(
            "must start and end with a letter or digit, and so must each part between dots".into(),
        );
    }
    Ok(())
}

/// A DNS-1035 label (Service names): a DNS-1123 label that starts with a letter.
pub fn dns1035_label(name: &str, max: usize) -> Result<(), String> {
    dns1123_label(name, max)?;
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a letter".into());
    }
    Ok(())
}

/// An IANA service name (container and Service port names).
pub fn port_name(name: &str) -> Result<(), String> {
    dns1123_label(name, 15)?;
    if name.contains("--") {
        return Err("must not contain `--`".into());
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err("must contain at least one letter".into());
    }
    Ok(())
}

/// An environment variable name as Kubernetes accepts it: any printable
/// ASCII character but `=` (KEP-4369, `RelaxedEnvironmentVariableValidation`,
/// stable since Kubernetes 1.34; slipway renders for 1.37).
pub fn env_var_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'=');
    if valid {
        Ok(())
    } else {
        Err("must be printable ASCII characters other than `=`".into())
    }
}

/// A key of a Secret or ConfigMap (kubernetes `apimachinery` validation
/// `IsConfigMapKey`): letters, digits, `-`, `_` and `.`, at most 253
/// characters, not `.` or `..` and not starting with `..`.
pub fn config_map_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 253 {
        return Err("must have 1 to 253 characters".into());
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err("may contain only letters, digits, `-`, `_` and `.`".into());
    }
    if key.starts_with("..") || key == "." {
        return Err("may not be `.` or start with `..`".into());
    }
    Ok(())
}

/// A label value: at most 63 characters, alphanumeric at both ends, `-_.` inside.
pub fn label_value(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err(format!(
            "is {} characters long; label values are limited to 63",
            value.len()
        ));
    }
    let ok_inner = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    let ok_ends = value.is_empty()
        || (value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()));
    if ok_inner && ok_ends {
        Ok(())
    } else {
        Err("may contain only letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit".into())
    }
}

/// An annotation key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters.
pub fn qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = key
        .rsplit_once('/')
        .map_or((None, key), |(p, n)| (Some(p), n));
    if let Some(prefix) = prefix {
        if dns1123_subdomain(prefix).is_err() {
            return Err("has an invalid prefix: it must be a lowercase DNS subdomain".into());
        }
    }
    if name.is_empty() {
        return Err("must have a name after the prefix".into());
    }
    label_value(name)
}

/// A container image reference the kubelet can pull, by the grammar of
/// distribution/reference (`reference.go`, which the kubelet applies and
/// reports `InvalidImageName` for): `[domain/]path[:tag][@digest]`, the
/// path made of lowercase components separated by `.`, `_`, `__` or `-`
/// runs, a tag of word characters, `.` and `-` (at most 128, not starting
/// with `.` or `-`), a digest `algorithm:hex`, and a name of at most 255
/// characters.
pub fn image_reference(image: &str) -> Result<(), String> {
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        image_digest(digest)?;
    }
    // A `:` after the last `/` starts the tag; one before it is a port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(colon) => (
            &rest[..last_slash + colon],
            Some(&rest[last_slash + colon + 1..]),
        ),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        image_tag(tag)?;
    }
    if name.is_empty() {
        return Err("has no repository name".into());
    }
    if name.len() > 255 {
        return Err(format!(
            "has a name of {} characters; the limit is 255",
            name.len()
        ));
    }
    let mut components: Vec<&str> = name.split('/').collect();
    let first = components[0];
    let has_domain = components.len() > 1
        && (first.contains(['.', ':'])
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase()));
    if has_domain {
        image_domain(first)?;
        components.remove(0);
    }
    components.into_iter().try_for_each(path_component)
}

fn image_domain(domain: &str) -> Result<(), String> {
    // `[::1]` and `[::1]:5000`: an IPv6 host, whose colons are not a port.
    let (host, port) = match domain
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
    {
        Some((ip6, rest)) => (&domain[..ip6.len() + 2], rest.strip_prefix(':')),
        None => match domain.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        },
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!(
            "has registry `{domain}`, whose port is not a number"
        ));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if bracketed || host.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!("has registry `{domain}`, which is not a host name"))
    }
}

fn path_component(component: &str) -> Result<(), String> {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let separators_ok = component
        .split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        .filter(|sep| !sep.is_empty())
        .all(|sep| matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-'));
    let ok = !bytes.is_empty()
        && alnum(bytes[0])
        && alnum(bytes[bytes.len() - 1])
        && bytes
            .iter()
            .all(|&b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        && separators_ok;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "has path component `{component}`: lowercase letters and digits, separated by `.`, `_`, `__` or dashes"
        ))
    }
}

fn image_tag(tag: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && word(tag.as_bytes()[0])
        && tag.bytes().all(|b| word(b) || matches!(b, b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "has tag `{tag}`: at most 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
        ))
    }
}

/// A digest the kubelet resolves: go-digest, which `reference.Parse`
/// calls, knows sha256, sha384 and sha512, each with its exact number of
/// lowercase hex digits.
fn image_digest(digest: &str) -> Result<(), String> {
    let length = match digest.split_once(':') {
        Some(("sha256", hex)) => (64, hex),
        Some(("sha384", hex)) => (96, hex),
        Some(("sha512", hex)) => (128, hex),
        _ => {
            return Err(format!(
                "has digest `{digest}`: write `sha256:` and 64 lowercase hex digits"
            ));
        }
    };
    let (expected, hex) = length;
    let lower_hex = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if hex.len() == expected && lower_hex {
        Ok(())
    } else {
        Err(format!(
            "has digest `{digest}`, which needs {expected} lowercase hex digits"
        ))
    }
}

/// `<base><suffix>`, shortened to fit `limit` characters when it does not:
/// a readable prefix of `base`, a hash of the whole of `base` (so distinct
/// bases stay distinct), then the suffix. Deterministic.
pub fn derived_name(base: &str, suffix: &str, limit: usize) -> String {
    let whole = format!("{base}{suffix}");
    if whole.len() <= limit {
        return whole;
    }
    let hash = short_hash(base);
    let keep = limit.saturating_sub(suffix.len() + hash.len() + 1);
    let prefix = base[..keep.min(base.len())].trim_end_matches(['-', '.']);
    format!("{prefix}-{hash}{suffix}")
}

/// Eight hex digits of the sha256 of `text`: what keeps shortened names of
/// distinct sources distinct.
pub fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A Service's name in the cluster's DNS: `<name>.<namespace>.svc.cluster.local`.
pub fn service_host(name: &str, namespace: &str) -> String {
    format!("{name}.{namespace}.svc.cluster.local")
}

/// What a secret's name may hold: ASCII letters, digits and `/_+=.@-`, 1 to
/// 512 of them (AWS Secrets Manager API Reference, `CreateSecret`, `Name`).
const NAME_LIMIT: usize = 512;
/// `GetSecretValue`'s `SecretId`, a name or an ARN, holds 2048 characters.
const SECRET_ID_LIMIT: usize = 2048;

/// A secret Secrets Manager can find by its name or ARN
/// (`arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`).
/// External Secrets' provider passes `remoteRef.key` as `SecretId`
/// (external-secrets `providers/v1/aws/secretsmanager/secretsmanager.go`).
pub fn aws_secret_id(key: &str) -> Result<(), String> {
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
pub fn aws_secret_version(version: &str) -> Result<(), String> {
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

    #[test]
    fn secret_ids_are_names_or_arns() {
        for ok in [
            "orders/prod/db",
            "a",
            "team+x=y.z@w-1_2",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:orders/prod/db-AbCdEf",
            "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x",
        ] {
            assert_eq!(aws_secret_id(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "has space",
            "colon:name",
            &"x".repeat(513),
            "arn:aws:secretsmanager:us-east-1:1234:secret:x",
            "arn:aws:ssm:us-east-1:123456789012:parameter/x",
        ] {
            assert!(aws_secret_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_are_stages_or_uuids() {
        assert_eq!(aws_secret_version("AWSPREVIOUS"), Ok(()));
        assert_eq!(
            aws_secret_version("uuid/01234567-89ab-cdef-0123-456789abcdef"),
            Ok(())
        );
        assert!(aws_secret_version("uuid/short").is_err());
        assert!(aws_secret_version(&"s".repeat(257)).is_err());
    }

    #[test]
    fn dns_labels() {
        assert!(dns1123_label("orders-v2", 40).is_ok());
        assert!(dns1123_label("Orders", 40).is_err());
        assert!(dns1123_label("-orders", 40).is_err());
        assert!(dns1123_label("a/b", 40).is_err());
        assert!(dns1123_label("..", 40).is_err());
        assert!(dns1123_label(&"a".repeat(41), 40).is_err());
        assert!(dns1035_label("9lives", 63).is_err());
        assert!(dns1035_label("lives9", 63).is_ok());
        assert!(dns1123_subdomain("prod.us-east-1.orders").is_ok());
        assert!(dns1123_subdomain("prod..orders").is_err());
        assert!(dns1123_subdomain("Prod.orders").is_err());
        // A part may be longer than a label (only the whole is limited).
        assert!(dns1123_subdomain(&format!("{}.orders", "a".repeat(100))).is_ok());
        assert!(dns1123_subdomain("prod.-orders").is_err());
        assert!(dns1123_subdomain("").is_err());
        assert!(dns1123_subdomain(".orders").is_err());
        // No limit per part, as Kubernetes has it: a ConfigMap named after
        // a 63-character service plus its hash is 74 characters of one part.
        assert!(dns1123_subdomain(&"a".repeat(74)).is_ok());
        assert!(dns1123_subdomain(&"a".repeat(253)).is_ok());
        assert!(dns1123_subdomain(&"a".repeat(254)).is_err());
    }

    #[test]
    fn port_and_env_names() {
        assert!(port_name("http").is_ok());
        assert!(port_name("grpc-web").is_ok());
        assert!(port_name("metrics-endpoint").is_err());
        assert!(port_name("8080").is_err());
        assert!(port_name("a--b").is_err());
        assert!(env_var_name("LOG_LEVEL").is_ok());
        assert!(env_var_name("1X").is_ok(), "allowed since Kubernetes 1.34");
        assert!(env_var_name("spring.profiles-active").is_ok());
        assert!(env_var_name("A=B").is_err());
        assert!(env_var_name("").is_err());
        assert!(env_var_name("caf\u{e9}").is_err());
        assert!(env_var_name("TAB\t").is_err());
    }

    #[test]
    fn labels_and_annotation_keys() {
        assert!(label_value("commerce").is_ok());
        assert!(label_value(&"x".repeat(64)).is_err());
        assert!(qualified_name("example.com/owner").is_ok());
        assert!(qualified_name("owner").is_ok());
        assert!(qualified_name("Example.com/owner").is_err());
    }

    #[test]
    fn secret_keys() {
        assert!(config_map_key("tls.crt").is_ok());
        assert!(config_map_key("access-key_2").is_ok());
        for bad in ["", "a/b", "..data", ".", "k v", &"k".repeat(254)] {
            assert!(config_map_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn image_references() {
        let sha = format!("sha256:{}", "a".repeat(64));
        for ok in [
            "nginx".to_owned(),
            "nginx:1.27".to_owned(),
            "registry.example.com/storefront/web:2.4.1".to_owned(),
            "registry.example.com:5000/a/b_c__d-e.f:v2.0.0-rc.1".to_owned(),
            "localhost/x".to_owned(),
            format!("ghcr.io/org/app@{sha}"),
            format!("ghcr.io/org/app:1.0@{sha}"),
            "[::1]:5000/app".to_owned(),
            "[::1]/app".to_owned(),
            format!("app@sha512:{}", "b".repeat(128)),
        ] {
            assert!(
                image_reference(&ok).is_ok(),
                "{ok}: {:?}",
                image_reference(&ok)
            );
        }
        for bad in [
            "",
            "Registry/App",
            "registry.example.com/App:1",
            "web:",
            "web:-1",
            "web@sha256:abc",
            "web@md5:0123456789abcdef0123456789abcdef",
            "web@sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "registry.example.com//web",
            "web app",
            "registry.example.com:x/web",
            "a..b",
            "-web",
        ] {
            assert!(image_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_names_fit_and_stay_distinct() {
        assert_eq!(derived_name("web", "-canary", 63), "web-canary");
        let long = "a".repeat(60);
        let other = format!("{}b", "a".repeat(59));
        let (one, two) = (
            derived_name(&long, "-canary", 63),
            derived_name(&other, "-canary", 63),
        );
        assert_eq!(one.len(), 63);
        assert!(one.starts_with("aaaa") && one.ends_with("-canary"), "{one}");
        assert_ne!(one, two);
        assert_eq!(one, derived_name(&long, "-canary", 63), "deterministic");
    }
}
