//! One integration-test binary, a module per feature.

mod argocd;
mod check;
mod cli;
mod gitops;
mod golden;
mod hardening;
mod schemas;
mod support;
mod yaml11;
