"""A team's repository by git URL, and what its commit holds: real `git` in subprocesses, each with a
timeout, never a prompt.

`fetch(source, into, timeout)` makes `into` a clone of the graded branch's newest commit (a shallow
clone the first time, a shallow fetch after) whose work tree is exactly that commit's tree, with its
last `HISTORY_DEPTH` commits: a CI run counts only on a commit of the graded branch (probes/ci.py).
The graded branch is `source.ref`, else the one `git clone` checks out: the remote's HEAD (a team on
`master` is graded as one on `main`), or the remote's only branch when its HEAD names none (a bare
origin made with `main` that a team pushed `master` to).
The token (for an HTTPS remote, or plain HTTP to this machine: the teams file refuses anything else)
comes only from the environment variable `source.token_env` and reaches git only through
environment-scoped configuration (`GIT_CONFIG_*`: an `http.<remote>.extraHeader`, sent to the remote's
own scheme, host and port and nowhere else): never in argv, `.git/config`, a message or a log;
messages are redacted of it anyway.
Over `ssh://` (or `user@host:path`) git's ssh offers no key of the coach's (none from `~/.ssh`, its config
or an agent: a team names the host, and a repository the coach's key can read is not the team's to be
graded on) but the one the teams file names (`repo.ssh_key`, a deploy key or a machine user's).
"""

from __future__ import annotations

import base64
import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from wth.processes import popen, stop_tree

from ..not_gradable import NotGradable
from ..teams import RepoSource
from .pytest_runs import PASSED_ENV

HISTORY_DEPTH = 200  # commits of the graded branch kept: a team's CI runs are on recent ones


class GitFailed(Exception):
    """A git command failed; the message is git's first line of complaint, redacted."""


def _origin(url: str) -> str:
    """`scheme://host[:port]/`: the part of a URL git's `http.<url>.*` settings match on."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def ssh_command(key: Path | None) -> str:
    """The ssh git runs: no prompt, no config file, no agent, and no key but `key` (ssh reads `~/.ssh` from
    the user's home in the password database, not from $HOME, so each is said outright)."""
    identity = shlex.quote(str(key) if key else os.devnull)
    return (f"ssh -F {os.devnull} -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none "
            f"-o IdentityFile={identity}")


def _env(token: str | None, remote: str | None = None, ssh_key: Path | None = None) -> dict:
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", SSH_ASKPASS="true", GIT_CONFIG_NOSYSTEM="1",
               GIT_CONFIG_GLOBAL=os.devnull, HOME=os.devnull, GIT_SSH_COMMAND=ssh_command(ssh_key))
    settings = [("safe.directory", "*")]  # team clones may belong to another user
    if token and remote and urlsplit(remote).scheme in ("http", "https"):
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        settings.append((f"http.{_origin(remote)}.extraHeader", f"Authorization: Basic {basic}"))
    env["GIT_CONFIG_COUNT"] = str(len(settings))
    for i, (key, value) in enumerate(settings):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    return env


def _redact(text: str, token: str | None) -> str:
    if token:
        text = text.replace(token, "***").replace(base64.b64encode(f"x-access-token:{token}".encode()).decode(), "***")
    return text


def git(args: list[str], timeout: float, cwd: Path | None = None, token: str | None = None,
        remote: str | None = None, ssh_key: Path | None = None) -> str:
    """`git ARGS`' output; past `timeout` its whole tree is stopped (a clone's `git-remote-https` or `ssh` too).
    A `token` goes only to `remote`'s scheme, host and port; over ssh only `ssh_key` is offered."""
    try:
        process = popen(["git", *args], cwd=cwd, env=_env(token, remote, ssh_key), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        stdin=subprocess.DEVNULL, text=True)
    except FileNotFoundError:
        raise GitFailed("git is not installed on the grading machine") from None
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_tree(process.pid, timeout=2)
        process.communicate()
        raise GitFailed(f"git {args[0]} did not finish within {timeout:g} s") from None
    if process.returncode != 0:
        lines = [line for line in stderr.splitlines() if line.strip()]
        reason = next((line for line in lines if line.startswith(("fatal", "error"))), lines[-1] if lines else "")
        raise GitFailed(_redact(f"git {args[0]} failed: {reason.strip()[:300]}", token))
    return stdout


@dataclass(frozen=True)
class Listing:
    """What `git ls-remote --symref` says of a remote."""
    head: str | None  # the branch its HEAD names, if it names one
    branches: list[str]
    tags: list[str]


def listing(source: RepoSource, timeout: float, token: str | None = None) -> Listing:
    """The remote's HEAD, branches and tags (`GitFailed` when git cannot list it)."""
    head, branches, tags = None, [], []
    for line in git(["ls-remote", "--symref", "--", source.git], timeout, token=token, remote=source.git,
                    ssh_key=source.ssh_key).splitlines():
        name, _, where = line.partition("\t")
        if name.startswith("ref: refs/heads/") and where == "HEAD":
            head = name.removeprefix("ref: refs/heads/")
        elif where.startswith("refs/heads/"):
            branches.append(where.removeprefix("refs/heads/"))
        elif where.startswith("refs/tags/"):
            tags.append(where.removeprefix("refs/tags/"))
    return Listing(head, branches, tags)


def graded_branch(source: RepoSource, timeout: float, token: str | None = None) -> str:
    """`source.ref`, else the branch `git clone` checks out: the remote's HEAD, or its only branch when
    HEAD names none (`GitFailed` when git cannot list the remote, `NotGradable` when no branch is it)."""
    if source.ref:
        return source.ref
    found = listing(source, timeout, token)
    if found.head in found.branches:
        return found.head
    if len(found.branches) == 1:
        return found.branches[0]
    raise NotGradable(f"{source.git}: its HEAD names no branch and it has {len(found.branches)} "
                      f"({', '.join(found.branches[:5]) or 'none: push your work'}): give the branch as repo.ref in "
                      "the teams file")


def fetch(source: RepoSource, into: Path, timeout: float) -> Path:
    """`into` holding the graded branch's newest commit as its work tree; `NotGradable` when git cannot get it."""
    token = None
    if source.token_env:
        token = os.environ.get(source.token_env)
        if not token:
            raise NotGradable(f"the repository token is not set: export {source.token_env}")
    ref = source.ref
    try:
        ref = graded_branch(source, timeout, token)
        if not (into / ".git").is_dir():
            into.parent.mkdir(parents=True, exist_ok=True)
            git(["clone", "--quiet", "--depth", str(HISTORY_DEPTH), "--single-branch", "--branch", ref, "--",
                 source.git, str(into)], timeout, token=token, remote=source.git, ssh_key=source.ssh_key)
        else:
            git(["fetch", "--quiet", "--depth", str(HISTORY_DEPTH), "--force", source.git, ref], timeout, cwd=into,
                token=token, remote=source.git, ssh_key=source.ssh_key)
            git(["checkout", "--quiet", "--force", "--detach", "FETCH_HEAD"], timeout, cwd=into)
            git(["clean", "--quiet", "-ffdx"], timeout, cwd=into)
    except GitFailed as err:
        what = repr(ref) if ref else "the default branch"
        raise NotGradable(f"cannot get {what} of {source.git}: {err}") from None
    return into


def foreign_git(repo: Path) -> str | None:
    """What makes `repo`'s git data not its own, else None: a `.git` that is a link or a file whose
    `gitdir:` points outside the repository (another team's clone), or object alternates outside it."""
    real, dot = Path(os.path.realpath(repo)), repo / ".git"
    if dot.is_symlink():
        return ".git is a link"
    if dot.is_file():
        try:
            with open(dot, "rb") as handle:
                pointer = handle.read(4096).decode("utf-8", errors="replace").strip()
        except OSError as err:
            return f".git cannot be read ({err.strerror})"
        target = pointer.removeprefix("gitdir:").strip()
        if not pointer.startswith("gitdir:") or not Path(os.path.realpath(repo / target)).is_relative_to(real):
            return f".git points outside the repository ({pointer[:200]})"
        dot = repo / target
    for name in ("commondir", "objects/info/alternates"):
        try:
            with open(dot / name, "rb") as handle:
                lines = handle.read(4096).decode("utf-8", errors="replace").split()
        except OSError:
            continue
        outside = [line for line in lines if not Path(os.path.realpath(dot / "objects" / line if "alternates" in name
                                                                       else dot / line)).is_relative_to(real)]
        if outside:
            return f".git/{name} points outside the repository ({outside[0][:200]})"
    return None


def _git_args(repo: Path) -> list[str]:
    """git's options naming `repo`'s own git data (never a parent folder's repository)."""
    return ["--git-dir", str(repo / ".git"), "--work-tree", str(repo)]


def head_files(repo: Path, under: str, timeout: float = 20) -> set[str] | None:
    """Paths committed in HEAD's tree under `under` (None: not a git repository or no commit yet)."""
    try:
        git([*_git_args(repo), "rev-parse", "--verify", "--quiet", "HEAD^{commit}"], timeout, cwd=repo)
        listing = git([*_git_args(repo), "ls-tree", "-r", "--name-only", "HEAD", "--", under], timeout, cwd=repo)
    except GitFailed:
        return None
    return {line for line in listing.splitlines() if line}


def head_commit(repo: Path, timeout: float = 20) -> str | None:
    try:
        return git([*_git_args(repo), "rev-parse", "HEAD"], timeout, cwd=repo).strip()
    except GitFailed:
        return None
