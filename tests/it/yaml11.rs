//! Emitted strings read back identically under YAML 1.1 rules, which
//! Kubernetes and PyYAML use. The oracle is PyYAML's own implicit resolver
//! table (`yaml/resolver.py`), transcribed: a plain scalar that matches any
//! of these is not read as a string.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use regex::Regex;
use saphyr_parser::{Event, Parser, ScalarStyle};

const YAML11_IMPLICIT: &[&str] = &[
    // bool
    r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
    // float
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    // int
    r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
    // merge, null, timestamp, value
    r"^(?:<<)$",
    r"^(?:~|null|Null|NULL|)$",
    r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
    r"^(?:=)$",
    // YAML 1.2 core, for readers of the other kind
    r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$",
];

const TRICKY: &[&str] = &[
    "no",
    "No",
    "NO",
    "yes",
    "on",
    "off",
    "y",
    "n",
    "true",
    "False",
    "null",
    "~",
    "",
    " ",
    "1.10",
    "1.1",
    "0755",
    "0o755",
    "0x1F",
    "0b101",
    "1_000",
    "1e3",
    "1E+3",
    "-1",
    "+1",
    ".5",
    "-.inf",
    ".NaN",
    "1:30",
    "190:20:30",
    "2024-01-01",
    "2001-12-14t21:59:43.10-05:00",
    "<<",
    "=",
    "- item",
    "-",
    "--",
    "--port=8080",
    "key: value",
    "a #comment",
    "#x",
    "!tag",
    "&anchor",
    "*alias",
    "|",
    ">",
    "@x",
    "`x",
    "%x",
    "'q'",
    "\"q\"",
    "[a]",
    "{a: 1}",
    "?",
    "? x",
    ":",
    "x:",
    "trailing ",
    " leading",
    "tab\there",
    "line\nbreak",
    "multi\nline\n",
    "ends\n\n",
    "\nstarts",
    "back\\slash",
    "quote\"d",
    "ümlaut",
    "emoji 🚀",
    "nul\u{0}",
    "bell\u{7}",
    "bom\u{feff}",
    "250m",
    "512Mi",
    "1.8.2",
    "v1.2",
    "registry.example.com/a/b:1.8.2",
    "---",
    "...",
    "a: b: c",
];

fn parse_back(yaml: &str) -> Vec<(String, ScalarStyle)> {
    Parser::new_from_str(yaml)
        .filter_map(Result::ok)
        .filter_map(|(event, _)| match event {
            Event::Scalar(text, style, _, _) => Some((text.into_owned(), style)),
            _ => None,
        })
        .collect()
}

#[test]
fn emitted_strings_read_back_as_the_same_strings_under_yaml_1_1() {
    let oracle: Vec<Regex> = YAML11_IMPLICIT
        .iter()
        .map(|r| Regex::new(r).expect("regex"))
        .collect();
    let data: BTreeMap<String, String> = TRICKY
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("k{i:03}"), (*v).to_owned()))
        .collect();
    let config = ConfigMap {
        data: Some(data.clone()),
        ..ConfigMap::default()
    };
    let yaml = slipway::emit::to_yaml(&config);
    let scalars = parse_back(&yaml);
    for (key, value) in &data {
        let at = scalars
            .iter()
            .position(|(text, _)| text == key)
            .expect("key emitted");
        let (text, style) = &scalars[at + 1];
        assert_eq!(text, value, "{key} must round-trip:\n{yaml}");
        if *style == ScalarStyle::Plain {
            let hit = oracle.iter().find(|re| re.is_match(text));
            assert!(
                hit.is_none(),
                "plain {text:?} would not read as a string in YAML 1.1 ({hit:?})"
            );
        }
    }
}

#[test]
fn example_platform_variables_stay_text() {
    let out = crate::support::run_in(
        crate::support::root(),
        &["render", "--env", "prod", "--service", "orders"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    for expected in [
        "value: \"no\"",
        "value: \"1.10\"",
        "value: \"false\"",
        "value: \"8\"",
    ] {
        assert!(
            out.stdout.contains(expected),
            "{expected} in\n{}",
            out.stdout
        );
    }
}
