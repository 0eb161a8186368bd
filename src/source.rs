//! The source map: every input file's text, and spans that point into it.
//!
//! Spans are byte ranges tagged with the file they came from. They survive
//! parsing, merging and lowering, so any stage can point back at the line a
//! user wrote.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The identity of the source this slipway was built from (`build.rs`).
pub const SOURCE_ID: &str = env!("SLIPWAY_SOURCE_ID");

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

/// One loaded input file.
#[derive(Debug)]
pub struct SourceFile {
    /// Path relative to the project root, with `/` separators: what users see.
    pub name: String,
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
    /// All ASCII: a character column is a byte column.
    ascii: bool,
}

/// 1-based line and column (in characters) of a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub col: usize,
}

impl SourceFile {
    pub fn new(name: String, path: PathBuf, text: String) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            name,
            path,
            ascii: text.is_ascii(),
            text,
            line_starts,
        }
    }

    /// Byte offset of a position given as a character index and the
    /// equivalent 1-based line and 0-based character column.
    pub fn offset_of(&self, char_index: usize, line: usize, char_col: usize) -> usize {
        if self.ascii {
            char_index.min(self.text.len())
        } else {
            self.offset(line, char_col)
        }
    }

    /// Byte offset of a 1-based line and 0-based character column, clamped to the text.
    pub fn offset(&self, line: usize, char_col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        if self.ascii {
            return (start + char_col).min(self.line_end(start));
        }
        self.text[start..]
            .char_indices()
            .take_while(|(_, c)| *c != '\n')
            .nth(char_col)
            .map_or_else(|| self.line_end(start), |(i, _)| start + i)
    }

    /// The offset of the `\n` ending the line that starts at `start`, or
    /// the end of the text.
    fn line_end(&self, start: usize) -> usize {
        let next = self.line_starts.partition_point(|&s| s <= start);
        self.line_starts
            .get(next)
            .map_or(self.text.len(), |&s| s - 1)
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count());
        LineCol { line, col: col + 1 }
    }
}

/// All input files of one run.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, name: String, path: PathBuf, text: String) -> FileId {
        self.add_file(SourceFile::new(name, path, text))
    }

    pub fn add_file(&mut self, file: SourceFile) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(file);
        id
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// The file shown as `name`, if it is one of these.
    pub fn find(&self, name: &str) -> Option<FileId> {
        let index = self.files.iter().position(|f| f.name == name)?;
        u32::try_from(index).ok().map(FileId)
    }

    /// Give a file other text (an edit not yet written), keeping its name
    /// and path.
    pub fn replace(&mut self, id: FileId, text: String) {
        let file = &mut self.files[id.0 as usize];
        *file = SourceFile::new(
            std::mem::take(&mut file.name),
            std::mem::take(&mut file.path),
            text,
        );
    }

    /// What a render of these files is a function of, as sha256 hex:
    /// slipway's own source and every file's name and text, in order.
    /// Equal fingerprints render equal trees.
    pub fn fingerprint(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(format!("slipway {SOURCE_ID}\0"));
        for file in &self.files {
            hash.update(format!("{}\0{}\0", file.name, file.text.len()));
            hash.update(&file.text);
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `file:line:col` of the start of a span.
    pub fn locate(&self, span: Span) -> String {
        let file = self.get(span.file);
        let at = file.line_col(span.start as usize);
        format!("{}:{}:{}", file.name, at.line, at.col)
    }
}

/// Display form of a path relative to a root, with `/` separators.
pub fn display_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
