"""Stopping what the hack starts, with its whole tree, on every platform (psutil: no /proc, no signals
that Windows lacks)."""

from __future__ import annotations

import psutil

STOP_TIMEOUT = 15.0


def tree(pid: int) -> list[psutil.Process]:
    """`pid` and every process below it, the children first; [] when `pid` is gone."""
    try:
        root = psutil.Process(pid)
        return [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return []


def stop_tree(pid: int, timeout: float = STOP_TIMEOUT) -> None:
    """Terminate `pid` and its descendants (servers finish the requests in hand), kill what lingers."""
    processes = tree(pid)
    for process in processes:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
