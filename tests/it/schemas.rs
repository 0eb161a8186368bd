//! `schemas/overlay.schema.json` carries partial-blueprint definitions
//! generated from `schemas/blueprint.schema.json`: maps merge, so patches
//! need no required fields and may be `null` (delete); lists replace whole,
//! so list items stay complete.

use serde_json::{Map, Value, json};

use crate::support::{golden, root};

fn read(rel: &str) -> Value {
    let text = std::fs::read_to_string(root().join(rel)).expect("schema file");
    serde_json::from_str(&text).expect("schema is JSON")
}

fn nullable(schema: &mut Map<String, Value>) {
    match schema.get_mut("type") {
        Some(Value::String(t)) => {
            let t = t.clone();
            schema.insert("type".into(), json!([t, "null"]));
        }
        Some(Value::Array(types)) => types.push(json!("null")),
        _ => {}
    }
    if let Some(Value::Array(options)) = schema.get_mut("enum") {
        options.push(Value::Null);
    }
    if let Some(constant) = schema.remove("const") {
        schema.insert("enum".into(), json!([constant, null]));
    }
}

/// The patch form of a schema: nothing required, every value may be null.
fn patch(schema: &Value) -> Value {
    let Value::Object(source) = schema else {
        return schema.clone();
    };
    let mut out = source.clone();
    for key in ["required", "minProperties", "maxProperties"] {
        out.remove(key);
    }
    if let Some(Value::String(reference)) = out.get("$ref") {
        let target = format!("{reference}Patch");
        out.insert("$ref".into(), json!(target));
        return Value::Object(out);
    }
    if let Some(Value::Object(props)) = out.get_mut("properties") {
        for value in props.values_mut() {
            *value = patch(value);
        }
    }
    if let Some(additional @ Value::Object(_)) = out.get_mut("additionalProperties") {
        *additional = patch(additional);
    }
    nullable(&mut out);
    Value::Object(out)
}

/// The overlay schema's definitions of its own, not generated.
const OWN_DEFINITIONS: [&str; 4] = ["Region", "SecretStore", "DataStore", "Endpoints"];

fn expected_overlay_schema() -> Value {
    let blueprint = read("schemas/blueprint.schema.json");
    let mut overlay = read("schemas/overlay.schema.json");
    let mut root = blueprint.as_object().expect("object").clone();
    let defs = root
        .remove("$defs")
        .and_then(|d| d.as_object().cloned())
        .unwrap_or_default();
    for key in ["$schema", "title", "description", "required"] {
        root.remove(key);
    }
    let props = root
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .expect("properties");
    props.remove("apiVersion");
    props.remove("kind");
    if let Some(meta) = props
        .get_mut("metadata")
        .and_then(|m| m.get_mut("properties"))
        .and_then(Value::as_object_mut)
    {
        meta.remove("name");
    }
    let out_defs = overlay["$defs"].as_object_mut().expect("$defs");
    out_defs.retain(|name, _| OWN_DEFINITIONS.contains(&name.as_str()));
    out_defs.insert("BlueprintPatch".into(), patch(&Value::Object(root)));
    for (name, def) in defs {
        out_defs.insert(format!("{name}Patch"), patch(&def));
        out_defs.insert(name, def);
    }
    overlay
}

#[test]
fn overlay_patch_definitions_are_generated_from_the_blueprint_schema() {
    let expected = expected_overlay_schema();
    let text = serde_json::to_string_pretty(&expected).expect("serializes") + "\n";
    if let Err(out_of_date) = golden(&root().join("schemas/overlay.schema.json"), &text) {
        panic!("{out_of_date}");
    }
}
