"""The endpoint record, `<workspace>/endpoint/endpoint.json`: the single source of truth of the local endpoint.

It names the router (pid and creation time), its address, the auth mode, every named deployment (its
version, port, server process and the secret its router scores it with) and the traffic split. The
router re-reads it when it changes; only `solution.endpoint.rollout` writes it, under the deploy lock,
atomically (the router never reads half a record) and readable by the owner only, as the keys are.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import filelock

from wth.errors import UsageError
from wth.processes import HOST, Identity

RECORD = "endpoint.json"
AUTH_MODES = ("key", "none")


@dataclass
class Deployment:
    name: str
    model_name: str
    version: str
    port: int
    pid: int
    created: float  # when the server started (wth.processes.Identity): with the pid, it names the process
    folder: str
    log: str
    started_at: str
    secret: str = field(repr=False)  # its server scores only requests bearing it: those of the router

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/score"

    @property
    def identity(self) -> Identity:
        return Identity(self.pid, self.created)


@dataclass
class Endpoint:
    scoring_uri: str
    port: int
    host: str  # the router's bind address; deployments always stay on loopback
    router_pid: int
    router_created: float
    router_log: str
    auth_mode: str
    deployments: dict[str, Deployment]
    traffic: dict[str, int]  # name -> percent, summing to 100
    updated_at: str = field(default_factory=lambda: now())

    @property
    def router(self) -> Identity:
        return Identity(self.router_pid, self.router_created)

    @property
    def deployment(self) -> Deployment:
        """The deployment taking the most traffic (the one a plain request most likely reaches)."""
        return max(self.deployments.values(), key=lambda d: (self.traffic.get(d.name, 0), d.started_at))

    @property
    def model_version(self) -> str:
        return self.deployment.version


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def folder(ws) -> Path:
    return Path(ws.root) / "endpoint"


def read(ws) -> Endpoint | None:
    path = folder(ws) / RECORD
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        deployments = {name: Deployment(**d) for name, d in data["deployments"].items()}
        return Endpoint(**{**data, "deployments": deployments})
    except (ValueError, TypeError, KeyError, AttributeError):
        raise UsageError(f"{path}: unreadable endpoint record; `wth-solution endpoint stop` clears it") from None


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, readable by the owner only (mode 0600; on Windows the file
    inherits the folder's permissions, owner-only in a user profile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def write(ws, record: Endpoint) -> None:
    record.updated_at = now()
    write_private(folder(ws) / RECORD, json.dumps(asdict(record), indent=2))


def forget(ws) -> None:
    (folder(ws) / RECORD).unlink(missing_ok=True)


class Busy(UsageError):
    """Another deploy, traffic change or stop holds the lock."""


@contextlib.contextmanager
def lock(ws, create: bool = False) -> Iterator[None]:
    """One deploy, traffic change or stop at a time on a workspace (a file lock: every platform; a process
    that dies, even by SIGKILL, releases it). Only a deploy (`create`) makes the endpoint's folder: where
    there is none, there is nothing to guard, and a command on a mistyped workspace leaves no trace."""
    if not create and not folder(ws).is_dir():
        yield
        return
    folder(ws).mkdir(parents=True, exist_ok=True)
    try:
        with filelock.FileLock(str(folder(ws) / ".lock"), timeout=0):
            yield
    except filelock.Timeout:
        raise Busy(f"another deploy, traffic change or stop is running on {folder(ws)}; wait for it") from None
