//! What Argo CD's API says of an Application: `GET
//! /api/v1/applications/{name}` (argo-cd `assets/swagger.json`,
//! `ApplicationService_Get`) with a bearer token, as the `argocd` CLI sends
//! `ARGOCD_AUTH_TOKEN`. Only the status fields promotion reads, named as
//! argo-cd `pkg/apis/application/v1alpha1/types.go` names them. The token
//! is sent in a header and never printed.

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::git::redact;

pub struct ArgoCd {
    server: String,
    token: String,
    agent: ureq::Agent,
}

/// `Application.status`, the fields promotion reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationStatus {
    pub sync: SyncStatus,
    pub health: HealthStatus,
    pub operation_state: Option<OperationState>,
}

/// `status.sync`: `Synced`, `OutOfSync` or `Unknown`, and the commit the
/// comparison was made at.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SyncStatus {
    pub status: String,
    pub revision: String,
}

/// `status.health`: `Healthy`, `Progressing`, `Suspended`, `Degraded`,
/// `Missing` or `Unknown` (gitops-engine `pkg/health/health.go`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HealthStatus {
    pub status: String,
    pub message: String,
}

/// `status.operationState`: the last or running sync. `phase` is
/// `Running`, `Terminating`, `Failed`, `Error` or `Succeeded`
/// (gitops-engine `pkg/sync/common/types.go`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OperationState {
    pub phase: String,
    pub message: String,
    pub sync_result: Option<SyncResult>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SyncResult {
    pub revision: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Application {
    status: ApplicationStatus,
}

impl ArgoCd {
    /// `server` as the `argocd` CLI takes it (`ARGOCD_SERVER`): a host with
    /// an optional port, spoken to over HTTPS, or a whole `http(s)://` URL.
    pub fn new(server: &str, token: String) -> ArgoCd {
        let server = server.trim_end_matches('/');
        let server = if server.contains("://") {
            server.to_owned()
        } else {
            format!("https://{server}")
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        ArgoCd {
            server,
            token,
            agent,
        }
    }

    /// An Application's status, or `None` when Argo CD does not show it:
    /// 404, or 403, which Argo CD also answers for an Application that does
    /// not exist, so as not to tell it from one the token may not read
    /// (argo-cd `server/application/application.go`, `getAppEnforceRBAC`).
    pub fn application(&self, name: &str) -> anyhow::Result<Option<ApplicationStatus>> {
        let url = format!("{}/api/v1/applications/{name}", self.server);
        let (status, text) = self.get(&url)?;
        match status {
            200 => {
                let app: Application = serde_json::from_str(&text).with_context(|| {
                    format!("Argo CD's answer for `{name}` is not an Application")
                })?;
                Ok(Some(app.status))
            }
            403 | 404 => Ok(None),
            401 => bail!(
                "Argo CD at `{}` refused the token in ARGOCD_AUTH_TOKEN (401)",
                self.server
            ),
            _ => bail!(
                "Argo CD answered {status} for `{name}`: {}",
                redact(text.trim(), std::slice::from_ref(&self.token))
            ),
        }
    }

    /// One GET, tried again with backoff (1 s, then 2 s) when Argo CD
    /// answers 5xx or cannot be reached.
    fn get(&self, url: &str) -> anyhow::Result<(u16, String)> {
        let mut wait = Duration::from_secs(1);
        for _ in 1..API_ATTEMPTS {
            match self.get_once(url) {
                Ok((status, _)) if status >= 500 => {}
                Err(_) => {}
                answer => return answer,
            }
            std::thread::sleep(wait);
            wait *= 2;
        }
        self.get_once(url)
    }

    fn get_once(&self, url: &str) -> anyhow::Result<(u16, String)> {
        let request = ureq::http::Request::builder()
            .method("GET")
            .uri(url)
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Accept", "application/json")
            .header("User-Agent", concat!("slipway/", env!("CARGO_PKG_VERSION")))
            .body(String::new())
            .context("cannot build the request")?;
        let secrets = [self.token.clone()];
        let mut response = self.agent.run(request).map_err(|e| {
            anyhow::anyhow!(
                "cannot reach Argo CD at `{}`: {}",
                redact(url, &secrets),
                redact(&e.to_string(), &secrets)
            )
        })?;
        let status = response.status().as_u16();
        Ok((
            status,
            response.body_mut().read_to_string().unwrap_or_default(),
        ))
    }
}

/// Tries of one API call, the last one included.
const API_ATTEMPTS: usize = 3;
