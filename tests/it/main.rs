//! The integration tests, a module per feature. The CLI transcripts of
//! `tests/fixtures/cases/` are a binary of their own, `tests/transcripts.rs`,
//! so that each case is a test of its own.

mod argo;
mod argocd;
mod check;
mod cli;
mod dashboards;
mod data_stores;
mod explain;
mod gitops;
mod golden;
mod graph;
mod hardening;
mod mesh;
mod monitoring;
mod network;
mod platforms;
mod pods;
mod promote;
mod promtool;
mod publish;
mod rendering;
mod repo;
mod scanner;
mod schemas;
mod score;
mod secrets;
mod support;
mod tidy;
mod yaml11;
