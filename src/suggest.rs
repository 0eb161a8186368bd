//! "did you mean ...?" for misspelled names.

/// The closest candidate to `name`, if one is close enough to be a typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&name.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(distance, c)| *distance <= (c.len() / 3).max(2))
        .min()
        .map(|(_, c)| c)
}

/// A `did you mean` hint, if any candidate is close.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let fields = ["minReplicas", "maxReplicas", "targetCPUUtilization"];
        assert_eq!(closest("maxReplica", fields), Some("maxReplicas"));
        assert_eq!(
            closest("replica", ["replicas", "containers"]),
            Some("replicas")
        );
        assert_eq!(closest("zzz", fields), None);
    }
}
