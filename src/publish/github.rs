//! Pull requests through the GitHub REST API: open one for a branch, or
//! update the one already open. The token is sent in a header and never
//! printed.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::git::redact;

/// The public API; `GITHUB_API_URL` points elsewhere for GitHub Enterprise.
pub const DEFAULT_API: &str = "https://api.github.com";

pub struct GitHub {
    api: String,
    token: String,
    owner: String,
    repo: String,
    agent: ureq::Agent,
}

/// A pull request slipway opened or updated.
#[derive(Debug, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub url: String,
    pub created: bool,
}

impl GitHub {
    pub fn new(api: &str, token: String, repository: &str) -> anyhow::Result<GitHub> {
        let Some((owner, repo)) = repository
            .split_once('/')
            .filter(|(o, r)| !o.is_empty() && !r.is_empty())
        else {
            bail!("`{repository}` is not OWNER/NAME");
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Ok(GitHub {
            api: api.trim_end_matches('/').to_owned(),
            token,
            owner: owner.to_owned(),
            repo: repo.trim_end_matches(".git").to_owned(),
            agent,
        })
    }

    /// Open a pull request from `head` into `base`, or update the open one.
    pub fn open_or_update(
        &self,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> anyhow::Result<PullRequest> {
        let pulls = format!("{}/repos/{}/{}/pulls", self.api, self.owner, self.repo);
        let request = json!({"title": title, "head": head, "base": base, "body": body});
        let (status, created) = self.call("POST", &pulls, Some(&request))?;
        if status == 201 {
            return pull_request(&created, true);
        }
        if status != 422 || !already_exists(&created) {
            bail!(
                "GitHub refused to open the pull request ({status}): {}",
                self.said(&created)
            );
        }
        let query = format!("{pulls}?state=open&head={}:{head}&base={base}", self.owner);
        let (status, open) = self.call("GET", &query, None)?;
        let number = open
            .get(0)
            .and_then(|pr| pr.get("number"))
            .and_then(Value::as_u64);
        let Some(number) = number.filter(|_| status == 200) else {
            bail!(
                "a pull request for `{head}` exists, but GitHub did not list it ({status}): {}",
                self.said(&open)
            );
        };
        let update = json!({"title": title, "body": body});
        let (status, updated) = self.call("PATCH", &format!("{pulls}/{number}"), Some(&update))?;
        if status != 200 {
            bail!(
                "GitHub refused to update pull request #{number} ({status}): {}",
                self.said(&updated)
            );
        }
        pull_request(&updated, false)
    }

    /// GitHub's own words in an answer, with the token masked: an error
    /// body may echo the request.
    fn said(&self, answer: &Value) -> String {
        redact(&message(answer), std::slice::from_ref(&self.token))
    }

    /// One API call, tried again with backoff (1 s, then 2 s) when GitHub
    /// answers 5xx or cannot be reached: those are transient. Answers in
    /// 2xx-4xx are final and returned as they are.
    fn call(&self, method: &str, url: &str, body: Option<&Value>) -> anyhow::Result<(u16, Value)> {
        let mut wait = Duration::from_secs(1);
        for _ in 1..API_ATTEMPTS {
            match self.call_once(method, url, body) {
                Ok((status, _)) if status >= 500 => {}
                Err(_) => {}
                answer => return answer,
            }
            std::thread::sleep(wait);
            wait *= 2;
        }
        self.call_once(method, url, body)
    }

    fn call_once(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let builder = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("User-Agent", concat!("slipway/", env!("CARGO_PKG_VERSION")))
            .header("Content-Type", "application/json");
        let text = body.map(Value::to_string).unwrap_or_default();
        let request = builder.body(text).context("cannot build the request")?;
        let secrets = [self.token.clone()];
        let mut response = self.agent.run(request).map_err(|e| {
            anyhow::anyhow!(
                "cannot reach GitHub at `{}`: {}",
                redact(url, &secrets),
                redact(&e.to_string(), &secrets)
            )
        })?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

/// Tries of one API call, the last one included.
const API_ATTEMPTS: usize = 3;

fn pull_request(value: &Value, created: bool) -> anyhow::Result<PullRequest> {
    let number = value
        .get("number")
        .and_then(Value::as_u64)
        .context("GitHub's answer has no pull request number")?;
    let url = value
        .get("html_url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(PullRequest {
        number,
        url,
        created,
    })
}

/// GitHub answers 422 "A pull request already exists for owner:branch."
fn already_exists(value: &Value) -> bool {
    let errors = value
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    errors
        .filter_map(|e| e.get("message").and_then(Value::as_str))
        .any(|m| m.starts_with("A pull request already exists"))
}

fn message(value: &Value) -> String {
    value
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_owned()
}

/// `OWNER/NAME` from a GitHub remote: `https://host/OWNER/NAME(.git)`,
/// `git@host:OWNER/NAME(.git)` or `ssh://git@host/OWNER/NAME`.
pub fn repository_of(remote: &str) -> Option<String> {
    let path = match remote.split_once("://") {
        Some((_, rest)) => rest.split_once('/')?.1,
        None => remote.split_once(':')?.1,
    };
    let mut parts = path
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit('/');
    let (name, owner) = (parts.next()?, parts.next()?);
    (!name.is_empty() && !owner.is_empty()).then(|| format!("{owner}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_from_remotes() {
        assert_eq!(
            repository_of("https://github.com/example/gitops.git").as_deref(),
            Some("example/gitops")
        );
        assert_eq!(
            repository_of("https://x:y@github.com/example/gitops").as_deref(),
            Some("example/gitops")
        );
        assert_eq!(
            repository_of("git@github.com:example/gitops.git").as_deref(),
            Some("example/gitops")
        );
        assert_eq!(
            repository_of("ssh://git@ghe.corp/platform/gitops").as_deref(),
            Some("platform/gitops")
        );
        assert_eq!(repository_of("/srv/git/gitops.git"), None);
    }
}
