"""The team's origin on the offline path: a bare git repository whose `post-receive` hook starts CI,
as pushing to GitHub does.

`wth ci init` makes it and points the team's repository at it (remote `origin`). Its git config says
which workspace the runs record into (`wth.workspace`) and which Python has the tools (`wth.python`:
its folder comes first on the runs' PATH); its file `wth-ci-last-run` counts the runs, so a run
number is unique per repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from .. import store
from ..errors import UsageError
from . import workflows

HOOK = """#!/bin/sh
# CI on push, as on GitHub: the workflows this push triggers run on the pushed commit (`wth ci --help`)
exec "{python}" -m wth.ci.hook
"""
COUNTER = "wth-ci-last-run"
GIT_TIMEOUT_S = 60


def git(*args: str, cwd: Path | None = None, git_dir: Path | None = None, check: bool = True,
        binary: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    if git_dir is not None:
        env["GIT_DIR"] = str(git_dir)
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=not binary,
                          timeout=GIT_TIMEOUT_S)
    if check and done.returncode != 0:
        error = done.stderr if not binary else done.stderr.decode(errors="replace")
        raise UsageError(f"git {' '.join(args[:3])} failed: {error.strip().splitlines()[-1] if error.strip() else done.returncode}")
    return done


@dataclass(frozen=True)
class Origin:
    path: Path

    def config(self, name: str) -> str:
        return git("config", "--get", f"wth.{name}", git_dir=self.path, check=False).stdout.strip()

    @property
    def workspace(self) -> str:
        found = self.config("workspace")
        if not found:
            raise UsageError(f"{self.path} is not set up for CI (no wth.workspace): run `wth ci init` in your repository")
        return found

    @property
    def python(self) -> Path:
        return Path(self.config("python") or sys.executable)

    def next_number(self) -> int:
        counter = self.path / COUNTER
        with FileLock(str(counter) + ".lock", timeout=60):
            last = counter.read_text().strip() if counter.is_file() else "0"
            number = (int(last) if last.isdigit() else 0) + 1
            counter.write_text(f"{number}\n")
        return number

    def head(self, branch: str) -> str:
        done = git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", git_dir=self.path, check=False)
        if done.returncode != 0:
            raise UsageError(f"branch {branch!r} is not on the origin {self.path}: push it first (`git push origin {branch}`)")
        return done.stdout.strip()

    def changed(self, before: str, after: str) -> list[str] | None:
        """The paths a push from `before` to `after` changed (None: a new branch, or `before` unknown here)."""
        done = git("diff", "--name-only", "-z", before, after, git_dir=self.path, check=False)
        return [p for p in done.stdout.split("\0") if p] if done.returncode == 0 else None

    def workflows_at(self, sha: str) -> list[workflows.Workflow]:
        """The workflow files of commit `sha`, parsed."""
        listing = git("ls-tree", "-z", sha, workflows.FOLDER + "/", git_dir=self.path, check=False)
        found = []
        for entry in listing.stdout.split("\0"):
            meta, _, path = entry.partition("\t")
            if not path or not workflows.is_workflow_path(path) or meta.split()[1:2] != ["blob"]:
                continue
            blob = meta.split()[2]
            size = git("cat-file", "-s", blob, git_dir=self.path).stdout.strip()
            if int(size) > workflows.MAX_BYTES:
                found.append(workflows.parse(path, b" " * (workflows.MAX_BYTES + 1)))
                continue
            text = git("cat-file", "blob", blob, git_dir=self.path, binary=True).stdout
            found.append(workflows.parse(path, text))
        return found

    def workflow(self, sha: str, name: str) -> workflows.Workflow:
        """The workflow file `name` (its file name, path or `name:`) at `sha`."""
        every = self.workflows_at(sha)
        chosen = [w for w in every if name in (w.path, w.file, w.name)]
        if not chosen:
            listed = ", ".join(w.file for w in every) or "none"
            raise UsageError(f"no workflow {name!r} in {workflows.FOLDER}/ at {sha[:8]} (there: {listed})")
        return chosen[0]

    def checkout(self, sha: str, branch: str, dest: Path) -> None:
        """A working tree of `sha` at `dest`, on a local branch named as the pushed one (act reads the ref)."""
        git("clone", "--quiet", "--shared", "--no-checkout", str(self.path), str(dest))
        git("checkout", "--quiet", "-B", branch, sha, cwd=dest)


def init(repo: Path, workspace: str | os.PathLike, origin: Path | None = None, remote: str = "origin") -> Origin:
    """A bare origin for `repo` with the CI hook, and `repo`'s remote `remote` pointing at it. The runs
    record into `workspace` (a folder, or an MLflow tracking URI); the origin goes in the workspace's
    local folder unless `origin` says where."""
    if git("rev-parse", "--is-inside-work-tree", cwd=repo, check=False).stdout.strip() != "true":
        raise UsageError(f"{repo} is not a git repository: run `git init -b main` first")
    _, state = store.locate(workspace)
    path = (origin or state / "origin.git").resolve()
    if not (path / "HEAD").is_file():
        path.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", "--initial-branch=main", str(path))
    git("config", "wth.workspace", str(workspace) if store.is_uri(workspace) else str(state), git_dir=path)
    git("config", "wth.python", sys.executable, git_dir=path)
    hook = path / "hooks" / "post-receive"
    hook.write_text(HOOK.format(python=Path(sys.executable).as_posix()))
    hook.chmod(0o755)
    current = git("remote", "get-url", remote, cwd=repo, check=False)
    if current.returncode != 0:
        git("remote", "add", remote, str(path), cwd=repo)
    elif Path(current.stdout.strip()).resolve() != path:
        raise UsageError(f"remote {remote!r} already points at {current.stdout.strip()}: give another name "
                         f"(--remote ci) or remove it (`git remote remove {remote}`)")
    return Origin(path)


def of_repository(repo: Path, remote: str = "origin") -> Origin:
    """The CI origin the repository at `repo` pushes to."""
    done = git("remote", "get-url", remote, cwd=repo, check=False)
    if done.returncode != 0:
        raise UsageError(f"no remote {remote!r} in {repo}: run `wth ci init` first")
    path = Path(done.stdout.strip().removeprefix("file://"))
    path = path if path.is_absolute() else repo / path
    if not (path / "HEAD").is_file():
        raise UsageError(f"remote {remote!r} ({done.stdout.strip()}) is not a local origin set up by `wth ci init`")
    origin = Origin(path.resolve())
    origin.workspace  # noqa: B018 - refuses an origin that is not set up for CI
    return origin
