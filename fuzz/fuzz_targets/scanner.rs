//! The fast block-YAML scanner against saphyr on arbitrary text: whenever
//! the scanner reads a file, its events and spans must be saphyr's.

#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway::parse::scanners_agree;
use slipway::source::Sources;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut sources = Sources::default();
    let id = sources.add("t.yaml".into(), "t.yaml".into(), text.to_owned());
    if let Err(difference) = scanners_agree(sources.get(id), id) {
        panic!("{difference}");
    }
});
