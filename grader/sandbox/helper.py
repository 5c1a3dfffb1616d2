"""The sandbox's helper, when the grader runs as root: `python -I -S helper.py SPEC BWRAP ARGS...`.

It runs as root in the grader's own interpreter before any team code. In a mount namespace of its own it
bind-mounts the folders team code may see (wherever they are: in root's home, say) onto mount points nobody
can reach (SPEC's `mounts`: [source, mount point] pairs), then becomes SPEC's `id` (nobody) and starts
bwrap, which binds them read-only where team code expects them. A failure is one line on stderr and a
non-zero exit. A program, not a module: the grader never imports it (`grader.sandbox.program`); the
standard library only.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

CLONE_NEWNS = 0x20000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000


def main(argv: list[str]) -> None:
    spec = json.loads(argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]

    def call(result: int, what: str) -> None:
        if result != 0:
            sys.exit(f"wth-grader sandbox: {what}: {os.strerror(ctypes.get_errno())}")

    call(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    call(libc.mount(b"none", b"/", None, MS_PRIVATE | MS_REC, None), "mount --make-rprivate /")
    for source, target in spec["mounts"]:
        call(libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None), f"mount --rbind {source}")
    os.setgroups([])
    os.setresgid(spec["id"], spec["id"], spec["id"])
    os.setresuid(spec["id"], spec["id"], spec["id"])
    try:
        os.execvp(argv[2], argv[2:])
    except OSError as err:
        sys.exit(f"wth-grader sandbox: cannot start {argv[2]} as uid {spec['id']}: {err.strerror}")


if __name__ == "__main__":
    main(sys.argv)
