//! Micro-benchmarks of the hot stages on the example platform, so that a
//! regression in one stage shows up on its own: `cargo bench`.
//! The side-by-side comparison with Helm and Kustomize is bench/run.py.

use std::hint::black_box;
use std::path::Path;
use std::sync::Mutex;

use criterion::{Criterion, criterion_group, criterion_main};
use slipway::compile::{Selection, open, validated};
use slipway::load::from_memory;
use slipway::merge::{Patches, merged};

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
            let index = Patches::new(overlay, "eu-west-1");
            for blueprint in project.inputs.blueprints.values() {
                let patches = index.chain(&blueprint.name.value);
                black_box(merged(&blueprint.tree, &patches));
            }
        })
    });

    let prod = Selection {
        env: Some("prod".into()),
        ..Selection::default()
    };
    c.bench_function(
        "resolve+lower+check+emit, owner by owner (prod, 3 clusters)",
        |b| b.iter(|| black_box(project.render(&prod, |_| ()))),
    );

    let objects = Mutex::new(Vec::new());
    project.render(&prod, |group| {
        let owned = (group.env.to_owned(), group.region.map(str::to_owned));
        let mut objects = objects.lock().expect("no bench thread panicked");
        objects.push((owned, group.objects.to_vec()));
    });
    let objects = objects.into_inner().expect("no bench thread panicked");
    c.bench_function("emit (prod, 3 clusters)", |b| {
        b.iter_batched(
            || objects.clone(),
            |groups| {
                for ((env, region), group) in groups {
                    black_box(slipway::emit::into_documents(
                        &env,
                        region.as_deref(),
                        group,
                    ));
                }
            },
            criterion::BatchSize::LargeInput,
        )
    });
}

criterion_group!(benches, stages);
criterion_main!(benches);
