//! "did you mean ...?" for misspelled names.

/// The candidates close enough to `name` to be what was meant: within a
/// few edits, or containing it (`replica` -> `minReplicas`). Only the
/// nearest, and at most two when they tie.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let lower = name.to_lowercase();
    let mut near: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let candidate = c.to_lowercase();
            let distance = strsim::damerau_levenshtein(&lower, &candidate);
            let typo = distance <= (c.len() / 3).max(2);
            let part = lower.len() >= 4 && candidate.contains(&lower);
            (typo || part).then_some((distance, c))
        })
        .collect();
    near.sort();
    let best = near.first().map_or(0, |(d, _)| *d);
    near.into_iter()
        .take_while(|(d, _)| *d == best)
        .map(|(_, c)| c)
        .take(2)
        .collect()
}

/// A `did you mean` hint, if any candidate is close.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    match closest(name, candidates).as_slice() {
        [] => None,
        [one] => Some(format!("did you mean `{one}`?")),
        [one, two, ..] => Some(format!("did you mean `{one}` or `{two}`?")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let fields = ["minReplicas", "maxReplicas", "targetCPUUtilization"];
        assert_eq!(closest("maxReplica", fields), ["maxReplicas"]);
        assert_eq!(closest("replica", fields), ["maxReplicas", "minReplicas"]);
        assert_eq!(closest("replica", ["replicas", "containers"]), ["replicas"]);
        assert!(closest("zzz", fields).is_empty());
        assert_eq!(
            did_you_mean("imgae", ["image", "args"]).as_deref(),
            Some("did you mean `image`?")
        );
        assert_eq!(
            did_you_mean("replica", fields).as_deref(),
            Some("did you mean `maxReplicas` or `minReplicas`?")
        );
    }
}
