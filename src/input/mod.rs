//! Raw input types: they mirror the YAML exactly and are the only
//! `Deserialize` types of the input. Interpretation lives in `crate::model`.

mod blueprint;
mod overlay;

pub use blueprint::*;
pub use overlay::*;
