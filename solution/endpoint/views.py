"""What `wth-solution endpoint status|logs|keys` shows: the endpoint, its deployments, versions and traffic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wth.errors import UsageError

from .. import servers
from . import keys, record, rollout
from .record import Endpoint

Progress = Callable[[str], None]


@dataclass
class Status:
    record: Endpoint | None
    router_running: bool
    running: dict[str, bool] = field(default_factory=dict)  # deployment name -> its server runs
    healthy: bool = False
    reaped: list[str] = field(default_factory=list)  # what an interrupted deploy had left running, now stopped
    busy: bool = False  # a deploy, traffic change or stop holds the lock: nothing was reaped

    @property
    def serving(self) -> bool:
        """The router runs, answers, and every deployment that takes traffic runs."""
        if not (self.record and self.router_running and self.healthy):
            return False
        return all(self.running.get(name, False) for name, pct in self.record.traffic.items() if pct > 0)


def status(ws) -> Status:
    """The endpoint as its record has it, once what an interrupted deploy left running is reaped (when
    no deploy, traffic change or stop is under way: a deploy's new server is not yet in the record)."""
    if not record.folder(ws).exists():
        return Status(None, False)
    reaped, busy = [], False
    try:
        with record.lock(ws):
            current = record.read(ws)
            reaped = rollout.reap(ws, current)
    except record.Busy:
        current, busy = record.read(ws), True
    if current is None:
        return Status(None, False, reaped=reaped, busy=busy)
    router = current.router.running()
    running = {name: d.identity.running() for name, d in current.deployments.items()}
    return Status(current, router, running, router and servers.healthy(current.port, host=current.host),
                  reaped, busy)


def show(ws, progress: Progress) -> int:
    """Print the status; 0 when serving, 1 otherwise."""
    state = status(ws)
    for line in state.reaped:
        progress(line)
    if state.busy:
        progress("a deploy, traffic change or stop is under way: this is the endpoint as it was before")
    current = state.record
    if current is None:
        progress(f"no endpoint deployed in {ws.root}")
        return 1
    progress(f"scoring URI   {current.scoring_uri}")
    progress(f"auth          {current.auth_mode}" + (f" (keys: `wth-solution endpoint keys`, {keys.path(ws)})"
                                                     if current.auth_mode == "key" else ""))
    progress(f"router        pid {current.router_pid}: {'running' if state.router_running else 'GONE'}")
    progress(f"health        {'healthy' if state.healthy else 'NOT HEALTHY'}")
    progress(f"{'deployment':<13} {'traffic':>7}  {'model':<28} {'port':>5}  server")
    for name, d in sorted(current.deployments.items()):
        alive = "running" if state.running.get(name) else "GONE"
        progress(f"{name:<13} {current.traffic.get(name, 0):>6}%  {d.model_name + ' v' + d.version:<28} "
                 f"{d.port:>5}  pid {d.pid} {alive} (since {d.started_at})")
    if not state.serving:
        progress("the endpoint is not serving: `wth-solution deploy` starts it again")
    return 0 if state.serving else 1


def logs(ws, progress: Progress) -> int:
    current = record.read(ws)
    if current is None:
        progress(f"no endpoint deployed in {ws.root}")
        return 1
    paths = [Path(d.log) for _, d in sorted(current.deployments.items())] + [Path(current.router_log)]
    for path in paths:
        progress(f"==> {path} <==")
        progress("\n".join(path.read_text(errors="replace").splitlines()[-40:]) if path.exists() else "(no log)")
    return 0


def show_keys(ws, regenerate: str | None, progress: Progress) -> int:
    """`endpoint keys [--regenerate primary|secondary]`: print (or rotate, then print) the endpoint's keys."""
    with record.lock(ws, create=bool(regenerate)):
        if regenerate:
            current = keys.regenerate(ws, regenerate)
            progress(f"regenerated the {regenerate} key; the other one stays valid")
        else:
            current = keys.read(ws)
    if current is None:
        raise UsageError(f"the endpoint in {ws.root} has no keys: deploy with --auth key "
                         "(or `wth-solution endpoint keys --regenerate primary` makes them)")
    progress(f"primary    {current['primary']}")
    progress(f"secondary  {current['secondary']}")
    progress(f"(stored in {keys.path(ws)}; clients send Authorization: Bearer <key>)")
    return 0
