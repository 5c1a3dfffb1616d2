"""Fewer glibc malloc arenas for the grader's process.

glibc gives threads that allocate at once arenas of their own, up to 8 per core, and each arena keeps
the memory it once held. The grader runs every check in a thread of its own (so that it can abandon
one past its budget), 8 teams at a time: with glibc's default its memory grew pass after pass of
`watch` (bench/grader.py's room, in one process: 560 MB after the first pass, 910 MB after the sixth;
`malloc_trim` after each pass did not stop it); with 2 arenas it stayed between 495 and 575 MB over
nine passes, each as fast. Elsewhere (macOS, Windows, musl) there is nothing to set.
"""

from __future__ import annotations

import ctypes
import functools
import platform

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


@functools.cache
def limit() -> bool:
    """Caps the arenas of this process (glibc only; once); True where it was set."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        return ctypes.CDLL(None).mallopt(_M_ARENA_MAX, ARENAS) == 1
    except (OSError, AttributeError):
        return False
