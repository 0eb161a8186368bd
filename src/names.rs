//! Kubernetes naming rules, checked at compile time so the API server never
//! has to refuse what slipway rendered.

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

/// A DNS-1123 subdomain (most object names): dot-separated DNS-1123 labels,
/// at most 253 characters in all.
pub fn dns1123_subdomain(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!(
            "is {} characters long; the limit is 253",
            name.len()
        ));
    }
    name.split('.')
        .try_for_each(|label| dns1123_label(label, 63))
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
        if prefix.len() > 253
            || prefix
                .split('.')
                .any(|part| dns1123_label(part, 63).is_err())
        {
            return Err("has an invalid prefix: it must be a lowercase DNS subdomain".into());
        }
    }
    if name.is_empty() {
        return Err("must have a name after the prefix".into());
    }
    label_value(name)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
