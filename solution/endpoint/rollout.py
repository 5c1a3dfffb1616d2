"""Deploy, traffic and stop: every change to the local endpoint, each under the deploy lock, each ending
in one atomic write of the record that the router follows.

`deploy` without a deployment name is the blue/green rollout: the new version starts as the other colour
beside the one serving, passes the smoke test on its own port, takes 100% of the traffic, and only then
are the old deployments stopped (they finish the requests they hold). With `deployment=NAME` it adds or
replaces that one deployment and keeps the others, as `az ml online-deployment create` does: a new one
gets `traffic` percent (default 0, or 100 when it is the first), a replaced one keeps its share. A failed
new deployment is stopped and the record is left as it was.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from wth.errors import StepFailed, UsageError
from wth.processes import HOST, LOOPBACK, Identity

from .. import servers
from . import deployments, keys, record
from .record import AUTH_MODES, Endpoint

DEFAULT_PORT = 5001
COLOURS = ("blue", "green")
ROUTER = Path(__file__).with_name("router.py")  # run by path: `-m` would first import this package (psutil, filelock, ...)
DRAIN_S = 0.2  # requests the router sent before a switch reach the old server, which finishes them
LEFT = "an interrupted deploy left it running, and the endpoint record did not name it"

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


def live(ws) -> Endpoint | None:
    """The record when its router is running, else None (the state of a dead endpoint is cleaned up)."""
    current = record.read(ws)
    if current is None:
        return None
    if current.router.running():
        return current
    clean(ws)
    return None


def clean(ws) -> None:
    """Stop every process the endpoint folder's records and pid files name, and forget the record."""
    if record.folder(ws).exists():
        reap(ws, None)
        record.forget(ws)


def reap(ws, current: Endpoint | None) -> list[str]:
    """Stop the routers and servers that the endpoint folder's pid files name but `current` does not, and
    remove the deployment folders it does not name; one line for each process stopped. Under the lock
    only: a deploy in progress has such a server on purpose (the one it is starting)."""
    where = record.folder(ws)
    reaped = []
    serving = current.router_pid if current is not None and current.router.running() else None
    for pid_file in sorted(where.glob("router-*.pid")):  # one per port: a move to another port has two
        named = Identity.load(pid_file)
        if named is not None and named.pid == serving:
            continue
        if identity := servers.stop_named(pid_file):
            reaped.append(f"reaped the router on port {pid_file.stem.removeprefix('router-')} "
                          f"(pid {identity.pid}): {LEFT}")
    recorded = {d.folder for d in current.deployments.values()} if current else set()
    for folder in sorted((where / "deployments").glob("*")):
        if str(folder) not in recorded:
            reaped += [f"reaped the server of deployment folder {folder.name} (pid {identity.pid}): {LEFT}"
                       for identity in deployments.stop_recorded(folder)]
            shutil.rmtree(folder, ignore_errors=True)
    return reaped


def router_argv(ws, port: int, host: str) -> list[str]:
    where = record.folder(ws)
    return [sys.executable, str(ROUTER), "--record", str(where / record.RECORD), "--keys", str(keys.path(ws)),
            "--port", str(port), "--host", host]


def _start_router(ws, port: int, host: str) -> Identity:
    where = record.folder(ws)
    return servers.spawn(router_argv(ws, port, host), cwd=where, log=where / "router.log",
                           env={**os.environ, "PYTHONUNBUFFERED": "1"}, marker=f"router-{port}", port=port,
                           timeout=30, what=f"the endpoint router on {host}:{port}", host=host)


def split_after(traffic: dict[str, int], name: str, percent: int | None) -> dict[str, int]:
    """The traffic once deployment `name` is added or replaced with `percent` (None: 0 for a new one beside
    others, 100 for the first, its share kept when replaced); the others share the rest in proportion."""
    others = {n: p for n, p in traffic.items() if n != name}
    if percent is None:
        percent = traffic[name] if name in traffic else (0 if others else 100)
    if not 0 <= percent <= 100:
        raise UsageError(f"--traffic {percent}: a percentage is 0..100")
    if not others:
        if percent != 100:
            raise UsageError(f"--traffic {percent}: {name} is the only deployment and takes 100% of the traffic")
        return {name: 100}
    rest, total = 100 - percent, sum(others.values())
    weights = others if total else {n: 1 for n in others}
    shares = {n: rest * w / sum(weights.values()) for n, w in weights.items()}
    out = {n: int(s) for n, s in shares.items()}
    for n in sorted(shares, key=lambda n: shares[n] - out[n], reverse=True)[:rest - sum(out.values())]:
        out[n] += 1  # largest remainders: the split sums to 100 exactly
    return {**out, name: percent}


def _auth_for(auth: str | None, host: str, current: Endpoint | None) -> str:
    if auth is not None:
        if auth not in AUTH_MODES:
            raise UsageError(f"--auth {auth!r}: choose key or none")
        return auth
    if current is not None and current.host == host:
        return current.auth_mode
    return "none" if host in LOOPBACK else "key"  # another machine can reach it: a key unless told otherwise


def deploy(ws, version: str | int | None = None, alias: str | None = None, port: int | None = None,
           progress: Progress = _quiet, host: str | None = None, deployment: str | None = None,
           traffic: int | None = None, auth: str | None = None) -> Endpoint:
    """Serve a registered version (default: the champion) on `http://<host>:<port>/score`; see the module doc.

    `host` is the router's bind address (default loopback, or the current endpoint's): `0.0.0.0` or a LAN
    address lets a coach's grader on another machine reach a team's laptop, and turns key auth on unless
    `auth="none"` is given.
    """
    from wth import smoke

    from .. import workspace

    if port is not None and not 1 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port (1..65535)")
    if deployment is not None:
        deployments.check_name(deployment)
    elif traffic is not None:
        raise UsageError("--traffic needs --deployment NAME (without it, the rollout moves 100% to the new version)")
    mv = workspace.model_version(ws, version=version, alias=alias)
    with record.lock(ws, create=True):
        current = live(ws)
        for line in reap(ws, current):
            progress(line)
        port = port or (current.port if current else DEFAULT_PORT)
        host = host or (current.host if current else HOST)
        auth_mode = _auth_for(auth, host, current)
        moving = current is None or current.port != port or current.host != host
        if current and current.port == port and current.host != host:
            raise UsageError(f"the endpoint listens on {current.host}:{port}; two routers cannot share the port "
                             "during a rollout: choose another --port, or `wth-solution endpoint stop` first")
        if moving and not servers.port_free(port, host):
            raise UsageError(f"port {port} on {host} is in use or not an address of this machine; "
                             "choose another with --port or --host")
        before = dict(current.traffic) if current else {}
        serving = current.deployment.name if current else None
        name = deployment or (COLOURS[1] if serving == COLOURS[0] else COLOURS[0])
        new_split = split_after(before, name, traffic) if deployment else {name: 100}
        progress(f"starting azmlinfsrv for {mv.name} version {mv.version} as deployment {name}")
        new = deployments.start(ws, mv, name)
        failures = smoke.check(new.url, expected_version=str(mv.version), expected_train_end=mv.tags.get("train_end"),
                               key=new.secret)  # on its own port, as the router will send it requests
        if failures:
            deployments.stop(new)
            kept = f"; version {current.model_version} keeps serving" if current else ""
            raise StepFailed(f"version {mv.version} failed the smoke test ({failures[0]}){kept}")
        progress(f"version {mv.version} passed the smoke test on port {new.port}")
        kept = {n: d for n, d in current.deployments.items() if n != name} if current and deployment else {}
        retired = [d for n, d in (current.deployments.items() if current else ()) if n not in kept]
        if auth_mode == "key":
            keys.ensure(ws)
        rec = Endpoint(scoring_uri=f"http://{servers.reachable(host)}:{port}/score", port=port, host=host,
                       router_pid=current.router_pid if current else 0,
                       router_created=current.router_created if current else 0.0,
                       router_log=str(record.folder(ws) / "router.log"), auth_mode=auth_mode,
                       deployments={**kept, name: new}, traffic=new_split)
        record.write(ws, rec)  # the switch: the running router follows the record from its next request
        if moving:
            try:
                router = _start_router(ws, port, host)
            except StepFailed:
                deployments.stop(new)
                record.write(ws, current) if current else record.forget(ws)
                raise
            rec.router_pid, rec.router_created = router.pid, router.created
            record.write(ws, rec)
        if retired or (current and moving):
            time.sleep(DRAIN_S)
        for old in retired:
            deployments.stop(old)
            progress(f"stopped deployment {old.name} (version {old.version})")
        if current and moving:
            servers.stop(current.router)
        shares = ", ".join(f"{n} {p}%" for n, p in sorted(rec.traffic.items()))
        progress(f"serving {mv.name} version {mv.version} as {name} at {rec.scoring_uri} (traffic: {shares})")
        if host == "0.0.0.0":
            progress(f"listening on every interface: other machines use http://<this machine's address>:{port}/score")
        if auth_mode == "key":
            progress(f"key auth is on: send Authorization: Bearer <key>; the keys are in {keys.path(ws)} "
                     "(`wth-solution endpoint keys` prints them)")
        elif host not in LOOPBACK:
            progress("key auth is off (--auth none): anyone who reaches this address can call the endpoint")
        return rec


def parse_split(items: list[str]) -> dict[str, int]:
    """`["blue=90", "green=10"]` -> {"blue": 90, "green": 10}; `UsageError` with the reason otherwise."""
    split = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise UsageError(f"{item!r}: give the traffic as NAME=PERCENT, e.g. blue=90 green=10")
        if name in split:
            raise UsageError(f"{name!r} is given twice")
        split[name] = int(value)
    return split


def set_traffic(ws, split: dict[str, int], progress: Progress = _quiet) -> Endpoint:
    """Set the traffic split, as `az ml online-endpoint update --traffic` does: deployments not named get 0."""
    with record.lock(ws):
        current = live(ws)
        if current is None:
            raise UsageError(f"no endpoint is serving from {ws.root}: `wth-solution deploy` first")
        unknown = sorted(set(split) - set(current.deployments))
        if unknown:
            raise UsageError(f"no deployment named {unknown[0]!r}; the endpoint has {', '.join(sorted(current.deployments))}")
        if any(not 0 <= p <= 100 for p in split.values()) or sum(split.values()) != 100:
            raise UsageError(f"the traffic must add up to 100 (given {sum(split.values())})")
        current.traffic = {name: split.get(name, 0) for name in current.deployments}
        record.write(ws, current)
    progress("traffic: " + ", ".join(f"{n} {p}%" for n, p in sorted(current.traffic.items())))
    return current


def stop(ws, progress: Progress = _quiet) -> bool:
    """Stop the endpoint and every deployment, each with its whole tree, and whatever an interrupted deploy
    left; True if something was running."""
    with record.lock(ws):
        try:
            current = record.read(ws)
        except UsageError:
            current = None  # unreadable: the pid files in the endpoint folder still name what to stop
        running = bool(current and current.router.running())
        reaped = reap(ws, current)
        if current:
            servers.stop(current.router)
            for old in current.deployments.values():
                deployments.stop(old)
        clean(ws)
    for line in reaped:
        progress(line)
    if running or not reaped:
        progress(f"stopped the endpoint on port {current.port}" if running else "no endpoint was running")
    return running or bool(reaped)
