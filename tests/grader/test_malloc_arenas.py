"""The grader's process uses at most `malloc_arenas.ARENAS` glibc malloc arenas, however many of its
threads allocate at once (glibc's own count, from `malloc_stats`, in a fresh interpreter)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from grader import malloc_arenas

THREADS = 8
PROGRAM = f"""
import ctypes, sys, threading
if sys.argv[1] == "limited":
    from grader import malloc_arenas
    assert malloc_arenas.limit()
barrier = threading.Barrier({THREADS})
def allocate():
    barrier.wait()  # all at once, as 8 teams' checks are
    for _ in range(200):
        chunks = [bytearray(4096) for _ in range(100)]
        del chunks
threads = [threading.Thread(target=allocate) for _ in range({THREADS})]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def _arenas(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, timeout=60, check=True)
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's: this system has no glibc")
def test_the_grader_caps_the_arenas_that_glibc_would_multiply():
    assert _arenas("default") > malloc_arenas.ARENAS  # what the cap is for: glibc's own default gives more
    assert 1 <= _arenas("limited") <= malloc_arenas.ARENAS
