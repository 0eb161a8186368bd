//! The fast block-YAML scanner against saphyr, event for event and span
//! for span: on every YAML file of the repository (inputs, fixtures, the
//! golden output) and on texts at the edges of the subset it reads.

use std::path::{Path, PathBuf};

use slipway::parse::scanners_agree;
use slipway::source::Sources;

fn agree(name: &str, text: &str) -> Result<bool, String> {
    let mut sources = Sources::default();
    let id = sources.add(name.into(), name.into(), text.into());
    scanners_agree(sources.get(id), id).map_err(|e| format!("{name}: {e}\n{text}"))
}

fn yaml_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            yaml_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            found.push(path);
        }
    }
}

#[test]
fn scanners_agree_on_every_file_of_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["blueprints", "overlays", "tests/fixtures", "golden"] {
        yaml_files(&root.join(dir), &mut files);
    }
    let mut taken = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("UTF-8");
        let name = path.display().to_string();
        taken += usize::from(agree(&name, &text).unwrap_or_else(|e| panic!("{e}")));
    }
    // Most of them are plain block YAML: the scanner must read them, or
    // this test checks nothing.
    assert!(taken * 2 > files.len(), "{taken} of {} files", files.len());
}

/// Each is read by the scanner (`true`) or left to saphyr (`false`); either
/// way its events must be saphyr's.
const EDGES: &[(&str, bool)] = &[
    ("a: x y  \nb:\n  c: \"q\"\n  d: [1, {e: f}]\n", true),
    (
        "l:\n- 1\n- k: v\n  m: n\nz: |\n  line1\n\n  line2\n\nw: {}\n",
        true,
    ),
    (
        "top:\n  s:\n    - k: v\n      j: [a]\n    - x\n  lit: |\n    hello\n     world\n  n:\n  after: 1\n",
        true,
    ),
    (
        "a:\n- k: v\n  j:\n- [x]\nb:\n  - {p: \"q r\", s: [1, 2], t: []}\n\"qk\": v w\nc:   spaced\n",
        true,
    ),
    ("- a\n- b\n", true),
    ("a:\n", true),
    ("a: |\n  x\n\n\n", true),
    (
        "image: registry.example.com/team/svc:1.0.0\nargs: [--port=8080, -v]\n",
        true,
    ),
    ("url: https://example.com/a?b=c\n", false),
    ("a: b\n  c\n", false),
    ("a: b # note\n", true),
    ("# head\na: b\n", true),
    (
        "# head\na: b # c\n# mid\ne:\n  # in\n  f: [1]\ng: |\n  lit\n  # not a comment\n# after lit\nh:   # on key\n  i: 1\nj: |\n  x\n\n   # c\nk:\n  - 1\n# end\n",
        true,
    ),
    ("a: # c\nb: 1\n", true),
    ("a:   \nb: 1\n", true),
    ("a:\n  - x # c\n  # d\n  - y\n", true),
    ("a: b#c\n", false),
    ("a: \"q\" # x\n", false),
    ("a: [1] # x\n", false),
    ("a: |  # x\n  y\n", false),
    ("a: [1, # x\n  2]\n", false),
    ("a: b", false),
    ("a: 'single'\n", false),
    ("a: \"esc\\n\"\n", false),
    ("a: |-\n  x\n", false),
    ("a: |\n\n  x\n", false),
    ("a: |\n  x\n   \n  y\n", false),
    ("a: >\n  x\n", false),
    ("a: &x 1\nb: *x\n", false),
    ("a: !!str 1\n", false),
    ("---\na: 1\n", false),
    ("a: 1\n---\nb: 2\n", false),
    ("a: [1,\n  2]\n", false),
    ("a: [1, ]\n", false),
    ("a: {b}\n", false),
    ("a: {b:c}\n", false),
    ("a : b\n", false),
    ("a:b\n", false),
    ("a: b: c\n", false),
    ("a:\n  - x\n  b: 1\n", false),
    ("a: 1\n- b\n", false),
    ("- - a\n", false),
    ("-\n  a\n", false),
    ("a:\tb\n", false),
    ("a: b\r\n", false),
    ("a: caf\u{e9}\n", false),
    ("  a: 1\n", false),
    ("\n\na: 1\n\n", true),
    (
        "a:\n  b:\n    c:\n      - d: 1\n        e:\n          - f\n",
        true,
    ),
    ("a: 0755\n", true),
    ("a: 1\na: 2\n", true),
    ("k: -1\nm: -.5\nn: ~\no: null\n", true),
    ("a: \"x\"y\n", false),
    ("d: \"q\"  \n", false),
    ("e: [1]  \n", false),
    ("f: {a: \"b\"  }\n", false),
    ("g: [ 1]\n", false),
    ("h: [a , b, {c: d }]\n", true),
    ("- {name: a -,b: c}\n", false),
    ("- [a, -]\n", false),
    ("d: {a: b c}\n", false),
    ("- \"z\"\n- [1]\n", true),
    ("\"a\":b\n", false),
];

#[test]
fn scanners_agree_at_the_edges_of_the_subset() {
    for (text, taken) in EDGES {
        let read = agree("edge.yaml", text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read, *taken, "taken by the scanner?\n{text}");
    }
}

#[test]
fn the_parser_gives_the_same_trees_and_errors_either_way() {
    // Errors always come from saphyr's path: a duplicate key or an
    // ambiguous number in a file the scanner reads reports as before.
    let mut sources = Sources::default();
    let id = sources.add("t.yaml".into(), "t.yaml".into(), "a: 1\na: 2\n".into());
    let err = slipway::parse::parse(sources.get(id), id).expect_err("duplicate");
    assert_eq!(err.message, "duplicate key `a`");
    let slipway::diag::Location::Span(span) = err.location else {
        panic!("no span");
    };
    assert_eq!(sources.locate(span), "t.yaml:2:1");
}
