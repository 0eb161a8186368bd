//! Diagnostics about user input: a message, where it happened, and what to do.
//!
//! Stages never print. They return the diagnostics they found, all of them,
//! and the command decides how to show them.

use std::borrow::Cow;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term::{self, Config};

use crate::source::{FileId, Sources, Span};

/// A diagnostic's stable identity: one of the codes below, or a policy
/// rule's id. Codes are what `--format json` and GitHub annotations carry
/// and what the README's table of diagnostics lists; a message may be
/// reworded, a code is never renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(&'static str);

impl Code {
    /// The code of a policy rule's findings: the rule's id.
    pub const fn rule(id: &'static str) -> Code {
        Code(id)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

macro_rules! codes {
    ($( $name:ident = $text:literal: $summary:literal; )+) => {
        impl Code {
            $( #[doc = $summary] pub const $name: Code = Code($text); )+

            /// Every code that is not a policy rule, with what it means.
            pub const ALL: &'static [(Code, &'static str)] = &[$( (Code::$name, $summary), )+];
        }
    };
}

codes! {
    // Loading files.
    FILE_TOO_LARGE = "file-too-large": "a file is larger than an input file may be";
    INPUT_TOO_LARGE = "input-too-large": "the input files together exceed the total limit";
    UNREADABLE_FILE = "unreadable-file": "a file cannot be read, or is not a regular file";
    SYMLINK_OUTSIDE_ROOT = "symlink-outside-root": "a symlink leads outside the project";
    SYMLINK_LOOP = "symlink-loop": "a symlink points back into its own folder";
    NOT_UTF8 = "not-utf8": "a file is not UTF-8 text";
    EMPTY_FILE = "empty-file": "a file holds no YAML document";
    BOM_INSIDE_FILE = "bom-inside-file": "a byte order mark in the middle of a file";
    // Reading YAML.
    INVALID_YAML = "invalid-yaml": "the text is not YAML";
    SEVERAL_DOCUMENTS = "several-documents": "a file holds more than one YAML document";
    AMBIGUOUS_NUMBER = "ambiguous-number": "a number YAML 1.1 and 1.2 read differently";
    NESTING_TOO_DEEP = "nesting-too-deep": "YAML nested deeper than any input needs";
    UNKNOWN_ANCHOR = "unknown-anchor": "an alias to an anchor that is not defined";
    TOO_MANY_NODES = "too-many-nodes": "aliases expand a file past the node limit";
    DUPLICATE_KEY = "duplicate-key": "a mapping key given twice";
    COMPLEX_KEY = "complex-key": "a mapping key that is not plain text";
    YAML_TAG = "yaml-tag": "a YAML tag (`!tag`)";
    // The input contract (JSON Schema) and names.
    UNKNOWN_FIELD = "unknown-field": "a field the blueprint or overlay format does not have";
    MISSING_FIELD = "missing-field": "a required field is missing";
    WRONG_TYPE = "wrong-type": "a value of the wrong type";
    INVALID_VALUE = "invalid-value": "a value the field does not accept";
    SECRET_LITERAL = "secret-literal": "a secret given as a literal instead of a reference";
    CREDENTIAL_LITERAL = "credential-literal": "a variable whose value looks like a credential";
    INVALID_NAME = "invalid-name": "a name Kubernetes or Istio would refuse";
    RESERVED_NAMESPACE = "reserved-namespace": "a service namespace that is Kubernetes' or Istio's own";
    SHARED_NAMESPACE = "shared-namespace": "two environments or regions render into one namespace of one cluster";
    NAME_MISMATCH = "name-mismatch": "`metadata.name` differs from the file's name";
    DUPLICATE_SERVICE = "duplicate-service": "two blueprints define the same service";
    DUPLICATE_ENVIRONMENT = "duplicate-environment": "two overlays define the same environment";
    DUPLICATE_REGION = "duplicate-region": "a region listed twice";
    SEVERAL_PRIMARY_REGIONS = "several-primary-regions": "more than one primary region";
    UNKNOWN_REFERENCE = "unknown-reference": "an overlay names a service or region that does not exist";
    UNKNOWN_POLICY_RULE = "unknown-policy-rule": "an overlay configures a policy rule that does not exist";
    INVALID_WRITER = "invalid-writer": "a PostgreSQL data store without a writer in the primary region, or with one elsewhere";
    RESERVED_LABEL = "reserved-label": "an overlay sets a label that slipway sets itself";
    RESERVED_ANNOTATION = "reserved-annotation": "a service annotation that slipway sets itself";
    VARIABLE_AND_SECRET = "variable-and-secret": "a name is both a variable and a secret";
    TEMPLATE_ERROR = "template-error": "a template fails to render (an undefined variable, a syntax error)";
    TEMPLATE_NOT_ALLOWED = "template-not-allowed": "template syntax in an overlay field that is read as written";
    SCORE_UNSUPPORTED = "score-unsupported": "a Score field or resource slipway cannot render faithfully";
    SCORE_IGNORED = "score-ignored": "a Score field slipway leaves out or cannot check: a probe's `exec` beside its `httpGet` (as score-k8s does), a `service` resource no placeholder reads";
    UNKNOWN_PLACEHOLDER = "unknown-placeholder": "a Score placeholder that names nothing slipway knows, or an output where nothing can expand it";
    INVALID_SIDE_FILE = "invalid-side-file": "a Score workload's side file that is not one, names another service or says what Score says";
    UNKNOWN_ENDPOINT = "unknown-endpoint": "`endpoint()` names a service that has no blueprint or that the region does not run";
    // The merged service.
    INVALID_QUANTITY = "invalid-quantity": "a value that is not a Kubernetes quantity";
    INVALID_IMAGE = "invalid-image": "an image reference the kubelet cannot pull";
    IMAGE_NOT_SET = "image-not-set": "a Score workload's image `.` that no overlay (or `set-image`) has set";
    UNKNOWN_PORT = "unknown-port": "a reference to a port the service does not have";
    INVALID_PORT = "invalid-port": "a port used where it cannot be";
    INVALID_FILE_TARGET = "invalid-file-target": "a file's or volume's target path is not a valid mount path";
    DUPLICATE_FILE_TARGET = "duplicate-file-target": "a container mounting two files or two volumes at one path";
    INVALID_GATEWAY = "invalid-gateway": "the gateway is not `<namespace>/<name>`";
    INVALID_ROUTE = "invalid-route": "a route Istio would refuse or that cannot work";
    ROUTE_CONFLICT = "route-conflict": "two services route the same host, path and match";
    UNKNOWN_CALLER = "unknown-caller": "`allowFrom` names a service that does not exist";
    CALLER_NOT_ADMITTED = "caller-not-admitted": "`endpoint()` calls a service whose `mesh.allowFrom` does not list the caller";
    CANARY_IGNORED = "canary-ignored": "`delivery.canary` without the canary strategy";
    CANARY_WITHOUT_HTTP = "canary-without-http": "a canary of a service without an HTTP port";
    INVALID_HEADER_ROUTE = "invalid-header-route": "a canary header route Argo Rollouts or Istio would refuse, or that would catch other requests";
    ANALYSIS_MEASURES_NOTHING = "analysis-measures-nothing": "a canary analysis with no metric";
    SLO_WITHOUT_HTTP = "slo-without-http": "an SLO on a service without an HTTP port";
    INVALID_PATTERN = "invalid-pattern": "a regular expression Filebeat's Go regexp would refuse";
    SECRET_STORE_MISSING = "secret-store-missing": "a stored secret (`store:`) in a region whose environment names no secret store";
    UNKNOWN_DATA_STORE = "unknown-data-store": "a dependency on a data store the environment does not have";
    DEPENDENCY_TYPE_MISMATCH = "dependency-type-mismatch": "a dependency whose type is not its data store's";
    DATA_STORE_NOT_IN_REGION = "data-store-not-in-region": "a dependency in a region where its data store has no endpoints";
    NO_WRITER = "no-writer": "a dependency with no writer: none in its region for `writes: local`, or none in its region nor the primary one";
    UNSET_VARIABLE = "unset-variable": "a main container's variable refers to one its dependency does not set in the environment (`$(DB_PASSWORD)` without credentials)";
    DUPLICATE_VARIABLE = "duplicate-variable": "a variable a dependency sets that the main container or another dependency sets too";
    REPLICAS_OUT_OF_ORDER = "replicas-out-of-order": "`minReplicas` greater than `maxReplicas`";
    AUTOSCALING_WITHOUT_CPU_REQUEST = "autoscaling-without-cpu-request": "CPU autoscaling of a container without a CPU request";
    AVAILABILITY_CONFLICT = "availability-conflict": "both `minAvailable` and `maxUnavailable`";
    DRAIN_BLOCKED = "drain-blocked": "a disruption budget that blocks node drains";
    // The rendered objects.
    INVALID_OBJECT = "invalid-object": "a rendered object the API server would refuse (name, label, size)";
    DUPLICATE_OBJECT = "duplicate-object": "two sources render the same object";
    DANGLING_REFERENCE = "dangling-reference": "a rendered object refers to one that is not rendered";
    MTLS_NOT_STRICT = "mtls-not-strict": "a namespace runs workloads without STRICT mTLS";
    UNREACHABLE_ROUTE = "unreachable-route": "a gateway route that an earlier route on its host always wins over";
    // Editing inputs (`set-image`).
    CANNOT_EDIT = "cannot-edit": "`set-image` cannot change a value in place without changing more than it";
    // Publishing.
    ARGOCD_MISSING = "argocd-missing": "`publish` of an environment whose overlay has no `argocd` section, which nothing would sync";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// Where a diagnostic points: a span in a loaded file, or a file that could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    Span(Span),
    File(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub location: Location,
    /// Label text under the primary span.
    pub label: String,
    /// Secondary spans, e.g. the first definition of a duplicate.
    pub related: Vec<(Span, String)>,
    pub hint: Option<String>,
    /// Hide the text under the primary span (secret values).
    pub redact: bool,
}

impl Diagnostic {
    fn new(severity: Severity, code: Code, location: Location, message: impl Into<String>) -> Self {
        Self {
            severity,
            code,
            message: message.into(),
            location,
            label: String::new(),
            related: Vec::new(),
            hint: None,
            redact: false,
        }
    }

    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, Location::Span(span), message)
    }

    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, Location::Span(span), message)
    }

    /// An error about a whole file that could not be read as text.
    pub fn file_error(code: Code, name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, Location::File(name.into()), message)
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    pub fn redacted(mut self) -> Self {
        self.redact = true;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col` (or the file name) of the primary location.
    pub fn position(&self, sources: &Sources) -> String {
        match &self.location {
            Location::Span(span) => sources.locate(*span),
            Location::File(name) => name.clone(),
        }
    }

    fn sort_key(&self, sources: &Sources) -> (String, u32, Code, String) {
        match &self.location {
            Location::Span(span) => (
                sources.get(span.file).name.clone(),
                span.start,
                self.code,
                self.message.clone(),
            ),
            Location::File(name) => (name.clone(), 0, self.code, self.message.clone()),
        }
    }

    /// The same finding: what it says, where, and how severe. Related
    /// spans, labels and hints may differ between the clusters that saw it.
    fn same_finding(&self, other: &Diagnostic) -> bool {
        self.code == other.code
            && self.severity == other.severity
            && self.location == other.location
            && self.message == other.message
    }
}

/// Sort diagnostics by file, position and code, and report each finding
/// once (the same mistake seen from several environments is one finding).
pub fn normalize(diags: &mut Vec<Diagnostic>, sources: &Sources) {
    diags.sort_by_cached_key(|d| d.sort_key(sources));
    diags.dedup_by(|later, first| later.same_finding(first));
}

/// Render diagnostics as text, in the style of rustc: a caret under the span and `= hint:` lines.
pub fn render(diags: &[Diagnostic], sources: &Sources, colour: bool) -> String {
    let config = Config::default();
    let mut out = String::new();
    for diag in diags {
        render_one(&mut out, diag, sources, &config, colour);
    }
    out
}

fn render_one(
    out: &mut String,
    diag: &Diagnostic,
    sources: &Sources,
    config: &Config,
    colour: bool,
) {
    let report = to_report(diag);
    let view = View {
        sources,
        redact: diag.redact.then_some(diag.location.clone()),
    };
    let rendered = if colour {
        let mut buffer = codespan_reporting::term::termcolor::Buffer::ansi();
        term::emit_to_write_style(&mut buffer, config, &view, &report)
            .map(|()| String::from_utf8_lossy(buffer.as_slice()).into_owned())
    } else {
        term::emit_into_string(config, &view, &report)
    };
    match rendered {
        Ok(text) => out.push_str(&text),
        Err(_) => out.push_str(&format!(
            "error: {} ({})\n",
            diag.message,
            diag.position(sources)
        )),
    }
}

fn to_report(diag: &Diagnostic) -> Report<FileId> {
    let mut report = match diag.severity {
        Severity::Error => Report::error(),
        Severity::Warning => Report::warning(),
    }
    .with_code(diag.code.as_str())
    .with_message(printable(&match &diag.location {
        Location::File(name) => format!("{name}: {}", diag.message),
        Location::Span(_) => diag.message.clone(),
    }));
    let mut labels = Vec::new();
    if let Location::Span(span) = diag.location {
        labels.push(Label::primary(span.file, range(span)).with_message(printable(&diag.label)));
    }
    for (span, text) in &diag.related {
        labels.push(Label::secondary(span.file, range(*span)).with_message(printable(text)));
    }
    report = report.with_labels(labels);
    if let Some(hint) = &diag.hint {
        report = report.with_notes(vec![format!("hint: {}", printable(hint))]);
    }
    report
}

/// Text from the input, safe to print: control characters (escape
/// sequences, carriage returns, newlines that would start a line a CI
/// runner reads as a workflow command) are written as `\u{..}` escapes.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// A source line for a snippet: control characters become characters of
/// the same UTF-8 length (`?` or `¿`), so byte offsets stay where they were
/// and the terminal sees no escape sequence.
fn without_controls(text: &str) -> Cow<'_, str> {
    // A carriage return stays only as half of a CRLF line ending: alone, a
    // GitHub Actions runner reads it as the end of a line.
    let lone_cr = |i: usize| text.as_bytes().get(i + 1) != Some(&b'\n');
    let unsafe_at = |(i, c): (usize, char)| {
        c.is_control() && !matches!(c, '\n' | '\t') && (c != '\r' || lone_cr(i))
    };
    if !text.char_indices().any(unsafe_at) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        match c {
            _ if !unsafe_at((i, c)) => out.push(c),
            c if c.len_utf8() == 1 => out.push('?'),
            _ => out.push('\u{bf}'),
        }
    }
    Cow::Owned(out)
}

fn range(span: Span) -> Range<usize> {
    span.start as usize..span.end as usize
}

/// The source map as codespan sees it, with the redacted span masked.
struct View<'a> {
    sources: &'a Sources,
    redact: Option<Location>,
}

impl<'a> Files<'a> for View<'a> {
    type FileId = FileId;
    type Name = &'a str;
    type Source = Cow<'a, str>;

    fn name(&'a self, id: FileId) -> Result<&'a str, FilesError> {
        Ok(&self.sources.get(id).name)
    }

    fn source(&'a self, id: FileId) -> Result<Cow<'a, str>, FilesError> {
        let text = &self.sources.get(id).text;
        match &self.redact {
            Some(Location::Span(span)) if span.file == id => Ok(Cow::Owned(
                without_controls(&mask(text, *span)).into_owned(),
            )),
            _ => Ok(without_controls(text)),
        }
    }

    fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, FilesError> {
        Ok(self.sources.get(id).line_col(byte_index).line - 1)
    }

    fn line_range(&'a self, id: FileId, line_index: usize) -> Result<Range<usize>, FilesError> {
        let file = self.sources.get(id);
        let start = file.offset(line_index + 1, 0);
        let next = file.offset(line_index + 2, 0);
        if start > file.text.len() {
            return Err(FilesError::LineTooLarge {
                given: line_index,
                max: file.line_col(file.text.len()).line,
            });
        }
        Ok(start..next.max(start))
    }
}

/// Replace every non-newline character of the span with `*`, keeping byte offsets.
fn mask(text: &str, span: Span) -> String {
    let (start, end) = (span.start as usize, (span.end as usize).min(text.len()));
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start]);
    for c in text[start..end].chars() {
        if c == '\n' || c == '\r' {
            out.push(c);
        } else {
            out.extend(std::iter::repeat_n('*', c.len_utf8()));
        }
    }
    out.push_str(&text[end..]);
    out
}

/// Start and end (1-based line and column) of a span.
fn bounds(span: Span, sources: &Sources) -> (crate::source::LineCol, crate::source::LineCol) {
    let file = sources.get(span.file);
    (
        file.line_col(span.start as usize),
        file.line_col(span.end as usize),
    )
}

impl Diagnostic {
    fn severity_name(&self) -> &'static str {
        match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }

    /// One diagnostic as a JSON object, for machines: severity, code, message,
    /// file, line, column, endLine, endColumn, label, hint, related.
    /// Never the source text, so never a secret.
    pub fn to_json(&self, sources: &Sources) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        object.insert("severity".into(), self.severity_name().into());
        object.insert("code".into(), self.code.as_str().into());
        object.insert("message".into(), self.message.clone().into());
        match &self.location {
            Location::Span(span) => {
                let (start, end) = bounds(*span, sources);
                object.insert("file".into(), sources.get(span.file).name.clone().into());
                object.insert("line".into(), start.line.into());
                object.insert("column".into(), start.col.into());
                object.insert("endLine".into(), end.line.into());
                object.insert("endColumn".into(), end.col.into());
            }
            Location::File(name) => {
                object.insert("file".into(), name.clone().into());
            }
        }
        if !self.label.is_empty() {
            object.insert("label".into(), self.label.clone().into());
        }
        if let Some(hint) = &self.hint {
            object.insert("hint".into(), hint.clone().into());
        }
        let related: Vec<serde_json::Value> = self
            .related
            .iter()
            .map(|(span, label)| {
                let (start, _) = bounds(*span, sources);
                serde_json::json!({"file": sources.get(span.file).name, "line": start.line, "column": start.col, "label": label})
            })
            .collect();
        if !related.is_empty() {
            object.insert("related".into(), related.into());
        }
        serde_json::Value::Object(object)
    }

    /// A GitHub Actions workflow command (`::error file=…,line=…,col=…::…`),
    /// so the finding shows on the pull request's line.
    pub fn github_annotation(&self, sources: &Sources) -> String {
        let mut properties = Vec::new();
        match &self.location {
            Location::Span(span) => {
                let (start, end) = bounds(*span, sources);
                properties.push(format!(
                    "file={}",
                    escape_property(&sources.get(span.file).name)
                ));
                properties.push(format!(
                    "line={},col={},endLine={},endColumn={}",
                    start.line, start.col, end.line, end.col
                ));
            }
            Location::File(name) => properties.push(format!("file={}", escape_property(name))),
        }
        properties.push(format!("title=slipway {}", self.code.as_str()));
        let message = match &self.hint {
            Some(hint) => format!("{}\nhint: {}", printable(&self.message), printable(hint)),
            None => printable(&self.message),
        };
        format!(
            "::{} {}::{}",
            self.severity_name(),
            properties.join(","),
            escape_data(&message)
        )
    }
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Sources, Diagnostic) {
        let mut sources = Sources::default();
        let id = sources.add(
            "blueprints/web.yaml".into(),
            "web.yaml".into(),
            "a: 1\nscaling: {maxReplica: 4}\n".into(),
        );
        let span = Span {
            file: id,
            start: 15,
            end: 25,
        };
        (
            sources,
            Diagnostic::error(Code::UNKNOWN_FIELD, span, "unknown field `maxReplica`")
                .with_hint("did you mean `maxReplicas`?"),
        )
    }

    #[test]
    fn json_names_file_line_and_column() {
        let (sources, diag) = sample();
        assert_eq!(
            diag.to_json(&sources).to_string(),
            r#"{"severity":"error","code":"unknown-field","message":"unknown field `maxReplica`","file":"blueprints/web.yaml","line":2,"column":11,"endLine":2,"endColumn":21,"hint":"did you mean `maxReplicas`?"}"#
        );
    }

    #[test]
    fn github_annotations_escape_what_they_must() {
        let (sources, diag) = sample();
        assert_eq!(
            diag.github_annotation(&sources),
            "::error file=blueprints/web.yaml,line=2,col=11,endLine=2,endColumn=21,title=slipway unknown-field::unknown field `maxReplica`%0Ahint: did you mean `maxReplicas`?"
        );
        assert_eq!(escape_property("a,b:c%"), "a%2Cb%3Ac%25");
    }

    #[test]
    fn input_text_cannot_inject_escapes_or_workflow_commands() {
        let (sources, mut diag) = sample();
        diag.message = "unknown field `\u{1b}[2J\n::error::forged`".into();
        let text = render(&[diag.clone()], &sources, false);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("::")), "{text}");
        assert!(text.contains("`\\u{1b}[2J\\u{a}::error::forged`"), "{text}");
        let annotation = diag.github_annotation(&sources);
        assert_eq!(annotation.lines().count(), 1, "{annotation}");
        assert!(!annotation.contains('\u{1b}'), "{annotation}");
    }

    #[test]
    fn snippets_mask_control_characters_in_place() {
        assert_eq!(without_controls("a\u{1b}[31mb\n"), "a?[31mb\n");
        assert_eq!(without_controls("x\u{85}y").len(), "x\u{85}y".len());
        assert!(matches!(
            without_controls("plain\ttext\r\n"),
            Cow::Borrowed(_)
        ));
        assert_eq!(without_controls("a\r::error::x\r\n"), "a?::error::x\r\n");
    }
}
