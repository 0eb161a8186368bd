//! `golden/` is the full `render --all` output of the example platform,
//! compared byte for byte. Regenerate with
//! `cargo run --release -- render --all -o golden` and review the diff.

use crate::support::{read_tree, root, run_in, updating};

#[test]
fn golden_tree_matches_a_fresh_render() {
    let golden = root().join("golden");
    if updating() {
        let run = run_in(root(), &["render", "--all", "-o", "golden"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("tree");
    let run = run_in(
        root(),
        &[
            "render",
            "--all",
            "-o",
            target.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (expected, actual) = (
        without_source(read_tree(&golden)),
        without_source(read_tree(&target)),
    );
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !actual.contains_key(*k))
        .collect();
    let extra: Vec<_> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    let changed: Vec<_> = expected
        .keys()
        .filter(|k| actual.get(*k).is_some_and(|a| a != &expected[*k]))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && changed.is_empty(),
        "golden/ is out of date (missing {missing:?}, extra {extra:?}, changed {changed:?}); \
         run `cargo run --release -- render --all -o golden` and review the diff"
    );
}

#[test]
fn rendering_twice_gives_identical_bytes() {
    let first = run_in(root(), &["render", "--env", "prod"]);
    let second = run_in(root(), &["render", "--env", "prod"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(!first.stdout.is_empty());
    assert_eq!(first.stdout, second.stdout);
}

/// The tree with its manifest's `source` left out: the fingerprint of the
/// inputs includes slipway's own source (`SLIPWAY_SOURCE_ID`), which every
/// change to slipway changes, whether or not it changes a rendered byte.
fn without_source(
    mut tree: std::collections::BTreeMap<String, Vec<u8>>,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    let source = regex::bytes::Regex::new(r#"\n  "source": "[0-9a-f]{64}","#).expect("regex");
    if let Some(manifest) = tree.get_mut(".slipway-manifest.json") {
        *manifest = source.replace(manifest, &b""[..]).into_owned();
    }
    tree
}
