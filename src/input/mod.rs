//! Raw input types: they mirror the YAML exactly and are the only
//! `Deserialize` types of the input. Interpretation lives in `crate::model`.

mod blueprint;
mod overlay;

pub use blueprint::*;
pub use overlay::*;

/// Which kind of input file a tree is: it decides the file's folder and
/// the schema it is checked against. A file of `blueprints/` is a
/// blueprint until its `apiVersion` says it is a Score workload
/// ([`SCORE_API_VERSION`]), or its name says it is a Score workload's side
/// file ([`SIDE_FILE_SUFFIX`]); both are decided before the schema check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Blueprint,
    Overlay,
    /// A Score workload (`score.dev/v1b1`), translated into a blueprint.
    Score,
    /// `<name>.slipway.yaml` beside a Score workload: slipway's own
    /// sections of the service.
    ScoreExtension,
}

/// The `apiVersion` of the Score workloads slipway reads (score-spec/spec:
/// `score-v1b1.json`).
pub const SCORE_API_VERSION: &str = "score.dev/v1b1";

/// How the name of a Score workload's side file ends: `orders.slipway.yaml`
/// beside `orders.yaml`.
pub const SIDE_FILE_SUFFIX: &str = ".slipway";
