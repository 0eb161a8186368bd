//! Raw input types: they mirror the YAML exactly and are the only
//! `Deserialize` types of the input. Interpretation lives in `crate::model`.

mod blueprint;
mod overlay;

pub use blueprint::*;
pub use overlay::*;

/// Which kind of input file a tree is: it decides the file's folder and
/// the schema it is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Blueprint,
    Overlay,
}
