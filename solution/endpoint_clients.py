"""The students' clients (`wth.smoke`, `wth.analyst_report`) aimed at the workspace's own endpoint and champion."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from wth import analyst_report, smoke
from wth.errors import UsageError

from . import acquisition, endpoint, workspace
from .workspace import Workspace

STEPS = 30  # days the report forecasts unless told

def target(ws: Workspace, uri: str | None) -> tuple[str, str | None]:
    """`uri`, or the scoring URI of the endpoint deployed from `ws`, with the key to send: the workspace's
    endpoint key when the URI is that endpoint's and it has key auth, else none."""
    if uri is not None:
        smoke.validate_uri(uri)
    try:
        record = endpoint.read_record(ws)
    except UsageError:
        if uri is None:
            raise
        record = None
    if uri is not None:
        if record is None or uri != record.scoring_uri:
            return uri, None
    elif record is None:
        raise UsageError(f"no endpoint deployed in {ws.root}: pass --uri or run `wth-solution deploy`")
    return record.scoring_uri, endpoint.key_of(ws, record)


def smoke_test(ws: Workspace, uri: str | None = None, progress: Callable[[str], None] = print) -> int:
    """`wth-solution smoke-test`: the workspace's endpoint (or `uri`) against the contract and the champion."""
    uri, key = target(ws, uri)
    champion = workspace.champion(ws)
    expected = str(champion.version) if champion else None
    train_end = champion.tags.get("train_end") if champion else None
    progress(f"smoke-testing {uri}" + (f" (expecting champion version {expected})" if expected else ""))
    return smoke.run(uri, progress, expected_version=expected, expected_train_end=train_end, key=key)


def write_report(ws: Workspace, uri: str | None = None, out: str | Path | None = None, steps: int = STEPS) -> Path:
    """`wth-solution report`: the analyst's report from the workspace's endpoint, with its acquired actuals."""
    uri, key = target(ws, uri)  # before reading the actuals: no endpoint is refused at once
    try:
        actuals = acquisition.latest_acquired(ws.root).series()
    except (UsageError, OSError):
        actuals = None
    return analyst_report.write(uri, out or Path(ws.root) / "report.html", steps, actuals, key=key)


def add_smoke_test_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `smoke-test`."""
    parser.add_argument("--uri", help="scoring URI (default: the workspace's endpoint)")


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `report`."""
    add_smoke_test_arguments(parser)
    parser.add_argument("--out", help="HTML file to write (default: <workspace>/report.html)")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"days to forecast (default {STEPS})")
