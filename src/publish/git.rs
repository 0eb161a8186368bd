//! The system `git`, run as a child process in a scratch clone. Output that
//! reaches the user passes through [`redact`], so credentials in a remote URL
//! never appear.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A git working tree slipway drives.
pub struct Git {
    dir: PathBuf,
    /// Secrets to mask in anything git prints.
    secrets: Vec<String>,
}

/// How a push ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Push {
    Pushed,
    /// Someone else pushed first: fetch, redo, try again.
    Behind,
}

impl Git {
    /// A fresh repository in `dir` whose `origin` is `remote`.
    pub fn init(dir: &Path, remote: &str, secrets: Vec<String>) -> anyhow::Result<Git> {
        let git = Git {
            dir: dir.to_path_buf(),
            secrets,
        };
        git.run(&["init", "--quiet"])?;
        git.run(&["remote", "add", "origin", remote])?;
        Ok(git)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C");
        command
    }

    /// Run git and collect what it printed, within a bound: a remote that
    /// never answers ends in an error, not a job that hangs until CI kills
    /// it. `SLIPWAY_GIT_TIMEOUT` (seconds) changes the bound.
    fn output(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.output_with(args, None)
    }

    /// [`Git::output`], writing `input` to git's standard input.
    fn output_with(&self, args: &[&str], input: Option<Vec<u8>>) -> anyhow::Result<Output> {
        use std::io::{Read, Write};
        let stdin = if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let mut child = self
            .command(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run `git`; is it installed?")?;
        // Written from a thread of its own while the output is read, so
        // neither side waits for the other to drain a full pipe.
        if let (Some(mut pipe), Some(bytes)) = (child.stdin.take(), input) {
            std::thread::spawn(move || pipe.write_all(&bytes));
        }
        let collect = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes);
                }
                bytes
            })
        };
        let stdout = collect(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stderr = collect(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let deadline = Instant::now() + git_timeout();
        let status = loop {
            if let Some(status) = child.try_wait().context("cannot wait for `git`")? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                // The readers may wait on a helper git started; they are
                // left to the process exit.
                bail!(
                    "`git {}` did not finish within {} s; is the GitOps repository reachable?",
                    args.first().copied().unwrap_or_default(),
                    git_timeout().as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Ok(Output {
            status,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        })
    }

    /// Run git; its stdout, or an error with what it said.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self.output(args)?;
        if !output.status.success() {
            bail!("`git {}` failed: {}", args[0], self.said(&output));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn said(&self, output: &Output) -> String {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        redact(text.trim(), &self.secrets)
    }

    /// Does the remote have this branch?
    pub fn remote_has(&self, branch: &str) -> anyhow::Result<bool> {
        let refs = self.run(&[
            "ls-remote",
            "--heads",
            "origin",
            &format!("refs/heads/{branch}"),
        ])?;
        Ok(!refs.trim().is_empty())
    }

    /// Fetch a branch's tip (shallow: history is not needed to add a commit).
    /// The files under `path` that HEAD changes against `base`, as
    /// `<status> <path>` lines (`A`, `M`, `D`), sorted by path.
    pub fn changed_files(&self, base: &str, path: &str) -> anyhow::Result<Vec<String>> {
        let listed = self.run(&[
            "diff",
            "--name-status",
            "--no-renames",
            base,
            "HEAD",
            "--",
            path,
        ])?;
        let mut lines: Vec<String> = listed
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(status, file)| format!("{status} {file}"))
            .collect();
        lines.sort_by(|a, b| a[2..].cmp(&b[2..]));
        Ok(lines)
    }

    /// The text of every file under `path` at `rev` that `keep` wants, by
    /// path under `path`, read in one `git cat-file --batch`. Files that
    /// are not UTF-8 are left out.
    pub fn files_at(
        &self,
        rev: &str,
        path: &str,
        keep: impl Fn(&str) -> bool,
    ) -> anyhow::Result<BTreeMap<String, String>> {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let listed = self.run(&["ls-tree", "-r", "-z", "--name-only", rev, "--", &prefix])?;
        let wanted: Vec<&str> = listed
            .split('\0')
            .filter(|file| file.strip_prefix(&prefix).is_some_and(&keep))
            .collect();
        if wanted.is_empty() {
            return Ok(BTreeMap::new());
        }
        let request: String = wanted.iter().map(|f| format!("{rev}:{f}\n")).collect();
        let output = self.output_with(&["cat-file", "--batch"], Some(request.into_bytes()))?;
        if !output.status.success() {
            bail!("`git cat-file` failed: {}", self.said(&output));
        }
        let mut files = BTreeMap::new();
        let mut rest = output.stdout.as_slice();
        for file in wanted {
            let (content, after) = batch_entry(rest)
                .with_context(|| format!("`git cat-file` gave no content for `{file}`"))?;
            rest = after;
            if let (Some(name), Ok(text)) =
                (file.strip_prefix(&prefix), std::str::from_utf8(content))
            {
                files.insert(name.to_owned(), text.to_owned());
            }
        }
        Ok(files)
    }

    /// Does the remote have any branch at all? An empty repository gets its
    /// first branch from slipway.
    pub fn has_branches(&self) -> anyhow::Result<bool> {
        Ok(!self
            .run(&["ls-remote", "--heads", "origin"])?
            .trim()
            .is_empty())
    }

    pub fn fetch(&self, branch: &str) -> anyhow::Result<()> {
        let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
        self.run(&["fetch", "--quiet", "--depth=1", "origin", &refspec])
            .map(drop)
    }

    /// Check out `branch` at the remote's `start` branch, or as a new
    /// branch with no history when the remote has nothing to start from.
    pub fn start(&self, branch: &str, start: Option<&str>) -> anyhow::Result<()> {
        let _ = match start {
            Some(start) => self.run(&[
                "checkout",
                "--quiet",
                "--force",
                "-B",
                branch,
                &format!("origin/{start}"),
            ])?,
            None => self.run(&["checkout", "--quiet", "--orphan", branch])?,
        };
        // Leftovers of an attempt whose push was rejected.
        self.run(&["clean", "--quiet", "-d", "--force"]).map(drop)
    }

    /// Stage everything under `path`; were there changes?
    pub fn stage(&self, path: &str) -> anyhow::Result<bool> {
        self.run(&["add", "--all", "--", path])?;
        let quiet = self.output(&["diff", "--cached", "--quiet"])?;
        Ok(!quiet.status.success())
    }

    /// Commit what is staged, as the configured user or else as slipway.
    pub fn commit(&self, message: &str) -> anyhow::Result<()> {
        let configured = self.output(&["config", "user.email"])?.status.success();
        let mut args = Vec::new();
        if !configured && std::env::var_os("GIT_AUTHOR_EMAIL").is_none() {
            args.extend([
                "-c",
                "user.name=slipway",
                "-c",
                "user.email=slipway@users.noreply.github.com",
            ]);
        }
        args.extend(["commit", "--quiet", "--no-verify", "-m", message]);
        self.run(&args).map(drop)
    }

    /// The value of a trailer in HEAD's message (`Key: value`), if it has one.
    pub fn trailer(&self, key: &str) -> anyhow::Result<Option<String>> {
        let format = format!("--format=%(trailers:key={key},valueonly,separator=%x20)");
        let value = self.run(&["log", "-1", &format, "HEAD"])?;
        let value = value.trim();
        Ok((!value.is_empty()).then(|| value.to_owned()))
    }

    pub fn head(&self) -> anyhow::Result<String> {
        Ok(self.run(&["rev-parse", "HEAD"])?.trim().to_owned())
    }

    /// The commit of `branch` as last fetched.
    pub fn fetched_tip(&self, branch: &str) -> anyhow::Result<String> {
        Ok(self
            .run(&["rev-parse", &format!("refs/remotes/origin/{branch}")])?
            .trim()
            .to_owned())
    }

    /// The commit the remote's branch is at, if the branch exists.
    pub fn remote_tip(&self, branch: &str) -> anyhow::Result<Option<String>> {
        let refs = self.run(&[
            "ls-remote",
            "--heads",
            "origin",
            &format!("refs/heads/{branch}"),
        ])?;
        Ok(refs.split_whitespace().next().map(str::to_owned))
    }

    /// Push every update in one atomic push, each branch having been at its
    /// `expected` commit (`None`: absent) when this attempt started. A
    /// refused push is a lost race only when a branch has moved since (read
    /// from the remote, not from the words of the refusal, which a hook may
    /// choose); otherwise it is a refusal, reported with what git said.
    /// git never forces: a branch only moves forward.
    pub fn push(&self, updates: &[Update<'_>]) -> anyhow::Result<Push> {
        let refspecs: Vec<String> = updates
            .iter()
            .map(|u| format!("{}:refs/heads/{}", u.from, u.branch))
            .collect();
        let mut args = vec!["push", "--porcelain", "--atomic", "origin"];
        args.extend(refspecs.iter().map(String::as_str));
        let output = self.output(&args)?;
        if output.status.success() {
            return Ok(Push::Pushed);
        }
        let said = self.said(&output);
        for update in updates {
            if self.remote_tip(update.branch)?.as_deref() != update.expected {
                return Ok(Push::Behind);
            }
        }
        let branches: Vec<String> = updates.iter().map(|u| format!("`{}`", u.branch)).collect();
        bail!("the push to {} was refused: {said}", branches.join(", "))
    }

    /// Every branch of the remote and the commit it is at.
    pub fn remote_tips(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let refs = self.run(&["ls-remote", "--heads", "origin"])?;
        Ok(refs
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .filter_map(|(commit, name)| {
                let branch = name.strip_prefix("refs/heads/")?;
                Some((branch.to_owned(), commit.to_owned()))
            })
            .collect())
    }

    /// Fetch branches with their whole history, to tell whether one
    /// commit is an ancestor of another.
    pub fn fetch_history(&self, branches: &[&str]) -> anyhow::Result<()> {
        let refspecs: Vec<String> = branches
            .iter()
            .map(|b| format!("+refs/heads/{b}:refs/remotes/origin/{b}"))
            .collect();
        let mut args = vec!["fetch", "--quiet", "origin"];
        args.extend(refspecs.iter().map(String::as_str));
        self.run(&args).map(drop)
    }
}

/// One branch a push moves: to `from` (a commit, or `HEAD`), from
/// `expected` (`None`: the branch does not exist yet).
#[derive(Debug)]
pub struct Update<'a> {
    pub from: &'a str,
    pub branch: &'a str,
    pub expected: Option<&'a str>,
}

/// One object of `git cat-file --batch` (`<oid> <type> <size>\n<content>\n`):
/// its content and what follows it.
fn batch_entry(output: &[u8]) -> Option<(&[u8], &[u8])> {
    let header_end = output.iter().position(|b| *b == b'\n')?;
    let header = std::str::from_utf8(&output[..header_end]).ok()?;
    let size: usize = header.split(' ').nth(2)?.parse().ok()?;
    let start = header_end + 1;
    let content = output.get(start..start + size)?;
    Some((content, output.get(start + size + 1..).unwrap_or_default()))
}

/// How long one git command may take.
fn git_timeout() -> Duration {
    let seconds = std::env::var("SLIPWAY_GIT_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_GIT_TIMEOUT_SECS);
    Duration::from_secs(seconds)
}

/// The bound on one git command (a clone of a large GitOps repository
/// over a slow link fits well within it).
const DEFAULT_GIT_TIMEOUT_SECS: u64 = 300;

/// Files under a folder of a git work tree that the next commit would not
/// carry as they are on disk.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Uncommitted {
    /// Not in the index at all.
    pub untracked: Vec<String>,
    /// Ignored by `.gitignore`: never committed, so never synced.
    pub ignored: Vec<String>,
    /// In the index with other content, or deleted without staging it.
    pub unstaged: Vec<String>,
}

impl Uncommitted {
    pub fn is_empty(&self) -> bool {
        self.untracked.is_empty() && self.ignored.is_empty() && self.unstaged.is_empty()
    }
}

/// What the next commit would miss under `dir`, compared with the working
/// tree: `None` when `dir` is not inside a git work tree. Paths are
/// relative to `dir`.
pub fn uncommitted(dir: &Path) -> anyhow::Result<Option<Uncommitted>> {
    uncommitted_at(dir, &["."])
}

/// [`uncommitted`] for the paths under `dir` that `pathspecs` name. One
/// `git status`, which compares the work tree with the index by the stat
/// data the index keeps, reading only files whose stat data changed.
pub fn uncommitted_at(dir: &Path, pathspecs: &[&str]) -> anyhow::Result<Option<Uncommitted>> {
    let Some(place) = place(dir)? else {
        return Ok(None);
    };
    let mut args = vec![
        "--no-optional-locks",
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--ignored=traditional",
        "--no-renames",
        "--",
    ];
    args.extend_from_slice(pathspecs);
    let listed = listing(dir, &args)?;
    let mut found = Uncommitted::default();
    for entry in listed.split(|b| *b == 0).filter(|e| e.len() > 3) {
        // `XY path`, the path from the work tree's root.
        let path = String::from_utf8_lossy(&entry[3..]);
        let path = path.strip_prefix(&place.prefix).unwrap_or(&path).to_owned();
        match &entry[..2] {
            b"??" => found.untracked.push(path),
            b"!!" => found.ignored.push(path),
            [_, b' '] => {}
            _ => found.unstaged.push(path),
        }
    }
    Ok(Some(found))
}

/// Where a folder is to git.
struct Place {
    /// The folder's path from the work tree's root, `/`-terminated (empty
    /// at the root).
    prefix: String,
    /// The repository's object format: `sha1` or `sha256`.
    object_format: String,
}

/// `None` when `dir` is not inside a git work tree.
fn place(dir: &Path) -> anyhow::Result<Option<Place>> {
    let output = git_in(
        dir,
        &[
            "rev-parse",
            "--is-inside-work-tree",
            "--show-prefix",
            "--show-object-format",
        ],
    )?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    if !output.status.success() || lines.next() != Some("true") {
        return Ok(None);
    }
    let (prefix, object_format) = (lines.next(), lines.next());
    Ok(Some(Place {
        prefix: prefix.unwrap_or_default().to_owned(),
        object_format: object_format.unwrap_or_default().to_owned(),
    }))
}

/// A file in git's index.
#[derive(Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Path relative to the folder asked about.
    pub path: String,
    /// `100644` or `100755` for a file, `120000` a symlink, `160000` a
    /// submodule.
    pub mode: String,
    /// The object id (SHA-1).
    pub id: String,
}

/// Every file under `dir` in git's index, as the next commit would hold
/// it; read from the index alone, no file of the work tree is opened.
/// `None` outside a work tree, in a repository whose objects are not
/// SHA-1, and while a merge leaves a file unmerged.
pub fn index_entries(dir: &Path) -> anyhow::Result<Option<Vec<IndexEntry>>> {
    match place(dir)? {
        Some(place) if place.object_format == "sha1" => {}
        _ => return Ok(None),
    }
    let listed = listing(dir, &["ls-files", "--stage", "-z", "--", "."])?;
    let mut entries = Vec::new();
    for entry in listed.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        // `mode id stage<TAB>path`
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let mut meta = meta.split(' ');
        let (Some(mode), Some(id), Some("0")) = (meta.next(), meta.next(), meta.next()) else {
            return Ok(None);
        };
        entries.push(IndexEntry {
            path: path.to_owned(),
            mode: mode.to_owned(),
            id: id.to_owned(),
        });
    }
    Ok(Some(entries))
}

/// Run git in `dir` (C locale).
fn git_in(dir: &Path, args: &[&str]) -> anyhow::Result<Output> {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("LC_ALL", "C")
        .output()
        .context("cannot run `git`; is it installed?")
}

/// The standard output of a git command that must succeed.
fn listing(dir: &Path, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let output = git_in(dir, args)?;
    if !output.status.success() {
        bail!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

/// The commit a project folder is at (full hash), if it is a git checkout.
pub fn source_commit(project: &Path) -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(project)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Files under the inputs' folders that differ from HEAD (changed, staged
/// or untracked): a render of them is not a render of HEAD.
pub fn dirty_inputs(project: &Path) -> anyhow::Result<Vec<String>> {
    let output = Command::new("git")
        .args([
            "status",
            "--porcelain",
            "--untracked-files=all",
            "--",
            "blueprints",
            "overlays",
        ])
        .current_dir(project)
        .env("LC_ALL", "C")
        .output()
        .context("cannot run `git`; is it installed?")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.get(3..))
        .map(str::to_owned)
        .collect())
}

/// Is `older` an ancestor of `newer` in the project's history? `None` when
/// the history cannot tell (a commit it does not have, such as in a
/// shallow clone).
pub fn is_ancestor(project: &Path, older: &str, newer: &str) -> Option<bool> {
    let status = Command::new("git")
        .args(["merge-base", "--is-ancestor", older, newer])
        .current_dir(project)
        .output()
        .ok()?
        .status;
    match status.code() {
        Some(0) => Some(true),
        Some(1) => Some(false),
        _ => None,
    }
}

/// Mask credentials: the user-info part of URLs, and the given secrets.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret.as_str(), "***");
    }
    let mut masked = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        masked.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '/' || c == '\'' || c == '"')
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(userinfo) => {
                masked.push_str("***");
                rest = &tail[userinfo..];
            }
            None => rest = tail,
        }
    }
    masked.push_str(rest);
    masked
}

/// The URL Argo CD can clone a publish target from: a remote URL without
/// its credentials (for HTTP(S) all user information goes, since Argo CD
/// keeps credentials in repository Secrets; an SSH user name stays, it is
/// part of the address), or `None` for a local path or a `file://` URL,
/// which Argo CD cannot reach.
pub fn argocd_url(target: &str) -> Option<String> {
    if let Some((scheme, rest)) = target.split_once("://") {
        if scheme.is_empty() || scheme.eq_ignore_ascii_case("file") {
            return None;
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let authority = match authority.rsplit_once('@') {
            Some((userinfo, host)) if !scheme.to_ascii_lowercase().starts_with("http") => {
                let user = userinfo.split(':').next().unwrap_or_default();
                if user.is_empty() {
                    host.to_owned()
                } else {
                    format!("{user}@{host}")
                }
            }
            Some((_, host)) => host.to_owned(),
            None => authority.to_owned(),
        };
        return (!authority.is_empty()).then(|| format!("{scheme}://{authority}{path}"));
    }
    // git's scp-like syntax, `[user@]host:path`: a colon before any slash.
    // A one-letter "host" is a Windows drive (`C:\gitops`).
    let slash = target.find('/').unwrap_or(target.len());
    let (user, address) = match target[..slash].rsplit_once('@') {
        Some((userinfo, _)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            (Some(user), &target[userinfo.len() + 1..])
        }
        None => (None, target),
    };
    let (host, _) = address.split_once(':')?;
    if host.len() < 2 || host.contains('/') || host.contains('\\') {
        return None;
    }
    Some(match user {
        Some(user) if !user.is_empty() => format!("{user}@{address}"),
        _ => address.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argo_cd_gets_the_remote_without_credentials() {
        let url = |target: &str| argocd_url(target);
        assert_eq!(
            url("https://x-access-token:ghp_abc123@github.com/o/r.git").as_deref(),
            Some("https://github.com/o/r.git")
        );
        assert_eq!(
            url("http://deploy@git.example.com:8080/r.git").as_deref(),
            Some("http://git.example.com:8080/r.git")
        );
        assert_eq!(
            url("https://github.com/o/r.git").as_deref(),
            Some("https://github.com/o/r.git")
        );
        assert_eq!(
            url("ssh://git:hunter2@git.example.com/o/r.git").as_deref(),
            Some("ssh://git@git.example.com/o/r.git")
        );
        assert_eq!(
            url("git@github.com:o/r.git").as_deref(),
            Some("git@github.com:o/r.git")
        );
        assert_eq!(
            url("git:hunter2@github.com:o/r.git").as_deref(),
            Some("git@github.com:o/r.git")
        );
        for local in [
            "/tmp/gitops.git",
            "../gitops",
            "gitops",
            "file:///tmp/gitops.git",
            "./a:b",
            "C:\\gitops",
            "https://",
        ] {
            assert_eq!(url(local), None, "{local}");
        }
    }

    #[test]
    fn credentials_are_masked() {
        let text =
            "fatal: unable to access 'https://x-access-token:ghp_abc123@github.com/o/r.git/': 403";
        assert_eq!(
            redact(text, &[]),
            "fatal: unable to access 'https://***@github.com/o/r.git/': 403"
        );
        assert_eq!(
            redact("token ghp_abc123 leaked", &["ghp_abc123".into()]),
            "token *** leaked"
        );
        assert_eq!(
            redact("see https://github.com/o/r", &[]),
            "see https://github.com/o/r"
        );
    }
}
