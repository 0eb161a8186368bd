//! The whole pipeline on arbitrary bytes: load -> parse -> validate ->
//! merge -> template -> resolve -> lower -> check -> emit. It must never
//! panic, whatever the input. The first byte picks which file the rest
//! replaces in a small valid project: the blueprint or the overlay.

#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway::compile::{Selection, validated};
use slipway::load::from_memory;

const BLUEPRINT: &[u8] = include_bytes!("../../tests/fixtures/base/blueprints/web.yaml");
const WORKER: &[u8] = include_bytes!("../../tests/fixtures/base/blueprints/worker.yaml");
const OVERLAY: &[u8] = include_bytes!("../../tests/fixtures/base/overlays/dev.yaml");

fuzz_target!(|data: &[u8]| {
    let Some((&which, text)) = data.split_first() else {
        return;
    };
    let (blueprint, overlay) = if which % 2 == 0 {
        (text, OVERLAY)
    } else {
        (BLUEPRINT, text)
    };
    let loaded = from_memory(&[
        ("blueprints/web.yaml", blueprint),
        ("blueprints/worker.yaml", WORKER),
        ("overlays/dev.yaml", overlay),
    ]);
    let (project, _) = validated(loaded);
    let (documents, _) = project.render(&Selection::default(), |_| ());
    std::hint::black_box(documents);
});
