"""The local endpoint, shaped like an Azure ML managed online endpoint.

    client --(Authorization: Bearer <key>, azureml-model-deployment: NAME)--> router  :5001/score
    router --(traffic split or the named deployment; kept-alive; its secret)--> deployment blue  (azmlinfsrv, loopback)
                                                                        --> deployment green (azmlinfsrv, loopback)

  record.py       the endpoint record (`<workspace>/endpoint/endpoint.json`), the single source of truth, and the lock
  deployments.py  one named deployment: a registered version served by azmlinfsrv with solution/score.py,
                  scoring only requests that bear its secret (the router's)
  router.py       the stable URI: key auth, traffic split, header targeting, timeouts (asyncio, stdlib only)
  rollout.py      deploy (blue/green rollout, or add/replace one named deployment), traffic, stop
  keys.py         the primary/secondary keys, owner-readable, in the workspace
  views.py        `endpoint status|logs|keys`
  release.py      the release pipeline (deploy + smoke test, recorded)
  launch.py       starts a server after writing its pid file (run by path)

Every process is started in a process group of its own, by the launcher, and stopped with its whole
tree; a process is named by pid and creation time, so a stale record never stops a stranger
(`wth.processes`). What the pid files name and the record does not (an interrupted deploy's servers)
is reaped by the next status, stop or deploy (`rollout.reap`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from wth.errors import UsageError
from wth.processes import HOST

from ..servers import free_port  # noqa: F401
from .deployments import IDENTITY, WORKERS, materialise  # noqa: F401
from .deployments import start as start_deployment  # noqa: F401
from .record import RECORD, Deployment, Endpoint, folder  # noqa: F401
from .record import read as read_record  # noqa: F401
from .release import key_of, release_pipeline  # noqa: F401
from .rollout import DEFAULT_PORT, deploy, live, parse_split, set_traffic, stop  # noqa: F401
from .views import status  # noqa: F401


def command(ws, action: str, progress: Callable[[str], None] = print, split: list[str] | None = None,
            regenerate: str | None = None) -> int:
    """`wth-solution endpoint ACTION`; status exits 1 when nothing healthy is serving."""
    from . import views as show

    if split and action != "traffic":
        raise UsageError(f"{' '.join(split)}: a split is given only to `endpoint traffic`")
    if regenerate and action != "keys":
        raise UsageError("--regenerate goes with `endpoint keys`")
    if action == "stop":
        stop(ws, progress)
        return 0
    if action == "traffic":
        if not split:
            raise UsageError("give the split, e.g. `wth-solution endpoint traffic blue=90 green=10`")
        set_traffic(ws, parse_split(split), progress)
        return 0
    if action == "keys":
        return show.show_keys(ws, regenerate, progress)
    if action == "logs":
        return show.logs(ws, progress)
    return show.show(ws, progress)


def add_release_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `pipeline release`."""
    from ..azure.deploy import add_target_arguments

    parser.add_argument("--port", type=int,
                        help=f"port of the local endpoint (default: keep the current one, or {DEFAULT_PORT})")
    add_target_arguments(parser)


def add_deploy_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `deploy`."""
    from ..azure.deploy import add_target_arguments

    which = parser.add_mutually_exclusive_group()
    which.add_argument("--alias", default=None, help="registered model alias to deploy (default: champion)")
    which.add_argument("--version", help="registered model version to deploy")
    parser.add_argument("--port", type=int, help=f"port to serve on (default: {DEFAULT_PORT}, or the current endpoint's)")
    parser.add_argument("--host", help=f"address to listen on (default {HOST}, or the current endpoint's); "
                                       "0.0.0.0 lets other machines, e.g. the coach's grader, reach it (key auth on)")
    parser.add_argument("--auth", choices=["key", "none"],
                        help="local: key makes /score want Authorization: Bearer <key> (default when listening beyond "
                             "loopback); none: no key (default on loopback)")
    add_target_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `endpoint ACTION` (`command`)."""
    parser.add_argument("action", choices=["status", "stop", "logs", "traffic", "keys"])
    parser.add_argument("split", nargs="*", default=[], metavar="NAME=PCT", help="with traffic: the split, summing to 100")
    parser.add_argument("--regenerate", choices=["primary", "secondary"], help="with keys: rotate this key")
