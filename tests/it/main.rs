//! One integration-test binary, a module per feature.

mod argocd;
mod check;
mod cli;
mod explain;
mod gitops;
mod golden;
mod hardening;
mod publish;
mod schemas;
mod support;
mod tidy;
mod yaml11;
