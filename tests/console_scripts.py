"""The console scripts the suite's install put in place (`wth-solution`, `wth`): where pip puts them on
every platform, beside the suite's interpreter in a venv; `installed`, `wth-solution` run as that command;
and `in_process`, the same command's `main` run in the test's own process (the same parser, commands and
exit codes, without the seconds of imports a new Python costs here) for the tests that are not about the
process itself."""

import contextlib
import io
import subprocess
import sysconfig
from collections.abc import Callable
from pathlib import Path

SCRIPTS = Path(sysconfig.get_path("scripts"))
CLI = [str(SCRIPTS / "wth-solution")]
WTH = [str(SCRIPTS / "wth")]
REPO_ROOT = Path(__file__).resolve().parent.parent


def installed(*args: object, timeout: float = 180) -> subprocess.CompletedProcess:
    """`wth-solution ARGS`, the installed console script, run from the repository's root."""
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO_ROOT)


def in_process(main: Callable[[list[str]], int], name: str, *args: object) -> subprocess.CompletedProcess:
    """`name ARGS` through `main`, with what it printed, as `subprocess.run(..., capture_output=True)` returns it."""
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as usage:  # argparse's refusal
            code = usage.code
    return subprocess.CompletedProcess([name, *argv], code, out.getvalue(), err.getvalue())
