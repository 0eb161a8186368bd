//! slipway: a GitOps manifest compiler. See ARCHITECTURE.md for the map.

pub mod audit;
pub mod check;
pub mod cli;
pub mod compile;
pub mod crd;
pub mod diag;
pub mod diff;
pub mod duration;
pub mod emit;
pub mod explain;
pub mod input;
pub mod load;
pub mod lower;
pub mod merge;
pub mod model;
pub mod names;
pub mod node;
pub mod parse;
pub mod policy;
pub mod publish;
pub mod rules;
pub mod source;
pub mod suggest;
pub mod template;
pub mod validate;
pub mod write;
