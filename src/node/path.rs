//! Field paths into a tree: `containers.app.variables.LOG_LEVEL`,
//! `routes[0].host`, as `explain` takes them and the schema checks them.

/// One step of a field path: a map key or a list index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Parse `containers.app.variables.LOG_LEVEL`, `routes[0].host` or
/// `metadata.annotations[example.com/owner]` (brackets hold keys with dots).
pub fn parse_path(text: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner
                .find(']')
                .ok_or_else(|| format!("`{text}`: `[` without `]`"))?;
            let key = &inner[..end];
            segments.push(
                key.parse()
                    .map_or_else(|_| Segment::Key(key.to_owned()), Segment::Index),
            );
            rest = inner[end + 1..]
                .strip_prefix('.')
                .unwrap_or(&inner[end + 1..]);
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let part = &rest[..end];
        if part.is_empty() {
            return Err(format!("`{text}` has an empty step"));
        }
        segments.push(
            part.parse()
                .map_or_else(|_| Segment::Key(part.to_owned()), Segment::Index),
        );
        rest = rest[end..].strip_prefix('.').unwrap_or(&rest[end..]);
    }
    if segments.is_empty() {
        return Err("the field path is empty".into());
    }
    Ok(segments)
}

/// `routes[0].host`
pub fn display(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
            Segment::Key(key) if key.contains('.') => out.push_str(&format!("[{key}]")),
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let key = |k: &str| Segment::Key(k.into());
        assert_eq!(
            parse_path("scaling.minReplicas"),
            Ok(vec![key("scaling"), key("minReplicas")])
        );
        assert_eq!(
            parse_path("routes[0].host"),
            Ok(vec![key("routes"), Segment::Index(0), key("host")])
        );
        assert_eq!(
            parse_path("routes.1"),
            Ok(vec![key("routes"), Segment::Index(1)])
        );
        assert_eq!(
            parse_path("metadata.annotations[example.com/owner]"),
            Ok(vec![
                key("metadata"),
                key("annotations"),
                key("example.com/owner")
            ])
        );
        assert!(parse_path("a..b").is_err());
        assert!(parse_path("a[0").is_err());
        assert_eq!(
            display(&parse_path("metadata.annotations[example.com/owner]").expect("path")),
            "metadata.annotations[example.com/owner]"
        );
    }
}
