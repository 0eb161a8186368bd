//! Find and read the input files, safely: only regular UTF-8 files under
//! `blueprints/` and `overlays/`, never anything a symlink leads outside the
//! project root, never more than the size caps. The files Score workloads
//! name as a file's `source` are inputs too, read by the same rules.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rayon::prelude::*;
use walkdir::WalkDir;

use crate::diag::{Code, Diagnostic, printable};
use crate::input::{FileKind, SCORE_API_VERSION, SIDE_FILE_SUFFIX, score_sources, source_path};
use crate::node::Node;
use crate::parse::parse;
use crate::source::{FileId, SourceFile, Sources, Span, display_name};

/// Largest input file accepted.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Size caps on the input; [`Limits::default`] is what slipway uses.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub file_bytes: u64,
    pub total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            file_bytes: MAX_FILE_BYTES,
            total_bytes: MAX_TOTAL_BYTES,
        }
    }
}
/// Largest total input accepted.
pub const MAX_TOTAL_BYTES: u64 = 512 * 1024 * 1024;

/// The input folders and the schema their files follow.
pub const INPUT_DIRS: [(&str, FileKind); 2] = [
    ("blueprints", FileKind::Blueprint),
    ("overlays", FileKind::Overlay),
];

/// Everything read from disk, and the files that were refused.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: Sources,
    pub files: Vec<(FileId, FileKind)>,
    /// The stem of every blueprint file found, including refused ones.
    pub blueprint_stems: BTreeSet<String>,
    /// The files Score workloads name as a file's `source`.
    pub attached: Attached,
    pub diagnostics: Vec<Diagnostic>,
}

/// Each file Score workloads name as a file's `source`, by its project
/// path (`input::source_path`): its text added to the sources, or why it
/// was not (a refusal naming the file, which `validate` shows at the
/// `source` that names it).
pub type Attached = BTreeMap<String, Result<FileId, Box<Diagnostic>>>;

/// Read every `*.yaml`/`*.yml` file under the input folders of `root`, in
/// sorted path order. Errors are operational (no such project); refused
/// files are diagnostics.
pub fn load(root: &Path) -> anyhow::Result<Loaded> {
    load_with(root, Limits::default())
}

/// [`load`] with other size caps.
pub fn load_with(root: &Path, limits: Limits) -> anyhow::Result<Loaded> {
    let root = root
        .canonicalize()
        .with_context(|| format!("cannot open project folder `{}`", root.display()))?;
    if !INPUT_DIRS.iter().any(|(dir, _)| root.join(dir).is_dir()) {
        bail!(
            "`{}` has neither `blueprints/` nor `overlays/`; run slipway from a project root or pass `-C DIR`",
            root.display()
        );
    }
    let mut loaded = Loaded::default();
    let mut total = 0;
    for (dir, schema) in INPUT_DIRS {
        let found: Vec<(PathBuf, String)> = walk(&root, &root.join(dir), &mut loaded.diagnostics)
            .into_iter()
            .map(|path| {
                let name = display_name(&root, &path);
                (path, name)
            })
            .collect();
        if schema == FileKind::Blueprint {
            loaded
                .blueprint_stems
                .extend(found.iter().filter_map(|(path, _)| service_stem(path)));
        }
        // Sizes are checked in path order, so the total cap refuses the
        // same files on every run; the reading is parallel.
        let admitted: Vec<Result<(), Box<Diagnostic>>> = found
            .iter()
            .map(|(path, name)| admit(path, name, &mut total, limits))
            .collect();
        let read: Vec<Result<(Decoded, FileKind), Box<Diagnostic>>> = found
            .into_par_iter()
            .zip(admitted)
            .map(|((path, name), admitted)| {
                admitted?;
                let bytes = read(&path, &name, limits)?;
                let kind = kind_of(schema, &path);
                decoded(name, path, bytes).map(|file| (file, kind))
            })
            .collect();
        for file in read {
            match file {
                Ok((file, kind)) => {
                    if let Some(id) = add(&mut loaded, file) {
                        loaded.files.push((id, kind));
                    }
                }
                Err(diag) => loaded.diagnostics.push(*diag),
            }
        }
    }
    attach(&root, &mut loaded, &mut total, limits);
    Ok(loaded)
}

/// Read the files the Score workloads name as a file's `source` (each
/// workload parsed for it here, and again by `validate`, which translates
/// it), so their text is part of the sources and of their fingerprint.
fn attach(root: &Path, loaded: &mut Loaded, total: &mut u64, limits: Limits) {
    let mut wanted = BTreeSet::new();
    for &(id, kind) in &loaded.files {
        let file = loaded.sources.get(id);
        if kind != FileKind::Blueprint || !file.text.contains(SCORE_API_VERSION) {
            continue;
        }
        let Ok(tree) = parse(file, id) else {
            continue;
        };
        if tree.get("apiVersion").and_then(Node::as_str) != Some(SCORE_API_VERSION) {
            continue;
        }
        let paths = score_sources(&tree)
            .into_iter()
            .filter_map(|source| source_path(&file.name, source.as_str()?).ok());
        wanted.extend(paths);
    }
    for name in wanted {
        let path = root.join(&name);
        let outcome = read_source(root, &path, &name, total, limits)
            .map(|text| loaded.sources.add(name.clone(), path, text));
        loaded.attached.insert(name, outcome);
    }
}

/// One `source` file: the file itself, never through a symlink (nor one
/// out of the project root), within the size caps, UTF-8 (its text is
/// placeholders' and a ConfigMap's `data`). `Err` is a refusal naming the
/// file.
fn read_source(
    root: &Path,
    path: &Path,
    name: &str,
    total: &mut u64,
    limits: Limits,
) -> Result<String, Box<Diagnostic>> {
    let real = path.canonicalize().map_err(|e| {
        Box::new(
            Diagnostic::file_error(Code::UNREADABLE_FILE, name, format!("cannot read `{name}`: {e}"))
                .with_hint("a `source` is relative to the Score file's folder: create the file there, or correct the path"),
        )
    })?;
    if !real.starts_with(root) {
        return Err(Box::new(
            Diagnostic::file_error(
                Code::SYMLINK_OUTSIDE_ROOT,
                name,
                format!("`{name}` is a symlink that leads outside the project root"),
            )
            .with_hint("copy the file into the project instead of linking to it"),
        ));
    }
    // Git records a link, not what it leads to: `check --staged` could not
    // see an edit of the file behind it.
    if real != path {
        return Err(Box::new(
            Diagnostic::file_error(
                Code::SCORE_UNSUPPORTED,
                name,
                format!("`{name}` is reached through a symlink, and slipway reads a `source` only as the file itself: git records the link, not an edit of what it leads to"),
            )
            .with_hint("point `source` at the file itself, or copy the file there"),
        ));
    }
    let named = |mut diag: Box<Diagnostic>| {
        diag.message = format!("`{name}`: {}", diag.message);
        diag
    };
    admit(path, name, total, limits).map_err(named)?;
    let bytes = read(path, name, limits).map_err(named)?;
    String::from_utf8(bytes).map_err(|e| {
        Box::new(
            Diagnostic::file_error(
                Code::NOT_UTF8,
                name,
                format!(
                    "`{name}` is not valid UTF-8 (invalid byte at offset {}); slipway reads a `source` as text",
                    e.utf8_error().valid_up_to()
                ),
            )
            .with_hint("write a binary file as `binaryContent` (its bytes in base64)"),
        )
    })
}

/// Inputs given as bytes rather than read from disk (for the fuzzer):
/// `(path, bytes)` with paths such as `blueprints/orders.yaml`. The same
/// decoding and refusals apply as to files.
pub fn from_memory(files: &[(&str, &[u8])]) -> Loaded {
    let mut loaded = Loaded::default();
    for (name, bytes) in files {
        let Some((_, schema)) = INPUT_DIRS
            .iter()
            .find(|(dir, _)| name.starts_with(&format!("{dir}/")))
        else {
            continue;
        };
        let path = PathBuf::from(name);
        if *schema == FileKind::Blueprint {
            loaded.blueprint_stems.extend(service_stem(&path));
        }
        let kind = kind_of(*schema, &path);
        if bytes.len() as u64 > MAX_FILE_BYTES {
            loaded.diagnostics.push(Diagnostic::file_error(
                Code::FILE_TOO_LARGE,
                *name,
                format!(
                    "file is {} bytes; the limit is {MAX_FILE_BYTES}",
                    bytes.len()
                ),
            ));
            continue;
        }
        match decoded((*name).to_owned(), path, bytes.to_vec()) {
            Ok(file) => {
                if let Some(id) = add(&mut loaded, file) {
                    loaded.files.push((id, kind));
                }
            }
            Err(diag) => loaded.diagnostics.push(*diag),
        }
    }
    loaded
}

/// The kind a file's folder and name give it: a file of `blueprints/`
/// whose stem ends in `.slipway` is a Score workload's side file (whether
/// another blueprint is a Score workload its `apiVersion` says, once
/// parsed).
fn kind_of(folder: FileKind, path: &Path) -> FileKind {
    let side = path
        .file_stem()
        .is_some_and(|s| s.to_string_lossy().ends_with(SIDE_FILE_SUFFIX));
    match folder {
        FileKind::Blueprint if side => FileKind::ScoreExtension,
        other => other,
    }
}

/// The service a file of `blueprints/` names by its stem: none for a side
/// file, which belongs to the Score workload beside it.
fn service_stem(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_string_lossy().into_owned();
    (!stem.ends_with(SIDE_FILE_SUFFIX)).then_some(stem)
}

/// Input files under `dir`, sorted; refused entries become diagnostics.
fn walk(root: &Path, dir: &Path, diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if !dir.exists() {
        return files;
    }
    let mut entries = WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = entries.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                diags.push(walk_error(root, &error));
                continue;
            }
        };
        let name = display_name(root, entry.path());
        if name.chars().any(char::is_control) {
            diags.push(
                Diagnostic::file_error(
                    Code::UNREADABLE_FILE,
                    printable(&name),
                    "file name has control characters",
                )
                .with_hint("rename it: a name is printed in every message about the file"),
            );
            continue;
        }
        if entry.file_name().to_string_lossy().starts_with('.') && entry.depth() > 0 {
            if entry.file_type().is_dir() {
                entries.skip_current_dir();
            }
            continue;
        }
        // Folders that lead outside are skipped, so an entry that is not a
        // symlink is inside when its folder is; only symlinks (and the
        // input folder itself) need resolving.
        let inside = (entry.depth() > 0 && !entry.path_is_symlink())
            || entry
                .path()
                .canonicalize()
                .is_ok_and(|real| real.starts_with(root));
        if !inside {
            diags.push(
                Diagnostic::file_error(
                    Code::SYMLINK_OUTSIDE_ROOT,
                    name,
                    "symlink leads outside the project root",
                )
                .with_hint("copy the file into the project instead of linking to it"),
            );
            if entry.file_type().is_dir() {
                entries.skip_current_dir();
            }
            continue;
        }
        if entry.file_type().is_dir() {
            continue;
        }
        if is_yaml(entry.path()) {
            files.push(entry.into_path());
        }
    }
    files
}

fn walk_error(root: &Path, error: &walkdir::Error) -> Diagnostic {
    let name = error
        .path()
        .map_or_else(|| "?".into(), |p| display_name(root, p));
    if error.loop_ancestor().is_some() {
        Diagnostic::file_error(Code::SYMLINK_LOOP, name, "symlink loop")
            .with_hint("remove the symlink that points back to its own folder")
    } else {
        let cause = error
            .io_error()
            .map_or_else(|| error.to_string(), ToString::to_string);
        Diagnostic::file_error(Code::UNREADABLE_FILE, name, format!("cannot read: {cause}"))
    }
}

/// Is this an input file by its name (`.yaml` or `.yml`)?
pub fn is_yaml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

/// Check one file's size against the caps, counting it into `total`.
/// `Err` is a refusal naming the file.
fn admit(path: &Path, name: &str, total: &mut u64, limits: Limits) -> Result<(), Box<Diagnostic>> {
    let refuse = |code, message: String| Box::new(Diagnostic::file_error(code, name, message));
    let meta = fs::metadata(path)
        .map_err(|e| refuse(Code::UNREADABLE_FILE, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(refuse(Code::UNREADABLE_FILE, "not a regular file".into()));
    }
    if meta.len() > limits.file_bytes {
        return Err(Box::new(
            Diagnostic::file_error(Code::FILE_TOO_LARGE, name, format!("file is {} bytes; the limit is {}", meta.len(), limits.file_bytes))
                .with_hint("a blueprint or overlay is a few kilobytes; split large config files out of `files`"),
        ));
    }
    *total += meta.len();
    if *total > limits.total_bytes {
        return Err(refuse(
            Code::INPUT_TOO_LARGE,
            format!("input exceeds {} bytes in total", limits.total_bytes),
        ));
    }
    Ok(())
}

/// Read one admitted file, which may have grown since. `Err` is a refusal
/// naming the file.
fn read(path: &Path, name: &str, limits: Limits) -> Result<Vec<u8>, Box<Diagnostic>> {
    let refuse = |code, message: String| Box::new(Diagnostic::file_error(code, name, message));
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(limits.file_bytes + 1).read_to_end(&mut bytes))
        .map_err(|e| refuse(Code::UNREADABLE_FILE, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > limits.file_bytes {
        return Err(refuse(
            Code::FILE_TOO_LARGE,
            format!(
                "file grew past the limit of {} bytes while reading",
                limits.file_bytes
            ),
        ));
    }
    Ok(bytes)
}

/// A file read and decoded, with its source map built: the part of loading
/// that runs in parallel.
struct Decoded {
    file: SourceFile,
    /// Offset of a byte order mark inside the text.
    bom: Option<usize>,
}

/// Decode a file's bytes. `Err` is a refusal naming the file.
fn decoded(name: String, path: PathBuf, bytes: Vec<u8>) -> Result<Decoded, Box<Diagnostic>> {
    let text = decode(bytes).map_err(|message| {
        Box::new(
            Diagnostic::file_error(Code::NOT_UTF8, &name, message)
                .with_hint("save the file as UTF-8 (without a byte order mark)"),
        )
    })?;
    if text.trim().is_empty() {
        return Err(Box::new(
            Diagnostic::file_error(Code::EMPTY_FILE, name, "file is empty")
                .with_hint("delete it, or give it `apiVersion`, `kind` and `metadata`"),
        ));
    }
    let bom = text.find('\u{feff}');
    Ok(Decoded {
        file: SourceFile::new(name, path, text),
        bom,
    })
}

/// Register a decoded file; `None` (and a diagnostic) when it is refused.
fn add(loaded: &mut Loaded, decoded: Decoded) -> Option<FileId> {
    let id = loaded.sources.add_file(decoded.file);
    if let Some(at) = decoded.bom {
        let start = at as u32;
        let span = Span {
            file: id,
            start,
            end: start + 3,
        };
        loaded.diagnostics.push(
            Diagnostic::error(
                Code::BOM_INSIDE_FILE,
                span,
                "byte order mark in the middle of the file",
            )
            .with_hint("files were probably concatenated; remove the invisible U+FEFF character"),
        );
        return None;
    }
    Some(id)
}

fn decode(mut bytes: Vec<u8>) -> Result<String, String> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err("file is UTF-16; slipway reads UTF-8".into());
    }
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "file is not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_input_size_is_capped() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("blueprints")).expect("mkdir");
        for name in ["a", "b", "c"] {
            fs::write(
                dir.path().join(format!("blueprints/{name}.yaml")),
                "x: 1\n".repeat(20),
            )
            .expect("write");
        }
        let limits = Limits {
            file_bytes: 1000,
            total_bytes: 250,
        };
        let loaded = load_with(dir.path(), limits).expect("loads");
        assert_eq!(loaded.files.len(), 2, "the first two fit");
        assert_eq!(loaded.diagnostics.len(), 1);
        assert_eq!(
            loaded.diagnostics[0].message,
            "input exceeds 250 bytes in total"
        );
        let small = Limits {
            file_bytes: 50,
            total_bytes: 10_000,
        };
        let loaded = load_with(dir.path(), small).expect("loads");
        assert_eq!(loaded.diagnostics.len(), 3);
        assert_eq!(
            loaded.diagnostics[0].message,
            "file is 100 bytes; the limit is 50"
        );
    }

    #[test]
    fn inputs_from_memory_are_decoded_like_files() {
        let loaded = from_memory(&[
            ("blueprints/a.yaml", b"x: 1\n"),
            ("overlays/dev.yaml", b"\xff\xfe"),
            ("notes.txt", b"ignored"),
        ]);
        assert_eq!(loaded.files.len(), 1);
        assert_eq!(loaded.diagnostics.len(), 1);
        assert!(loaded.diagnostics[0].message.contains("UTF-16"));
    }
}
