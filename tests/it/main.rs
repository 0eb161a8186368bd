//! One integration-test binary, a module per feature.

mod golden;
mod schemas;
mod support;
