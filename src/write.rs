//! Writing the rendered tree: every file via temp + rename, only files whose
//! bytes change, and removal of the files a previous render wrote that are
//! no longer rendered. Ownership is tracked in a manifest of sha256 sums, so
//! files slipway did not write are never touched. A tree one render wrote
//! whole also records what it was rendered from and git's object ids of
//! its files, folder by folder, which lets `check` prove it current from
//! git's index alone ([`Provenance`]). And the one input file slipway
//! writes, an edit `set-image` made (`replace_input`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The ownership manifest, at the root of the output folder.
pub const MANIFEST: &str = ".slipway-manifest.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    /// The fingerprint of the inputs (`Sources::fingerprint`: slipway's
    /// source and every input file) when one render wrote the whole tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    /// With `source`: top-level folder -> [`folder_digests`] of its files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    folders: BTreeMap<String, String>,
    /// Relative path -> sha256 of the bytes slipway wrote there.
    files: BTreeMap<String, String>,
    /// A render is writing the tree, or was interrupted while it did: the
    /// files are part old, part new. Written before the first file and
    /// cleared by the final manifest, so `check` sees an interruption and
    /// the next render cleans up after it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    incomplete: bool,
}

/// The temporary files `write_file` creates: `.slipway-<random>.tmp`.
fn is_leftover(name: &str) -> bool {
    name.starts_with(".slipway-") && name.ends_with(".tmp")
}

/// What a write did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
}

/// Make `out` hold `files`. Files slipway wrote earlier under paths for which
/// `in_scope` holds, and that are not in `files`, are removed.
pub fn write_tree(
    out: &Path,
    files: &BTreeMap<String, String>,
    in_scope: impl Fn(&str) -> bool,
    origin: Origin<'_>,
) -> anyhow::Result<Report> {
    for rel in files.keys() {
        check_relative(rel)?;
    }
    // `out/` with a trailing slash would make lstat follow a symlink.
    let out: &Path = &out.components().collect::<PathBuf>();
    if fs::symlink_metadata(out).is_ok_and(|m| m.file_type().is_symlink()) {
        bail!(
            "refusing to write into `{}`: it is a symlink; name the real folder with -o",
            out.display()
        );
    }
    if let Some(staging) = staging_for(out)? {
        return write_fresh(out, &staging, files, origin.whole_fingerprint());
    }
    fs::create_dir_all(out)
        .with_context(|| format!("cannot create output folder `{}`", out.display()))?;
    let root = out
        .canonicalize()
        .with_context(|| format!("cannot open `{}`", out.display()))?;
    let old = read_manifest(&root)?;
    refuse_foreign(&root, files, &old)?;
    if old.incomplete {
        remove_leftovers(&root, &old)?;
    }
    // From here until the final manifest, the tree is part old, part new:
    // say so first, listing every file this render may write as slipway's.
    let mut pending = Manifest {
        files: old.files.clone(),
        incomplete: true,
        ..Manifest::default()
    };
    for rel in files.keys() {
        pending.files.entry(rel.clone()).or_default();
    }
    write_manifest(&root, &pending)?;
    make_folders(&root, files.keys())?;
    // Files are independent: compare and write them in parallel. A file the
    // last render did not write is written without reading it first.
    let outcomes: Vec<(Sums, bool)> = files
        .par_iter()
        .map(|(rel, text)| {
            let path = root.join(rel);
            let same =
                old.files.contains_key(rel) && read_regular(&path).is_ok_and(|old| old == *text);
            if !same {
                write_file(&path, text.as_bytes())?;
            }
            Ok((Sums::of(rel, text, origin.whole_fingerprint()), !same))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut report = Report::default();
    for (_, written) in &outcomes {
        if *written {
            report.written += 1;
        } else {
            report.unchanged += 1;
        }
    }
    let mut manifest = Manifest::of(
        outcomes.into_iter().map(|(sums, _)| sums),
        origin.whole_fingerprint(),
    );
    if !origin.whole && old.source.as_deref() == Some(origin.fingerprint) {
        // A part of what the same inputs rendered whole: the whole render
        // is still what the manifest says.
        manifest.source = old.source;
        manifest.folders = old.folders;
    }
    for (rel, sum) in old.files {
        if files.contains_key(&rel) || check_relative(&rel).is_err() {
            continue;
        }
        if in_scope(&rel) {
            remove_file(&root, &rel)?;
            report.removed += 1;
        } else {
            manifest.files.insert(rel, sum);
        }
    }
    write_manifest(&root, &manifest)?;
    Ok(report)
}

/// What a tree is rendered from.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    /// `Sources::fingerprint` of the inputs.
    pub fingerprint: &'a str,
    /// The files are everything the inputs render, not a selection.
    pub whole: bool,
}

impl Origin<'_> {
    fn whole_fingerprint(&self) -> Option<&str> {
        self.whole.then_some(self.fingerprint)
    }
}

/// The sums of a file slipway writes: sha256 for the manifest's ownership
/// record, and git's object id for [`folder_digests`] when the tree is a
/// whole render (a part's would go unused).
struct Sums {
    rel: String,
    sha256: String,
    blob: Option<String>,
}

impl Sums {
    fn of(rel: &str, text: &str, origin: Option<&str>) -> Sums {
        Sums {
            rel: rel.to_owned(),
            sha256: sha256(text.as_bytes()),
            blob: origin.map(|_| git_blob_id(text.as_bytes())),
        }
    }
}

impl Manifest {
    /// The manifest of a tree that holds exactly these files, with the
    /// fingerprint of the inputs when the files are all they render.
    fn of(sums: impl Iterator<Item = Sums>, fingerprint: Option<&str>) -> Manifest {
        let mut blobs = Vec::new();
        let mut files = BTreeMap::new();
        for sums in sums {
            if let Some(blob) = sums.blob {
                blobs.push((sums.rel.clone(), blob));
            }
            files.insert(sums.rel, sums.sha256);
        }
        let Some(fingerprint) = fingerprint else {
            return Manifest {
                files,
                ..Manifest::default()
            };
        };
        blobs.sort_unstable();
        Manifest {
            source: Some(fingerprint.to_owned()),
            folders: folder_digests(
                blobs
                    .iter()
                    .map(|(rel, blob)| (rel.as_str(), blob.as_str())),
            ),
            files,
            incomplete: false,
        }
    }
}

/// The object id git gives a file with these bytes (SHA-1: what
/// `git hash-object` prints and the index holds in a SHA-1 repository).
pub fn git_blob_id(bytes: &[u8]) -> String {
    let mut hash = Sha1::new();
    hash.update(format!("blob {}\0", bytes.len()));
    hash.update(bytes);
    hex(&hash.finalize())
}

/// Top-level folder -> sha256 of the `path NUL object-id LF` lines of its
/// files, from `(relative path, git object id)` pairs sorted by path. A
/// folder whose files git's index holds with these ids holds these files.
pub fn folder_digests<'a>(
    files: impl Iterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<String, String> {
    let mut hashes: BTreeMap<&str, Sha256> = BTreeMap::new();
    for (rel, blob) in files {
        let Some((top, _)) = rel.split_once('/') else {
            continue;
        };
        let hash = hashes.entry(top).or_default();
        hash.update(rel);
        hash.update([0]);
        hash.update(blob);
        hash.update([b'\n']);
    }
    hashes
        .into_iter()
        .map(|(top, hash)| (top.to_owned(), hex(&hash.finalize())))
        .collect()
}

/// What a rendered tree's manifest says it was rendered from, read without
/// its list of files.
#[derive(Debug, Default, Deserialize)]
pub struct Provenance {
    /// `Sources::fingerprint` of the inputs, when one render wrote it all.
    #[serde(default)]
    pub source: Option<String>,
    /// Top-level folder -> [`folder_digests`].
    #[serde(default)]
    pub folders: BTreeMap<String, String>,
    #[serde(default)]
    pub incomplete: bool,
}

/// The provenance in `out`'s manifest; `None` without a manifest.
pub fn read_provenance(out: &Path) -> anyhow::Result<Option<Provenance>> {
    read_manifest_as(out)
}

/// Replace an input file's text with an edit of it (`set-image`), by temp
/// file + rename in the file's own folder, keeping its permissions and a
/// leading byte order mark. `was` is the text the edit was made from: a
/// file that no longer holds it (someone changed it meanwhile) is left
/// alone. A symlink is written through, to the file it names.
pub fn replace_input(path: &Path, was: &str, text: &str) -> anyhow::Result<()> {
    let real = path
        .canonicalize()
        .with_context(|| format!("cannot open `{}`", path.display()))?;
    let bytes = fs::read(&real).with_context(|| format!("cannot read `{}`", real.display()))?;
    let (bom, current) = match bytes.strip_prefix(BOM) {
        Some(rest) => (BOM, rest),
        None => (&[][..], &bytes[..]),
    };
    if current != was.as_bytes() {
        bail!(
            "`{}` changed while slipway was editing it; nothing was written, run the command again",
            path.display()
        );
    }
    let permissions = fs::metadata(&real)
        .with_context(|| format!("cannot read `{}`", real.display()))?
        .permissions();
    write_file_with(&real, &[bom, text.as_bytes()].concat(), Some(permissions))
}

/// UTF-8's byte order mark, which `load` reads past.
const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

fn write_manifest(root: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(manifest).context("cannot encode the manifest")? + "\n";
    write_file(&root.join(MANIFEST), json.as_bytes())
}

/// Temporary files an interrupted render left in the folders it wrote.
fn remove_leftovers(root: &Path, interrupted: &Manifest) -> anyhow::Result<()> {
    let folders: BTreeSet<&str> = interrupted
        .files
        .keys()
        .filter(|rel| check_relative(rel).is_ok())
        .map(|rel| rel.rsplit_once('/').map_or("", |(folder, _)| folder))
        .collect();
    for folder in folders {
        let dir = root.join(folder);
        if !fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        for entry in
            fs::read_dir(&dir).with_context(|| format!("cannot read `{}`", dir.display()))?
        {
            let entry = entry.with_context(|| format!("cannot read `{}`", dir.display()))?;
            let leftover = is_leftover(&entry.file_name().to_string_lossy())
                && entry.file_type().is_ok_and(|t| t.is_file());
            if leftover {
                let path = entry.path();
                fs::remove_file(&path)
                    .with_context(|| format!("cannot remove `{}`", path.display()))?;
            }
        }
    }
    Ok(())
}

/// A file slipway is about to write that is already there, holds other
/// bytes, and is not in the manifest was written by someone else: refuse
/// before writing anything rather than overwrite it silently.
fn refuse_foreign(
    root: &Path,
    files: &BTreeMap<String, String>,
    old: &Manifest,
) -> anyhow::Result<()> {
    let foreign: Vec<&String> = files
        .par_iter()
        .filter(|(rel, text)| {
            !old.files.contains_key(*rel)
                && fs::symlink_metadata(root.join(rel)).is_ok()
                && read_regular(&root.join(rel)).map_or(true, |old| old != **text)
        })
        .map(|(rel, _)| rel)
        .collect();
    let Some(first) = foreign.first() else {
        return Ok(());
    };
    let more = match foreign.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    bail!(
        "refusing to overwrite `{}`{more}: slipway did not write it (it is not in {MANIFEST}); move it out of `{}` or delete it, then render again",
        root.join(first).display(),
        root.display()
    )
}

/// Where a first render stages its tree: beside `out`, when `out` does not
/// exist yet. `None` otherwise. (An existing empty folder may be a mount
/// point, which a folder beside it cannot be renamed onto.)
fn staging_for(out: &Path) -> anyhow::Result<Option<PathBuf>> {
    let Some(name) = out.file_name() else {
        return Ok(None);
    };
    let missing = match fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(e).with_context(|| format!("cannot open `{}`", out.display())),
        Ok(_) => false,
    };
    // The process id keeps two first renders of the same folder apart.
    let staging = out.with_file_name(format!(
        ".{}.slipway-tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    Ok(missing.then_some(staging))
}

/// A first render: the whole tree is written into a staging folder beside
/// `out` and renamed into place, so the output folder appears complete or
/// not at all, and no file needs a temporary file of its own. If `out`
/// appeared with files in it meanwhile, the rename fails and the staging
/// folder is removed.
fn write_fresh(
    out: &Path,
    staging: &Path,
    files: &BTreeMap<String, String>,
    fingerprint: Option<&str>,
) -> anyhow::Result<Report> {
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    let written = stage(staging, files, fingerprint).and_then(|manifest| {
        let json =
            serde_json::to_string_pretty(&manifest).context("cannot encode the manifest")? + "\n";
        fs::write(staging.join(MANIFEST), json)
            .with_context(|| format!("cannot write `{}`", staging.display()))?;
        fs::rename(staging, out).with_context(|| format!("cannot create `{}`", out.display()))
    });
    if let Err(error) = written {
        // Best effort: the error being reported matters more.
        let _ = fs::remove_dir_all(staging);
        return Err(error);
    }
    Ok(Report {
        written: files.len(),
        ..Report::default()
    })
}

/// Write every file under the (new, private) staging folder; the manifest
/// of what was written.
fn stage(
    staging: &Path,
    files: &BTreeMap<String, String>,
    fingerprint: Option<&str>,
) -> anyhow::Result<Manifest> {
    fs::create_dir(staging).with_context(|| format!("cannot create `{}`", staging.display()))?;
    let folders: BTreeSet<&str> = files
        .keys()
        .filter_map(|rel| rel.rsplit_once('/').map(|(folder, _)| folder))
        .collect();
    folders.par_iter().try_for_each(|folder| {
        let dir = staging.join(folder);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))
    })?;
    let sums: Vec<Sums> = files
        .par_iter()
        .map(|(rel, text)| {
            let path = staging.join(rel);
            fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
            Ok(Sums::of(rel, text, fingerprint))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Manifest::of(sums.into_iter(), fingerprint))
}

/// The rendered tree on disk, as `check`, `diff` and `publish` see it.
#[derive(Debug, Default)]
pub struct OnDisk {
    /// Every file inside the folders slipway owns that Argo CD would read
    /// as a manifest: relative path -> text.
    pub files: BTreeMap<String, String>,
    /// Those of them the manifest does not list: slipway did not write them,
    /// yet Argo CD syncs them with the rest.
    pub foreign: BTreeSet<String>,
    /// A render was interrupted while writing the tree: part old, part new.
    pub interrupted: bool,
}

/// Largest rendered file read back. slipway's largest objects are
/// ConfigMaps, which Kubernetes caps at 1 MiB of data.
const MAX_RENDERED_BYTES: u64 = 4 * 1024 * 1024;

impl OnDisk {
    /// The files slipway wrote (all of them when there is no manifest).
    pub fn owned(mut self) -> BTreeMap<String, String> {
        self.files.retain(|rel, _| !self.foreign.contains(rel));
        self.files
    }
}

/// Read the rendered tree at `out`: every manifest file (as Argo CD names
/// them) inside the folders slipway owns (the top-level folders of the
/// manifest's files, or, without a manifest, every top-level folder),
/// whether or not slipway wrote it. A
/// missing `out`, a symlink, FIFO or device inside it, and a file larger
/// than any object slipway renders are errors naming the path.
pub fn read_rendered(out: &Path) -> anyhow::Result<OnDisk> {
    // `out/` with a trailing slash would make lstat follow a symlink.
    let out: &Path = &out.components().collect::<PathBuf>();
    match fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "`{}` does not exist; render it first with `slipway render --all -o {}`",
            out.display(),
            out.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot open `{}`", out.display())),
        Ok(meta) if !meta.is_dir() => bail!(
            "`{}` is not a folder (a symlink or a file); slipway reads only a real folder",
            out.display()
        ),
        Ok(_) => {}
    }
    let manifest = if fs::symlink_metadata(out.join(MANIFEST)).is_ok() {
        Some(read_manifest(out)?)
    } else {
        None
    };
    let mut tree = OnDisk {
        interrupted: manifest.as_ref().is_some_and(|m| m.incomplete),
        ..OnDisk::default()
    };
    for folder in owned_folders(out, manifest.as_ref())? {
        for rel in files_under(out, &folder)? {
            let text = read_regular(&out.join(&rel))?;
            if manifest
                .as_ref()
                .is_some_and(|m| !m.files.contains_key(&rel))
            {
                tree.foreign.insert(rel.clone());
            }
            tree.files.insert(rel, text);
        }
    }
    Ok(tree)
}

/// The top-level folders slipway owns: those its manifest's files are in,
/// or, without a manifest, every folder not hidden.
fn owned_folders(out: &Path, manifest: Option<&Manifest>) -> anyhow::Result<BTreeSet<String>> {
    if let Some(manifest) = manifest {
        let tops: BTreeSet<String> = manifest
            .files
            .keys()
            .filter(|rel| check_relative(rel).is_ok())
            .filter_map(|rel| rel.split_once('/').map(|(top, _)| top.to_owned()))
            .collect();
        let mut folders = BTreeSet::new();
        for top in tops {
            match fs::symlink_metadata(out.join(&top)) {
                Ok(meta) if meta.file_type().is_symlink() => bail!(
                    "`{}` is a symlink; slipway never reads through it: remove it",
                    out.join(&top).display()
                ),
                Ok(meta) if meta.is_dir() => {
                    folders.insert(top);
                }
                _ => {}
            }
        }
        return Ok(folders);
    }
    let mut folders = BTreeSet::new();
    for entry in fs::read_dir(out).with_context(|| format!("cannot read `{}`", out.display()))? {
        let entry = entry.with_context(|| format!("cannot read `{}`", out.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.file_type().is_ok_and(|t| t.is_dir()) {
            folders.insert(name);
        }
    }
    Ok(folders)
}

/// The file names Argo CD's repo server reads as manifests in a directory
/// source (`manifestFile` in argoproj/argo-cd
/// `reposerver/repository/repository.go`: `^.*\.(yaml|yml|json|jsonnet)$`).
pub fn is_manifest_name(name: &str) -> bool {
    [".yaml", ".yml", ".json", ".jsonnet"]
        .iter()
        .any(|ext| name.len() > ext.len() && name.ends_with(ext))
}

/// Every file under `out/folder` that Argo CD would read as a manifest, as
/// paths relative to `out`, sorted. Such a name that is not a regular file
/// (a symlink, FIFO or device) is refused, never followed.
fn files_under(out: &Path, folder: &str) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(out.join(folder))
        .follow_root_links(false)
        .sort_by_file_name();
    for entry in walk {
        let entry = entry.with_context(|| format!("cannot read `{}/{folder}`", out.display()))?;
        let kind = entry.file_type();
        if kind.is_dir() || !is_manifest_name(&entry.file_name().to_string_lossy()) {
            continue;
        }
        if !kind.is_file() {
            bail!(
                "`{}` is not a regular file (a symlink, FIFO or device); slipway never reads through it: remove it",
                entry.path().display()
            );
        }
        let rel = entry.path().strip_prefix(out).unwrap_or(entry.path());
        files.push(crate::source::display_name(Path::new(""), rel));
    }
    Ok(files)
}

/// Read a file that must be a regular file of reasonable size, without
/// following a symlink or blocking on a FIFO that replaced it meanwhile.
fn read_regular(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let refuse = |why: &str| anyhow::anyhow!("`{}` {why}; remove it", path.display());
    let file = open_no_follow(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    if !meta.is_file() {
        return Err(refuse("is not a regular file"));
    }
    if meta.len() > MAX_RENDERED_BYTES {
        return Err(refuse(&format!(
            "is {} bytes, larger than any object slipway renders ({MAX_RENDERED_BYTES})",
            meta.len()
        )));
    }
    let mut text = String::new();
    file.take(MAX_RENDERED_BYTES)
        .read_to_string(&mut text)
        .map_err(|_| refuse("is not UTF-8 text"))?;
    Ok(text)
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> std::io::Result<fs::File> {
    if fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(std::io::Error::other("is a symlink"));
    }
    fs::File::open(path)
}

/// Paths come from validated names, but every write is checked to stay
/// under the output root all the same.
fn check_relative(rel: &str) -> anyhow::Result<()> {
    let path = Path::new(rel);
    if rel.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        bail!("refusing to write `{rel}`: not a plain relative path");
    }
    Ok(())
}

fn read_manifest(root: &Path) -> anyhow::Result<Manifest> {
    Ok(read_manifest_as(root)?.unwrap_or_default())
}

/// The manifest in `root` read as a `T`; `None` without one.
fn read_manifest_as<T: serde::de::DeserializeOwned>(root: &Path) -> anyhow::Result<Option<T>> {
    let path = root.join(MANIFEST);
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).with_context(|| {
            format!(
                "`{}` is corrupt; delete it and render again",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    }
}

/// Create the folders of the tree, parents first, and make sure each is a
/// real folder: a symlink must not lead a write outside the root, which is
/// canonical, so a path with no symlink under it stays inside.
fn make_folders<'a>(root: &Path, files: impl Iterator<Item = &'a String>) -> anyhow::Result<()> {
    let mut by_depth: BTreeMap<usize, BTreeSet<&Path>> = BTreeMap::new();
    for rel in files {
        for folder in Path::new(rel.as_str()).ancestors().skip(1) {
            let depth = folder.components().count();
            if depth > 0 && !by_depth.entry(depth).or_default().insert(folder) {
                break;
            }
        }
    }
    for folders in by_depth.values() {
        folders
            .par_iter()
            .try_for_each(|folder| make_folder(&root.join(folder)))?;
    }
    Ok(())
}

fn make_folder(dir: &Path) -> anyhow::Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create `{}`", dir.display())),
    }
    let meta =
        fs::symlink_metadata(dir).with_context(|| format!("cannot open `{}`", dir.display()))?;
    if meta.file_type().is_symlink() {
        bail!(
            "refusing to write through `{}`: it is a symlink and may lead outside the output folder",
            dir.display()
        );
    }
    if !meta.is_dir() {
        bail!(
            "cannot create folder `{}`: a file is in the way",
            dir.display()
        );
    }
    Ok(())
}

/// Write through a temporary file in the same folder, then rename over.
/// Write a file by temp file + rename. The temp file has an unpredictable
/// name and is created exclusively (`O_EXCL`), so nothing planted in the
/// tree, such as a symlink at a guessable temp name, is ever followed.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_file_with(path, bytes, None)
}

/// [`write_file`], the file getting `permissions` (else the temp file's
/// own, readable by its owner only).
fn write_file_with(
    path: &Path,
    bytes: &[u8],
    permissions: Option<fs::Permissions>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".slipway-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in `{}`", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("cannot write `{}`", tmp.path().display()))?;
    if let Some(permissions) = permissions {
        tmp.as_file()
            .set_permissions(permissions)
            .with_context(|| format!("cannot write `{}`", tmp.path().display()))?;
    }
    tmp.persist(path)
        .map(|_| ())
        .with_context(|| format!("cannot replace `{}`", path.display()))
}

/// The first symlink among the folders `root/folder` passes through, if
/// any: a symlink planted in a tree could lead a removal or a write out of
/// it. (`publish` asks the same of the folder in the GitOps repository.)
pub fn symlink_on_the_way(root: &Path, folder: &Path) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for part in folder.components() {
        path.push(part);
        if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Some(path);
        }
    }
    None
}

/// Remove a file slipway wrote, then any folders that removal left empty.
fn remove_file(root: &Path, rel: &str) -> anyhow::Result<()> {
    let folder = Path::new(rel).parent().unwrap_or(Path::new(""));
    if let Some(link) = symlink_on_the_way(root, folder) {
        bail!(
            "refusing to follow `{}`: it is a symlink and may lead outside the output folder",
            link.display()
        );
    }
    let path = root.join(rel);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove `{}`", path.display())),
    }
    let mut dir = path.parent();
    while let Some(d) = dir.filter(|d| *d != root && d.starts_with(root)) {
        if fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A selection's render, of no particular inputs.
    const PART: Origin<'static> = Origin {
        fingerprint: "",
        whole: false,
    };

    #[test]
    fn blob_ids_are_gits() {
        // `git hash-object` of an empty file and of "hello\n".
        assert_eq!(git_blob_id(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
        assert_eq!(
            git_blob_id(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn folder_digests_cover_each_folder_and_nothing_at_the_root() {
        let one =
            folder_digests([("a/x.yaml", "1"), ("b/y.yaml", "2"), ("m.json", "3")].into_iter());
        assert_eq!(one.keys().collect::<Vec<_>>(), ["a", "b"]);
        let other = folder_digests([("a/x.yaml", "1"), ("b/y.yaml", "9")].into_iter());
        assert_eq!(one["a"], other["a"]);
        assert_ne!(one["b"], other["b"], "an object id counts");
        let moved = folder_digests([("a/z.yaml", "1")].into_iter());
        assert_ne!(one["a"], moved["a"], "a path counts");
    }

    #[test]
    fn a_whole_render_records_its_origin_and_a_part_of_other_inputs_clears_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path();
        let whole = Origin {
            fingerprint: "f1",
            whole: true,
        };
        let tree = files(&[("dev/x.yaml", "1"), ("prod/x.yaml", "2")]);
        write_tree(out, &tree, |_| true, whole).expect("write");
        let recorded = read_provenance(out).expect("read").expect("manifest");
        assert_eq!(recorded.source.as_deref(), Some("f1"));
        assert_eq!(recorded.folders.len(), 2);
        let same = Origin {
            whole: false,
            ..whole
        };
        write_tree(
            out,
            &files(&[("dev/x.yaml", "1")]),
            |p| p.starts_with("dev/"),
            same,
        )
        .expect("write");
        let kept = read_provenance(out).expect("read").expect("manifest");
        assert_eq!(kept.source.as_deref(), Some("f1"));
        assert_eq!(kept.folders, recorded.folders);
        let other = Origin {
            fingerprint: "f2",
            whole: false,
        };
        write_tree(
            out,
            &files(&[("dev/x.yaml", "3")]),
            |p| p.starts_with("dev/"),
            other,
        )
        .expect("write");
        let cleared = read_provenance(out).expect("read").expect("manifest");
        assert_eq!(cleared.source, None);
        assert!(cleared.folders.is_empty());
    }

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn writes_prunes_and_leaves_foreign_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path();
        fs::write(out.join("README.md"), "mine").expect("write");
        let first = write_tree(
            out,
            &files(&[("a/x.yaml", "1"), ("b/y.yaml", "2")]),
            |_| true,
            PART,
        )
        .expect("write");
        assert_eq!(
            first,
            Report {
                written: 2,
                unchanged: 0,
                removed: 0
            }
        );
        let second = write_tree(out, &files(&[("a/x.yaml", "1")]), |_| true, PART).expect("write");
        assert_eq!(
            second,
            Report {
                written: 0,
                unchanged: 1,
                removed: 1
            }
        );
        assert!(!out.join("b").exists(), "emptied folder removed");
        assert_eq!(
            fs::read_to_string(out.join("README.md")).expect("read"),
            "mine"
        );
    }

    #[test]
    fn a_first_render_appears_whole_and_leaves_no_staging_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("rendered");
        let report = write_tree(
            &out,
            &files(&[("a/x.yaml", "1"), ("a/b/y.yaml", "2")]),
            |_| true,
            PART,
        )
        .expect("write");
        assert_eq!(report.written, 2);
        assert_eq!(
            fs::read_to_string(out.join("a/b/y.yaml")).expect("read"),
            "2"
        );
        assert_eq!(read_manifest(&out).expect("manifest").files.len(), 2);
        let names: Vec<String> = fs::read_dir(dir.path())
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["rendered"]);
    }

    #[test]
    fn a_failed_first_render_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("rendered");
        // `a` is both a file and a folder: the second write fails.
        assert!(
            write_tree(
                &out,
                &files(&[("a", "1"), ("a/x.yaml", "2")]),
                |_| true,
                PART
            )
            .is_err()
        );
        assert_eq!(fs::read_dir(dir.path()).expect("read").count(), 0);
    }

    #[test]
    fn out_of_scope_files_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path();
        write_tree(
            out,
            &files(&[("dev/x.yaml", "1"), ("prod/x.yaml", "2")]),
            |_| true,
            PART,
        )
        .expect("write");
        write_tree(
            out,
            &files(&[("dev/x.yaml", "1")]),
            |p| p.starts_with("dev/"),
            PART,
        )
        .expect("write");
        assert!(out.join("prod/x.yaml").exists());
        let manifest = read_manifest(out).expect("manifest");
        assert_eq!(manifest.files.len(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn refuses_to_write_through_a_symlinked_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        let out = dir.path();
        fs::create_dir(out.join("prod")).expect("mkdir");
        std::os::unix::fs::symlink(outside.path(), out.join("prod/us-east-1")).expect("symlink");
        let error = write_tree(
            out,
            &files(&[("prod/us-east-1/web/x.yaml", "1")]),
            |_| true,
            PART,
        )
        .expect_err("refused");
        assert!(error.to_string().contains("is a symlink"), "{error}");
        assert_eq!(fs::read_dir(outside.path()).expect("read").count(), 0);
    }

    #[test]
    fn a_file_in_the_way_of_a_folder_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("prod"), "not a folder").expect("write");
        let error = write_tree(dir.path(), &files(&[("prod/x.yaml", "1")]), |_| true, PART)
            .expect_err("refused");
        assert!(
            error.to_string().contains("a file is in the way"),
            "{error}"
        );
    }

    #[test]
    fn refuses_paths_that_escape() {
        let dir = tempfile::tempdir().expect("tempdir");
        for bad in ["../x.yaml", "/etc/x.yaml", "a/../../x.yaml", ""] {
            assert!(
                write_tree(dir.path(), &files(&[(bad, "1")]), |_| true, PART).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_edited_input_keeps_its_byte_order_mark_and_permissions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dev.yaml");
        fs::write(&path, b"\xEF\xBB\xBFa: 1\r\n").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        }
        replace_input(&path, "a: 1\r\n", "a: 2\r\n").expect("replaced");
        assert_eq!(fs::read(&path).expect("read"), b"\xEF\xBB\xBFa: 2\r\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
        assert_eq!(
            fs::read_dir(dir.path()).expect("read").count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn an_input_changed_meanwhile_is_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dev.yaml");
        fs::write(&path, "a: 3\n").expect("write");
        let error = replace_input(&path, "a: 1\n", "a: 2\n").expect_err("refused");
        assert!(
            error
                .to_string()
                .contains("changed while slipway was editing it"),
            "{error}"
        );
        assert_eq!(fs::read_to_string(&path).expect("read"), "a: 3\n");
    }

    #[cfg(unix)]
    #[test]
    fn an_input_that_is_a_symlink_is_written_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("shared")).expect("mkdir");
        let real = dir.path().join("shared/dev.yaml");
        fs::write(&real, "a: 1\n").expect("write");
        let link = dir.path().join("dev.yaml");
        std::os::unix::fs::symlink("shared/dev.yaml", &link).expect("symlink");
        replace_input(&link, "a: 1\n", "a: 2\n").expect("replaced");
        assert!(
            fs::symlink_metadata(&link)
                .expect("stat")
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).expect("read"), "a: 2\n");
    }
}
