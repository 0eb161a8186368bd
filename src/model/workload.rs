//! Containers: images, env, resources, probes and files.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::traffic::{Port, unknown_port};
use crate::diag::{Code, Diagnostic};
use crate::input;
use crate::names;
use crate::node::de::Spanned;
use crate::source::Span;

#[derive(Debug)]
pub struct Container {
    pub name: String,
    pub image: String,
    /// Where the image was set.
    pub image_span: Span,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub env: Vec<EnvVar>,
    pub requests: Quantities,
    pub limits: Quantities,
    pub liveness: Option<Probe>,
    pub readiness: Option<Probe>,
}

#[derive(Debug, Default)]
pub struct Quantities {
    pub cpu: Option<String>,
    pub memory: Option<String>,
}

#[derive(Debug)]
pub struct EnvVar {
    pub name: String,
    pub value: EnvValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    Text(String),
    /// A key of a Secret that exists in the namespace already.
    Secret {
        secret: String,
        key: String,
    },
    /// A key of the Secret the service's ExternalSecret creates.
    External {
        key: String,
    },
}

#[derive(Debug)]
pub struct Probe {
    pub action: ProbeAction,
    pub initial_delay_seconds: Option<i32>,
    pub period_seconds: Option<i32>,
    pub timeout_seconds: Option<i32>,
    pub failure_threshold: Option<i32>,
}

#[derive(Debug)]
pub enum ProbeAction {
    Http {
        path: String,
        port: PortRef,
        scheme: Option<String>,
        /// Header name and value, in the blueprint's order.
        headers: Vec<(String, String)>,
    },
    Grpc {
        port: i32,
        service: Option<String>,
    },
    Tcp {
        port: PortRef,
    },
    Exec {
        command: Vec<String>,
    },
}

/// A probe's port: a service port of the main container by name, or a
/// container port by number.
#[derive(Debug, PartialEq, Eq)]
pub enum PortRef {
    Number(i32),
    Name(String),
}

impl From<&input::PortRef> for PortRef {
    fn from(raw: &input::PortRef) -> Self {
        match raw {
            input::PortRef::Number(n) => PortRef::Number(i32::from(*n)),
            input::PortRef::Name(name) => PortRef::Name(name.clone()),
        }
    }
}

#[derive(Debug)]
pub struct MountedFile {
    pub container: String,
    /// Key in the ConfigMap, derived from the target path.
    pub key: String,
    pub target: String,
    pub content: FileContent,
    /// The file's mode (Kubernetes' `KeyToPath.mode`), if not the
    /// volume's default 0644.
    pub mode: Option<i32>,
}

/// A file's content: text (the ConfigMap's `data`) or bytes (its
/// `binaryData`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileContent {
    Text(String),
    Binary(Vec<u8>),
}

impl MountedFile {
    /// What makes two files one: target, content and mode, as text that
    /// no two different files share. A text file of the default mode is
    /// `<target>\0<text>`, which starts with the target's `/`; any other
    /// starts with `\0` and ends in its content, after a target (which
    /// holds no control character) and a mode and kind (which hold no
    /// `\0`), so no text can make it another file's.
    fn identity(&self) -> String {
        let (kind, content) = match &self.content {
            FileContent::Text(text) if self.mode.is_none() => {
                return format!("{}\0{text}", self.target);
            }
            FileContent::Text(text) => ("text", text.clone()),
            FileContent::Binary(bytes) => ("binary", BASE64.encode(bytes)),
        };
        let mode = self.mode.map_or("default".to_owned(), |m| format!("{m:o}"));
        format!("\0{}\0{mode}\0{kind}\0{content}", self.target)
    }
}

/// A scratch volume of a container: an emptyDir of its own.
#[derive(Debug)]
pub struct ScratchVolume {
    pub container: String,
    /// The pod volume's name, unique in the pod.
    pub name: String,
    pub target: String,
    pub sub_path: Option<String>,
    pub read_only: bool,
}

/// A container; `secrets` holds the resolved value of each of its secret
/// references (`super::secrets`), by variable, and `extra` the variables
/// slipway sets besides its own (a dependency's connection).
pub(super) fn container(
    name: &str,
    raw: &input::Container,
    main: bool,
    ports: &[Port],
    secrets: &BTreeMap<(String, String), EnvValue>,
    extra: Vec<EnvVar>,
    diags: &mut Vec<Diagnostic>,
) -> Container {
    let env = raw
        .variables
        .iter()
        .map(|(k, v)| EnvVar {
            name: k.clone(),
            value: EnvValue::Text(v.value.clone()),
        })
        .chain(raw.secrets.keys().filter_map(|k| {
            Some(EnvVar {
                name: k.clone(),
                value: secrets.get(&(name.to_owned(), k.clone()))?.clone(),
            })
        }))
        .chain(extra);
    let env = in_dependency_order(env.collect());
    diags.extend(check_image(&raw.image.value, raw.image.span));
    let resources = raw.resources.as_ref();
    Container {
        name: name.to_owned(),
        image_span: raw.image.span,
        image: raw.image.value.clone(),
        command: raw.command.clone(),
        args: raw.args.clone(),
        env,
        requests: {
            check_requests_within_limits(resources, diags);
            quantities(resources.and_then(|r| r.requests.as_ref()), diags)
        },
        limits: quantities(resources.and_then(|r| r.limits.as_ref()), diags),
        liveness: raw
            .liveness_probe
            .as_ref()
            .and_then(|p| probe(p, main, ports, diags)),
        readiness: raw
            .readiness_probe
            .as_ref()
            .and_then(|p| probe(p, main, ports, diags)),
    }
}

/// Score's image `.`: "the image built from this workload's repository"
/// (score-spec/score-k8s `internal/command/generate.go`, replaced by
/// `--image`), which the environment must name.
pub const BUILT_IMAGE: &str = ".";

/// An image reference the kubelet cannot pull (`names::image_reference`).
pub fn check_image(image: &str, span: Span) -> Option<Diagnostic> {
    if image == BUILT_IMAGE {
        return Some(
            Diagnostic::error(Code::IMAGE_NOT_SET, span, "image `.` (the image built from this workload's repository) is not set for this environment")
                .with_hint("set the container's `image` in the overlay's `services.<name>`, or run `slipway set-image`"),
        );
    }
    let reason = names::image_reference(image).err()?;
    Some(
        Diagnostic::error(Code::INVALID_IMAGE, span, format!("image `{image}` {reason}"))
            .with_hint("write `registry.example.com/team/app:1.2.3` or pin `...@sha256:<64 hex>`; the kubelet cannot pull anything else"),
    )
}

fn quantities(list: Option<&input::ResourceList>, diags: &mut Vec<Diagnostic>) -> Quantities {
    let Some(list) = list else {
        return Quantities::default();
    };
    let mut check = |q: &Option<Spanned<String>>| {
        q.as_ref().map(|q| {
            check_quantity(q, diags);
            q.value.clone()
        })
    };
    Quantities {
        cpu: check(&list.cpu),
        memory: check(&list.memory),
    }
}

/// A resource quantity the API server accepts: the quantity grammar, and
/// not negative (kubernetes `pkg/apis/core/validation`
/// `ValidateNonnegativeQuantity`: "must be greater than or equal to 0").
fn check_quantity(q: &Spanned<String>, diags: &mut Vec<Diagnostic>) {
    let problem = match quantity_value(&q.value) {
        None => format!("`{}` is not a Kubernetes quantity", q.value),
        Some(v) if v < 0.0 => format!("`{}` is negative; a resource cannot be", q.value),
        Some(_) => return,
    };
    diags.push(
        Diagnostic::error(Code::INVALID_QUANTITY, q.span, problem)
            .with_hint("write e.g. `250m` or `0.5` for CPU, `512Mi` or `2Gi` for memory"),
    );
}

/// Requests above limits are refused by the API server (kubernetes
/// `pkg/apis/core/validation` `ValidateResourceRequirements`: "must be
/// less than or equal to cpu limit"), after every layer is merged.
fn check_requests_within_limits(raw: Option<&input::Resources>, diags: &mut Vec<Diagnostic>) {
    let Some(resources) = raw else { return };
    let (Some(requests), Some(limits)) = (&resources.requests, &resources.limits) else {
        return;
    };
    let pairs = [
        ("cpu", &requests.cpu, &limits.cpu),
        ("memory", &requests.memory, &limits.memory),
    ];
    for (what, request, limit) in pairs {
        let (Some(request), Some(limit)) = (request, limit) else {
            continue;
        };
        if quantity_cmp(&request.value, &limit.value) == Some(std::cmp::Ordering::Greater) {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_QUANTITY,
                    request.span,
                    format!(
                        "the {what} request `{}` is above the {what} limit `{}`; Kubernetes refuses it",
                        request.value, limit.value
                    ),
                )
                .with_related(limit.span, "the limit")
                .with_hint(format!("raise `resources.limits.{what}` or lower the request")),
            );
        }
    }
}

/// Is `text` a Kubernetes quantity? See [`quantity_value`].
pub fn is_quantity(text: &str) -> bool {
    quantity_value(text).is_some()
}

/// The value of a quantity, by the grammar of kubernetes
/// `apimachinery/pkg/api/resource/quantity.go`:
/// `<signedNumber><suffix>`, where a number is `<digits>`, `<digits>.`,
/// `.<digits>` or `<digits>.<digits>`, and the suffix is a binary SI one
/// (`Ki` .. `Ei`), a decimal SI one (`n`, `u`, `m`, none, `k`, `M`, `G`,
/// `T`, `P`, `E`) or a decimal exponent (`e`/`E` and a signed integer).
pub fn quantity_value(text: &str) -> Option<f64> {
    let (sign, body) = match text.as_bytes().first()? {
        b'-' => (-1.0, &text[1..]),
        b'+' => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    let end = body
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(end);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(frac) {
        return None;
    }
    let value: f64 = format!("{}.{}", if int.is_empty() { "0" } else { int }, frac)
        .parse()
        .ok()?;
    Some(sign * value * multiplier(suffix)?)
}

/// Compare two quantities exactly, as the API server does (a `700m`
/// request under a `0.7` limit is equal, where floating point says more).
/// Each is `digits × 10^e × 1024^k`; both sides are brought to whole
/// numbers and compared as integers, falling back to the float values only
/// if that would overflow.
pub fn quantity_cmp(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    let (x, y) = (exact(a)?, exact(b)?);
    let shift = x.1.min(y.1);
    let whole = |(digits, exp10, pow2): (u128, i32, u32)| -> Option<u128> {
        let ten = 10u128.checked_pow(u32::try_from(exp10 - shift).ok()?)?;
        digits
            .checked_mul(ten)?
            .checked_mul(1024u128.checked_pow(pow2)?)
    };
    match (whole(x), whole(y)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => quantity_value(a)?.partial_cmp(&quantity_value(b)?),
    }
}

/// A non-negative quantity as `(digits, power of ten, power of 1024)`.
fn exact(text: &str) -> Option<(u128, i32, u32)> {
    quantity_value(text).filter(|v| *v >= 0.0)?;
    let body = text.strip_prefix('+').unwrap_or(text);
    let end = body
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(end);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits: u128 = format!("{int}{frac}").parse().unwrap_or(0);
    let frac_len = i32::try_from(frac.len()).ok()?;
    let (exp10, pow2) = match suffix {
        "Ki" => (0, 1),
        "Mi" => (0, 2),
        "Gi" => (0, 3),
        "Ti" => (0, 4),
        "Pi" => (0, 5),
        "Ei" => (0, 6),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "" => (0, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        exponent => (exponent[1..].parse().ok()?, 0),
    };
    Some((digits, exp10 - frac_len, pow2))
}

fn multiplier(suffix: &str) -> Option<f64> {
    let binary = |power: i32| Some(1024f64.powi(power));
    let decimal = |power: i32| Some(10f64.powi(power));
    match suffix {
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "" => decimal(0),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        exponent => {
            let power = exponent.strip_prefix(['e', 'E'])?;
            let digits = power.strip_prefix(['+', '-']).unwrap_or(power);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            decimal(power.parse().ok()?)
        }
    }
}

/// A probe has exactly one handler (kubernetes `validateHandler`: "must
/// specify a handler type", "may not specify more than 1 handler type").
/// Layers merge, so an overlay that writes another handler over the
/// blueprint's keeps both unless it removes the old one with `null`.
fn one_handler(raw: &Spanned<input::Probe>, diags: &mut Vec<Diagnostic>) -> bool {
    let probe = &raw.value;
    let set: Vec<(&str, Span)> = [
        ("httpGet", probe.http_get.as_ref().map(|h| h.span)),
        ("grpc", probe.grpc.as_ref().map(|h| h.span)),
        ("tcpSocket", probe.tcp_socket.as_ref().map(|h| h.span)),
        ("exec", probe.exec.as_ref().map(|h| h.span)),
    ]
    .into_iter()
    .filter_map(|(name, span)| Some((name, span?)))
    .collect();
    let handlers: Vec<&str> = set.iter().map(|(name, _)| *name).collect();
    let (message, hint) = match handlers.as_slice() {
        [_] => return true,
        [] => (
            "this probe has no handler, so Kubernetes would refuse it".to_owned(),
            "give it one of `httpGet`, `grpc`, `tcpSocket` or `exec`, or remove the probe (`null`)"
                .to_owned(),
        ),
        [first, rest @ ..] => (
            format!(
                "this probe has {} handlers (`{first}`, `{}`); Kubernetes takes one",
                handlers.len(),
                rest.join("`, `")
            ),
            format!(
                "layers merge: set the one you replace to `null` where you write the other (`{first}: null`)"
            ),
        ),
    };
    let diag = set.iter().fold(
        Diagnostic::error(Code::INVALID_VALUE, raw.span, message).with_hint(hint),
        |diag, (name, span)| diag.with_related(*span, format!("`{name}` set here")),
    );
    diags.push(diag);
    false
}

fn probe(
    raw: &Spanned<input::Probe>,
    main: bool,
    ports: &[Port],
    diags: &mut Vec<Diagnostic>,
) -> Option<Probe> {
    if !one_handler(raw, diags) {
        return None;
    }
    let raw = &raw.value;
    let mut port_ref = |port: &Spanned<input::PortRef>| check_port_ref(port, main, ports, diags);
    let action = if let Some(Spanned { value: http, .. }) = &raw.http_get {
        ProbeAction::Http {
            // The API server stores an empty path as `/`
            // (`SetDefaults_HTTPGetAction`): render what the cluster keeps,
            // so Git and the live object agree.
            path: if http.path.is_empty() {
                "/".to_owned()
            } else {
                http.path.clone()
            },
            port: port_ref(&http.port)?,
            scheme: http.scheme.clone(),
            headers: http
                .http_headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
        }
    } else if let Some(Spanned { value: grpc, .. }) = &raw.grpc {
        let port = match port_ref(&grpc.port)? {
            PortRef::Number(n) => n,
            PortRef::Name(name) => ports
                .iter()
                .find(|p| p.name == name)
                .map_or(0, |p| p.target_port),
        };
        ProbeAction::Grpc {
            port,
            service: grpc.service.clone(),
        }
    } else if let Some(Spanned { value: tcp, .. }) = &raw.tcp_socket {
        ProbeAction::Tcp {
            port: port_ref(&tcp.port)?,
        }
    } else {
        ProbeAction::Exec {
            command: raw.exec.as_ref()?.value.command.clone(),
        }
    };
    // The API server stores 0 as the field's default (`SetDefaults_Probe`:
    // period 10, timeout 1, failure threshold 3; no initial delay): leave
    // it out, so Git and the live object agree.
    let set = |field: Option<i32>| field.filter(|&seconds| seconds != 0);
    Some(Probe {
        action,
        initial_delay_seconds: set(raw.initial_delay_seconds),
        period_seconds: set(raw.period_seconds),
        timeout_seconds: set(raw.timeout_seconds),
        failure_threshold: set(raw.failure_threshold),
    })
}

/// A probe's named port must be one of the main container's ports.
fn check_port_ref(
    port: &Spanned<input::PortRef>,
    main: bool,
    ports: &[Port],
    diags: &mut Vec<Diagnostic>,
) -> Option<PortRef> {
    let input::PortRef::Name(name) = &port.value else {
        return Some(PortRef::from(&port.value));
    };
    if !main {
        diags.push(
            Diagnostic::error(
                Code::INVALID_PORT,
                port.span,
                format!("port `{name}` is a service port of the main container"),
            )
            .with_hint("probes of other containers name their port by number"),
        );
        return None;
    }
    if ports.iter().any(|p| &p.name == name) {
        return Some(PortRef::from(&port.value));
    }
    diags.push(unknown_port(port.span, name, ports));
    None
}

pub(super) fn files(raw: &input::Blueprint, diags: &mut Vec<Diagnostic>) -> Vec<MountedFile> {
    let mut out: Vec<MountedFile> = Vec::new();
    let mut mounted: BTreeMap<(&str, &str), Span> = BTreeMap::new();
    for (container, c) in &raw.containers {
        // The files it mounts; a refused target is refused once, and
        // mounts nothing.
        let targets: Vec<&str> = (c.files.iter())
            .map(|f| f.value.target.value.as_str())
            .filter(|t| check_target(t).is_ok())
            .collect();
        for file in &c.files {
            let target = &file.value.target;
            let outer = targets.iter().find(|t| inside_file(&target.value, t));
            let reason = match check_target(&target.value) {
                Err(reason) => Some(reason.to_owned()),
                Ok(()) => outer.map(|outer| inside_message(outer)),
            };
            if let Some(reason) = reason {
                let diag = Diagnostic::error(
                    Code::INVALID_FILE_TARGET,
                    target.span,
                    format!("invalid file target `{}`: {reason}", target.value),
                );
                diags.push(match outer {
                    Some(outer) => diag.with_hint(format!(
                        "mount the file beside `{outer}`, not inside it, or make `{outer}` a folder of files"
                    )),
                    None => diag,
                });
                continue;
            }
            if mounted_twice(&mut mounted, container, target, "file", diags) {
                continue;
            }
            let content = file_content(file, diags);
            let mode = file
                .value
                .mode
                .as_ref()
                .map_or(Ok(None), |m| file_mode(m, diags));
            let (Some(content), Ok(mode)) = (content, mode) else {
                continue;
            };
            out.push(MountedFile {
                container: container.clone(),
                key: String::new(),
                target: target.value.clone(),
                content,
                mode,
            });
        }
    }
    let keys = config_keys(&out);
    for (file, key) in out.iter_mut().zip(keys) {
        file.key = key;
    }
    out
}

/// A file's `content` or its `binaryContent` decoded: one of the two.
/// Kubernetes' `binaryData` is bytes, written as standard base64 (as
/// Score's `binaryContent` is, score-spec/spec `score-v1b1.json`:
/// "standard-base64 encoded").
fn file_content(file: &Spanned<input::File>, diags: &mut Vec<Diagnostic>) -> Option<FileContent> {
    let target = &file.value.target.value;
    match (&file.value.content, &file.value.binary_content) {
        (Some(text), None) => Some(FileContent::Text(text.clone())),
        // Line breaks are skipped, as Go's `base64.StdEncoding` (which
        // decodes Kubernetes' bytes) skips them: `base64` wraps at 76.
        (None, Some(encoded)) => {
            match BASE64.decode(encoded.value.trim_end().replace(['\r', '\n'], "")) {
                Ok(bytes) => Some(FileContent::Binary(bytes)),
                Err(error) => {
                    diags.push(
                    Diagnostic::error(
                        Code::INVALID_VALUE,
                        encoded.span,
                        format!("the `binaryContent` of file `{target}` is not standard base64: {error}"),
                    )
                    .with_hint("encode the bytes with `base64` (the alphabet `A-Z a-z 0-9 + /`, padded with `=`)"),
                );
                    None
                }
            }
        }
        (content, _) => {
            let (message, hint) = match content {
                Some(_) => (
                    "has both `content` and `binaryContent`",
                    "keep one of the two",
                ),
                None => (
                    "has neither `content` nor `binaryContent`",
                    "write its text as `content`, or its bytes in base64 as `binaryContent`",
                ),
            };
            diags.push(
                Diagnostic::error(
                    Code::INVALID_VALUE,
                    file.span,
                    format!("file `{target}` {message}"),
                )
                .with_hint(hint),
            );
            None
        }
    }
}

/// A file's mode, octal text (`"0600"`): `None` for 0644, the volume's
/// default. Kubernetes takes modes of 0 to 0777 (`validateKeyToPath` in
/// kubernetes `pkg/apis/core/validation/validation.go`: "must be a number
/// between 0 and 0777 (octal), both inclusive"). `Err` when refused.
fn file_mode(mode: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> Result<Option<i32>, ()> {
    match i32::from_str_radix(&mode.value, 8) {
        Ok(0o644) => Ok(None),
        Ok(bits) if (0..=0o777).contains(&bits) => Ok(Some(bits)),
        _ => {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_VALUE,
                    mode.span,
                    format!("file mode `{}` is not an octal mode of 0 to 0777, which Kubernetes takes", mode.value),
                )
                .with_hint("write the permission bits in octal, such as `\"0600\"`; setuid, setgid and sticky bits cannot be set"),
            );
            Err(())
        }
    }
}

/// Is `path` inside `file`'s path? A file is bind-mounted by `subPath`
/// as a file, and the container runtime cannot make a mount point inside
/// a file: the container would never start.
fn inside_file(path: &str, file: &str) -> bool {
    path.strip_prefix(file)
        .is_some_and(|rest| rest.starts_with('/'))
}

fn inside_message(file: &str) -> String {
    format!(
        "is inside `{file}`, which the container mounts as a file, so no mount point can be made there and the container would never start"
    )
}

/// A second `what` (file or volume) at a path of the container where one
/// is mounted already, which the API server refuses
/// (`ValidateVolumeMounts`: "must be unique"); else `target` is noted.
fn mounted_twice<'a>(
    mounted: &mut BTreeMap<(&'a str, &'a str), Span>,
    container: &'a str,
    target: &'a Spanned<String>,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let Some(first) = mounted.insert((container, &target.value), target.span) else {
        return false;
    };
    diags.push(
        Diagnostic::error(
            Code::DUPLICATE_FILE_TARGET,
            target.span,
            format!(
                "container `{container}` mounts two {what}s at `{}`",
                target.value
            ),
        )
        .with_related(first, format!("first {what}"))
        .with_hint(format!(
            "give the container's {what}s distinct target paths"
        )),
    );
    true
}

/// The containers' scratch volumes, each an emptyDir of its own, named
/// `scratch-<hash of container and target>` (unique in the pod, never
/// `tmp` or `files`). A target is refused where a mount is already:
/// `/tmp`, a file of the container, another volume
/// (`ValidateVolumeMounts`: mount paths "must be unique").
pub(super) fn volumes(
    raw: &input::Blueprint,
    files: &[MountedFile],
    diags: &mut Vec<Diagnostic>,
) -> Vec<ScratchVolume> {
    let mut out = Vec::new();
    let mut mounted: BTreeMap<(&str, &str), Span> = BTreeMap::new();
    for (container, c) in &raw.containers {
        for volume in &c.volumes {
            let target = &volume.value.target;
            let file = files.iter().find(|f| {
                &f.container == container
                    && (f.target == target.value || inside_file(&target.value, &f.target))
            });
            let reason = match (check_volume_target(&target.value), file) {
                (Err(reason), _) => Some(reason.to_owned()),
                (Ok(()), Some(f)) if f.target == target.value => {
                    Some("is where the container mounts a file".to_owned())
                }
                (Ok(()), Some(f)) => Some(inside_message(&f.target)),
                (Ok(()), None) => None,
            };
            if let Some(reason) = reason {
                diags.push(
                    Diagnostic::error(
                        Code::INVALID_FILE_TARGET,
                        target.span,
                        format!("invalid volume target `{}`: {reason}", target.value),
                    )
                    .with_hint(
                        "mount the volume at a folder of its own, such as `/var/cache/<service>`",
                    ),
                );
                continue;
            }
            if mounted_twice(&mut mounted, container, target, "volume", diags) {
                continue;
            }
            let sub_path = volume.value.sub_path.as_ref();
            if let Some(reason) = sub_path.and_then(|p| check_sub_path(&p.value).err()) {
                let span = sub_path.map_or(target.span, |p| p.span);
                diags.push(
                    Diagnostic::error(
                        Code::INVALID_VALUE,
                        span,
                        format!("invalid `subPath` of volume `{}`: {reason}", target.value),
                    )
                    .with_hint(
                        "write a path inside the volume, relative to it, such as `data/cache`",
                    ),
                );
                continue;
            }
            out.push(ScratchVolume {
                container: container.clone(),
                name: format!(
                    "scratch-{}",
                    names::short_hash(&format!("{container}\0{}", target.value))
                ),
                target: target.value.clone(),
                sub_path: sub_path.map(|p| p.value.clone()),
                read_only: volume.value.read_only,
            });
        }
    }
    out
}

/// A volume's target: a clean absolute path, not the scratch folder.
fn check_volume_target(target: &str) -> Result<(), &'static str> {
    if target == SCRATCH_DIR {
        return Err("is each container's writable scratch folder (an emptyDir) already");
    }
    if target.ends_with('/') {
        return Err("must not end in `/`");
    }
    check_target(target)
}

/// A mount's `subPath`: relative, with no `..` (kubernetes
/// `pkg/apis/core/validation/validation.go` `validateLocalDescendingPath`:
/// "must be a relative path", "must not contain '..'").
fn check_sub_path(path: &str) -> Result<(), &'static str> {
    if path.starts_with('/') {
        return Err("must be a relative path");
    }
    if path.split('/').any(|part| part == "..") {
        return Err("must not contain `..`");
    }
    if path.is_empty() || path.chars().any(char::is_control) {
        return Err("must be a path");
    }
    Ok(())
}

/// A ConfigMap key holds at most 253 characters
/// (kubernetes `staging/src/k8s.io/apimachinery/pkg/util/validation`
/// `IsConfigMapKey`).
const CONFIG_KEY_LIMIT: usize = 253;

/// The ConfigMap key of each file: its target path made a key
/// (`/etc/orders/config.yaml` -> `etc_orders_config.yaml`). Files of
/// several containers with the same target and content share a key. Where
/// that would give two different files one key (`/etc/a_b` and `/etc/a/b`,
/// or one path with two contents in two containers), or a key too long,
/// the key keeps a readable prefix and ends in a hash of the file's target
/// and content, so no file is refused for a name slipway derives.
fn config_keys(files: &[MountedFile]) -> Vec<String> {
    let bases: Vec<String> = files.iter().map(|f| config_key(&f.target)).collect();
    let identities: Vec<String> = files.iter().map(MountedFile::identity).collect();
    let mut claims: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (identity, base) in identities.iter().zip(&bases) {
        claims.entry(base).or_default().insert(identity);
    }
    identities
        .iter()
        .zip(&bases)
        .map(|(identity, key)| {
            if claims[key.as_str()].len() == 1 && key.len() <= CONFIG_KEY_LIMIT {
                return key.clone();
            }
            let hash = names::short_hash(identity);
            let keep = CONFIG_KEY_LIMIT - hash.len() - 1;
            format!("{}-{hash}", &key[..keep.min(key.len())])
        })
        .collect()
}

/// Where every container gets a writable scratch folder (an emptyDir), its
/// root filesystem being read-only.
pub const SCRATCH_DIR: &str = "/tmp";

fn check_target(target: &str) -> Result<(), &'static str> {
    // Two mounts at one path are refused (`ValidateVolumeMounts`).
    if target == SCRATCH_DIR {
        return Err(
            "is each container's writable scratch folder (an emptyDir); put the file inside it, such as `/tmp/app.conf`",
        );
    }
    if !target.starts_with('/') {
        return Err("must be an absolute path");
    }
    if target.ends_with('/') {
        return Err("must name a file, not a folder");
    }
    if target.split('/').any(|part| part == ".." || part == ".") {
        return Err("must not contain `.` or `..`");
    }
    if target.contains("//") || target.chars().any(char::is_control) {
        return Err("must be a clean path");
    }
    Ok(())
}

/// ConfigMap key for a target path: `/etc/orders/config.yaml` ->
/// `etc_orders_config.yaml`; what a key cannot hold becomes `_`, and so
/// does a leading `.` (a key must not start with `..`, `IsConfigMapKey`).
fn config_key(target: &str) -> String {
    let path = target.trim_start_matches('/');
    let hidden = path.starts_with('.');
    let key: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if hidden {
        format!("_{}", &key[1..])
    } else {
        key
    }
}

/// The names a value refers to with Kubernetes' `$(NAME)` syntax (`$$` is
/// an escaped `$`), as the kubelet's expansion reads them
/// (kubernetes/kubernetes `third_party/forked/golang/expansion/expand.go`).
pub(super) fn references(value: &str) -> Vec<&str> {
    let bytes = value.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'$', b'$') => i += 2,
            (b'$', b'(') => match value[i + 2..].find(')') {
                Some(end) => {
                    found.push(&value[i + 2..i + 2 + end]);
                    i += end + 3;
                }
                None => break,
            },
            _ => i += 1,
        }
    }
    found
}

/// Environment variables in an order under which every `$(NAME)` reference
/// to another of them resolves: Kubernetes expands a reference only from
/// variables defined earlier in the list (kubelet `makeEnvironmentVariables`;
/// "Define Dependent Environment Variables" in the Kubernetes docs), and the
/// blueprint's variables are a map without an order. Among the variables
/// whose references are all defined, the first by name comes next, so the
/// order is deterministic and plain name order when nothing refers to
/// anything. Variables in a reference cycle, which no order resolves, come
/// last, by name.
fn in_dependency_order(mut env: Vec<EnvVar>) -> Vec<EnvVar> {
    env.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<String> = env.iter().map(|v| v.name.clone()).collect();
    let needs: Vec<Vec<usize>> = env
        .iter()
        .map(|var| match &var.value {
            EnvValue::Text(text) => references(text)
                .into_iter()
                .filter_map(|name| names.binary_search_by(|n| n.as_str().cmp(name)).ok())
                .collect(),
            EnvValue::Secret { .. } | EnvValue::External { .. } => Vec::new(),
        })
        .collect();
    let mut placed = vec![false; env.len()];
    let mut order = Vec::with_capacity(env.len());
    while let Some(next) =
        (0..env.len()).find(|&i| !placed[i] && needs[i].iter().all(|&n| placed[n] || n == i))
    {
        placed[next] = true;
        order.push(next);
    }
    order.extend((0..env.len()).filter(|&i| !placed[i]));
    let mut slots: Vec<Option<EnvVar>> = env.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for ok in [
            "250m", "0.5", "1", "512Mi", "2Gi", "1e3", "100k", "1E", ".5", "1.", "+1", "2e-3",
            "1E+2", "7n", "3u",
        ] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in [
            "", "m", "1.2.3", "12 Mi", "1MB", "abc", "-", "1e3Mi", "1e", "1e+-3", ".", "1ki", "Mi1",
        ] {
            assert!(!is_quantity(bad), "{bad}");
        }
        assert_eq!(quantity_value("512Mi"), Some(512.0 * 1024.0 * 1024.0));
        assert_eq!(quantity_value("250m"), Some(0.25));
        assert_eq!(quantity_value("1e3"), Some(1000.0));
        assert_eq!(quantity_value("-1"), Some(-1.0));
        assert!(quantity_value("1Gi") > quantity_value("1000Mi"));
        use std::cmp::Ordering::{Equal, Greater, Less};
        assert_eq!(
            quantity_cmp("700m", "0.7"),
            Some(Equal),
            "0.7000000000000001 in floats"
        );
        assert_eq!(quantity_cmp("350m", "0.35"), Some(Equal));
        assert_eq!(quantity_cmp("1Gi", "1024Mi"), Some(Equal));
        assert_eq!(quantity_cmp("1G", "1Gi"), Some(Less));
        assert_eq!(quantity_cmp("1e3", "1k"), Some(Equal));
        assert_eq!(quantity_cmp("1.5", "1500m"), Some(Equal));
        assert_eq!(quantity_cmp("513Mi", "512Mi"), Some(Greater));
    }

    fn mounted(container: &str, target: &str, content: &str) -> MountedFile {
        MountedFile {
            container: container.into(),
            key: String::new(),
            target: target.into(),
            content: FileContent::Text(content.into()),
            mode: None,
        }
    }

    #[test]
    fn config_keys_are_distinct_for_distinct_files_and_fit() {
        let long = format!("/{}", "d/".repeat(200) + "f");
        let files = [
            mounted("app", "/etc/a_b", "1"),
            mounted("app", "/etc/a/b", "2"),
            mounted("app", "/etc/c", "3"),
            mounted("sidecar", "/etc/c", "3"),
            mounted("sidecar", "/etc/d", "4"),
            mounted("app2", "/etc/d", "5"),
            mounted("app", &long, "6"),
            mounted("app", "/..data", "7"),
        ];
        let keys = config_keys(&files);
        assert_eq!(keys[2], "etc_c");
        assert_eq!(
            keys[2], keys[3],
            "one file in two containers shares its key"
        );
        assert!(keys[0].starts_with("etc_a_b-") && keys[1].starts_with("etc_a_b-"));
        let distinct: BTreeSet<&String> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len() - 1, "{keys:?}");
        assert_eq!(keys[6].len(), CONFIG_KEY_LIMIT);
        assert_eq!(keys[7], "_.data");
        assert_eq!(keys, config_keys(&files), "deterministic");
    }

    /// Text that spells another file's identity (a NUL, then what a
    /// binary file or a mode adds) is still another file, with a key of
    /// its own.
    #[test]
    fn no_text_makes_a_file_another_ones() {
        let mut binary = mounted("sidecar", "/etc/a", "");
        binary.content = FileContent::Binary(b"AAAA".to_vec());
        let mut private = mounted("sidecar", "/etc/b", "x");
        private.mode = Some(0o600);
        let files = [
            mounted("app", "/etc/a", "AAAA\0binary"),
            binary,
            mounted("app", "/etc/b", "x\0mode 600"),
            private,
        ];
        let keys = config_keys(&files);
        let distinct: BTreeSet<&String> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "{keys:?}");
    }

    #[test]
    fn config_keys_are_valid() {
        assert_eq!(
            config_key("/etc/orders/config.yaml"),
            "etc_orders_config.yaml"
        );
        assert!(check_target("/etc/../passwd").is_err());
        assert!(check_target("etc/x").is_err());
    }

    fn text(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: EnvValue::Text(value.into()),
        }
    }

    fn names(env: &[EnvVar]) -> Vec<&str> {
        env.iter().map(|v| v.name.as_str()).collect()
    }

    #[test]
    fn references_follow_the_kubelet_syntax() {
        assert_eq!(references("$(A)://$(B):$(C)"), ["A", "B", "C"]);
        assert_eq!(references("$$(A) is escaped, $(B"), Vec::<&str>::new());
        assert_eq!(references("cost: $5 $(HOST)"), ["HOST"]);
    }

    #[test]
    fn variables_come_after_the_variables_they_reference() {
        let env = in_dependency_order(vec![
            text("A_URL", "http://$(Z_HOST):$(PORT)"),
            text("Z_HOST", "db"),
            text("PORT", "5432"),
            text("PLAIN", "x"),
        ]);
        assert_eq!(names(&env), ["PLAIN", "PORT", "Z_HOST", "A_URL"]);
        // Nothing referenced: name order, as before.
        let env = in_dependency_order(vec![text("B", "1"), text("A", "2")]);
        assert_eq!(names(&env), ["A", "B"]);
    }

    #[test]
    fn cycles_and_unknown_names_keep_a_deterministic_order() {
        let env = in_dependency_order(vec![
            text("B", "$(A)"),
            text("A", "$(B)"),
            text("C", "$(KUBERNETES_SERVICE_HOST) $(C)"),
        ]);
        assert_eq!(names(&env), ["C", "A", "B"]);
    }
}
