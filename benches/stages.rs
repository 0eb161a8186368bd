//! Micro-benchmarks of the hot stages on the example platform, so that a
//! regression in one stage shows up on its own: `cargo bench`.
//! The side-by-side comparison with Helm and Kustomize is bench/run.py.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use slipway::compile::{Selection, open, validated};
use slipway::load::from_memory;
use slipway::merge::{chain, merged};

fn project_files() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["blueprints", "overlays"]
        .iter()
        .flat_map(|dir| {
            std::fs::read_dir(root.join(dir))
                .expect("folder")
                .filter_map(Result::ok)
        })
        .map(|entry| {
            let name = entry
                .path()
                .strip_prefix(root)
                .expect("under root")
                .display()
                .to_string();
            (name, std::fs::read(entry.path()).expect("readable"))
        })
        .collect()
}

fn stages(c: &mut Criterion) {
    let files = project_files();
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    c.bench_function("load+parse+validate (example platform)", |b| {
        b.iter(|| validated(from_memory(black_box(&borrowed))))
    });

    let (project, _) = open(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("example platform");
    let overlay = &project.inputs.overlays["prod"].tree;
    c.bench_function("merge (every service, prod eu-west-1)", |b| {
        b.iter(|| {
            for blueprint in project.inputs.blueprints.values() {
                let patches = chain(overlay, "eu-west-1", &blueprint.name.value);
                black_box(merged(&blueprint.tree, &patches));
            }
        })
    });

    let prod = Selection {
        env: Some("prod".into()),
        ..Selection::default()
    };
    c.bench_function("resolve+lower+check (prod, 3 clusters)", |b| {
        b.iter(|| black_box(project.render(&prod)))
    });

    c.bench_function(
        "resolve+lower+check+emit, owner by owner (prod, 3 clusters)",
        |b| b.iter(|| black_box(project.render_documents(&prod))),
    );

    let (clusters, _) = project.render(&prod);
    c.bench_function("emit (prod, 3 clusters)", |b| {
        b.iter(|| black_box(slipway::emit::documents(&clusters)))
    });
}

criterion_group!(benches, stages);
criterion_main!(benches);
