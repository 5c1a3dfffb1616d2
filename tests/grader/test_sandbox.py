"""The sandbox's contract with honest teams and with the coach: a failing C2.2 quotes pytest's first
error; what the sandbox shows follows its rules (the team's own folders and installed packages, never
another team's); without a sandbox every affected check says so, and --require-sandbox refuses,
saying why, where bwrap is missing or cannot drop privileges. A team set up as the kit says passes
C2.2 under the sandbox in tests/kit; the hostile teams are tests/grader/test_hostile.py's."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from grader_tools import REPO_ROOT, build_repo, commit_all, grade_one, run_cli, write_teams

from grader import sandbox
from grader.checks import FAIL, PASS
from grader.probes import pytest_runs
from grader.probes.pytest_runs import KIT_TOOLS, run_pytest
from grader.sandbox import limits
from grader.sandbox.limits import LIMITS


def _contained() -> sandbox.Status:
    found = sandbox.status()
    if not found.available:
        pytest.skip(f"no sandbox on this machine ({found.reason}); .ci/run installs bubblewrap")
    return found


def test_a_failing_run_quotes_pytest_s_first_error(tmp_path):
    """... and the grader's program that prepares the run is its own: a repository's `grader/sandbox/prepare.py`
    (which says its run is ready and passes) never stands in for it."""
    repo = build_repo(tmp_path / "beta", "custom", {"test_import.py": "import wth_not_installed_anywhere\n\n"
                                                                      "def test_x():\n    pass\n"})
    (repo / "grader" / "sandbox").mkdir(parents=True)
    for name in ("grader/__init__.py", "grader/sandbox/__init__.py"):
        (repo / name).touch()
    (repo / "grader" / "sandbox" / "prepare.py").write_text(
        "import json, os, sys\nos.write(json.loads(sys.argv[1])['ready'], b'1')\nos._exit(0)\n")
    result = grade_one(tmp_path, challenge=2, workspace=str(tmp_path / "ws"), repo=str(repo)).result("C2.2")
    assert result.status == FAIL
    assert "pytest exited with 2: 1 error in" in result.message
    assert "first error: ModuleNotFoundError: No module named 'wth_not_installed_anywhere'" in result.message


def test_a_clone_without_a_venv_imports_wth_from_its_own_tools(tmp_path):
    """A team graded by git URL has no venv in its clone: its tests run under the grader's interpreter, where
    `wth` is what the team installed on its laptop (`pip install -e ./tools`): the repository's own tools/."""
    uses_wth = ("import os\nfrom wth.contract import MAX_STEPS\nimport wth\n\n"  # the stdlib-only module: runs start fast
                "def test_the_teams_own_tools():\n"
                "    assert wth.__file__.startswith(os.getcwd()) and MAX_STEPS > 0, wth.__file__\n")
    repo = build_repo(tmp_path / "gamma", "custom", {"test_tools.py": uses_wth})
    shutil.copytree(REPO_ROOT / "wth", repo / KIT_TOOLS / "wth", ignore=shutil.ignore_patterns("__pycache__"))
    commit_all(repo, "the kit's tools")
    result = grade_one(tmp_path, challenge=2, workspace=str(tmp_path / "ws"), repo=str(repo)).result("C2.2")
    assert result.status == PASS, result.message


def test_what_the_sandbox_shows(tmp_path):
    """The team's venv and the site-packages its .pth files name are shown; an editable source outside
    the repository, and anything in another team's folder, are not; a hidden folder inside what is
    shown is masked."""
    team, other = tmp_path / "team", tmp_path / "other"
    venv = tmp_path / "shared-venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    for folder in (team / "tools" / "pkg", site, other / "venv-site" / "site-packages", tmp_path / "elsewhere" / "pkg",
                   tmp_path / "installed" / "site-packages", venv / "other-team-inside"):
        folder.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "bin").mkdir()
    (venv / "bin" / "python").symlink_to(sys.executable)
    (site / "a.pth").write_text(f"{tmp_path / 'installed' / 'site-packages'}\n{other / 'venv-site' / 'site-packages'}\n"
                                "import os  # code, not a folder\n")
    (site / "__editable___team_tools_0_1_finder.py").write_text(
        f"MAPPING: dict[str, str] = {{'pkg': {str(team / 'tools' / 'pkg')!r}, "
        f"'away': {str(tmp_path / 'elsewhere' / 'pkg')!r}}}\n")
    copy = tmp_path / "copy"
    copy.mkdir()
    box = sandbox.jail(str(venv / "bin" / "python"), team, copy, hide=[team, other, venv / "other-team-inside"])
    shown = {inside for _, inside in box.binds}
    assert {str(team), str(venv), str(tmp_path / "installed" / "site-packages")} <= shown
    assert str(other / "venv-site" / "site-packages") not in shown and str(tmp_path / "elsewhere" / "pkg") not in shown
    assert {other / "venv-site" / "site-packages", tmp_path / "elsewhere" / "pkg"} <= set(box.unseen)
    assert box.masks == [str(venv / "other-team-inside")]
    assert dict(box.binds)[copy] == str(team)  # the clean copy, at the repository's own path
    assert box.covers(team / "tools" / "pkg")  # the editable source inside the repository comes with the copy
    secret = tmp_path / "coach" / "bin" / "id_rsa"  # a team's venv whose "python" points at a coach's file
    secret.parent.mkdir(parents=True)
    secret.write_text("coach-key")
    (team / ".venv" / "bin").mkdir(parents=True)
    (team / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (team / ".venv" / "bin" / "python").symlink_to(secret)
    box = sandbox.jail(str(team / ".venv" / "bin" / "python"), team, copy, hide=[team, other])
    assert not [source for source, _ in box.binds if secret.parent.parent in [source, *source.parents]], box.binds
    assert (copy / ".venv").is_dir() and str(team / ".venv") in box.skip  # the venv's mount point, not copied per run


def test_without_a_sandbox_every_affected_check_says_so(tmp_path, trained_ws, monkeypatch):
    quick = build_repo(tmp_path / "quick", "custom", {"test_quick.py": "def test_quick():\n    assert 1 + 1 == 2\n"})
    monkeypatch.setenv("PATH", str(tmp_path / "no-bwrap-here"))
    assert not sandbox.status().available
    team = grade_one(tmp_path, challenge=2, workspace=str(trained_ws.root), repo=str(quick))
    assert team.result("C2.2").status == PASS
    for check_id in ("C2.2", "C2.3"):
        result = team.result(check_id)
        assert "[not sandboxed: no bubblewrap on the grading machine]" in result.message, result.message


def test_require_sandbox_refuses_without_one(tmp_path, trained_ws):
    teams = write_teams(tmp_path / "teams.yaml", [{"name": "t", "workspace": str(trained_ws.root), "endpoint": None,
                                                   "repo": None}])
    done = run_cli("scoreboard", "--config", str(teams), "--require-sandbox", env={"PATH": str(tmp_path / "empty")})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert "--require-sandbox: team tests cannot be sandboxed on this machine: bubblewrap (bwrap) is not on PATH" in done.stderr


def test_require_sandbox_says_why_bwrap_cannot_drop_privileges(tmp_path, trained_ws):
    """A bwrap that cannot create the user namespaces (as where the kernel or AppArmor refuses them)."""
    fake = Path(tempfile.mkdtemp(prefix="wth-fake-bwrap-")) / "bwrap"  # where nobody may run it, as a real one
    fake.parent.chmod(0o755)
    fake.write_text("#!/bin/sh\n[ \"$1\" = --version ] && echo 'bubblewrap 0.8.0' && exit 0\n"
                    "echo 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    teams = write_teams(tmp_path / "teams.yaml", [{"name": "t", "workspace": str(trained_ws.root), "endpoint": None,
                                                   "repo": None}])
    done = run_cli("scoreboard", "--config", str(teams), "--require-sandbox", env={"PATH": f"{fake.parent}:/usr/bin:/bin"})
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert f"{fake} cannot run team code unprivileged here" in done.stderr
    assert "(bwrap: No permissions to creating new namespace)" in done.stderr
    shutil.rmtree(fake.parent)


def test_the_limits_the_docs_state_are_the_code_s():
    """grader/README.md's table is generated from `grader.sandbox.limits`; every limit or budget the prose of the
    grader's README and the coach's guide names with a number ("`name` (number)", "`name` number") is stated at
    its value."""
    readme = (REPO_ROOT / "grader" / "README.md").read_text()
    assert limits.table_markdown() in readme
    values = LIMITS.model_dump() | limits.Budgets().model_dump()
    for doc, text in (("grader/README.md", readme), ("Coach/Grading.md", (REPO_ROOT / "Coach" / "Grading.md").read_text())):
        stated = [(name, float(value)) for name, value in re.findall(r"`([a-z_]+)` \(?(\d[\d.]*)", text) if name in values]
        assert {"scratch_mb", "processes", "memory_mb", "run_memory_mb", "copy_mb", "output_read_mb"} <= dict(stated).keys(), doc
        assert [(name, values[name]) for name, _ in stated] == stated, doc


def test_the_programs_the_sandbox_runs_need_only_the_standard_library():
    """They run with `-I -S`: nothing but the standard library is on their sys.path (not the grader, not a team's
    folder), and they run by their path, so each is a file of the grader's own."""
    for name in ("helper", "prepare"):
        path = sandbox.program(name)
        tree = ast.parse(path.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "json" in imported and {m.split(".")[0] for m in imported} <= sys.stdlib_module_names, (name, imported)
        assert sandbox.isolated(path)[1:] == ["-I", "-S", str(path)]


def test_a_looping_run_is_stopped_at_its_deadline_not_killed_by_its_cpu_limit(tmp_path, monkeypatch):
    """The session's deadline moves on by the time its runs waited for a CPU; the CPU limit of a run's processes
    leaves room for all of that, so a test looping in one thread runs out of time (a fail or, on a starved machine,
    an error), never exits 137 (killed at RLIMIT_CPU, a team's failure with no reason given)."""
    _contained()
    repo = build_repo(tmp_path / "loop", "custom", {"test_loop.py": "def test_forever():\n    while True:\n        pass\n"})
    monkeypatch.setattr(pytest_runs._Tree, "waited", property(lambda tree: 60.0))  # as measured on a loaded machine
    run = run_pytest(repo, sys.executable, {"clean": None}, 1)["clean"]
    assert run.timed_out and run.returncode is None, (run.returncode, run.output[-300:])
    assert run.seconds > 1 + LIMITS.cpu_wait_share / 2  # well past its 1 s: the allowance was its own


def test_a_lower_address_space_limit_than_the_sandbox_s_is_kept(tmp_path):
    """Under `ulimit -v` below `memory_mb` the runs keep the lower limit instead of failing to raise it."""
    _contained()
    repo = build_repo(tmp_path / "quick", "custom", {"test_quick.py": "def test_quick():\n    assert 1 + 1 == 2\n"})
    lower = 3 << 30
    assert lower < LIMITS.memory_mb << 20
    code = (f"import resource, sys; resource.setrlimit(resource.RLIMIT_AS, ({lower}, {lower}))\n"
            "from grader.probes.pytest_runs import run_pytest\n"
            f"run = run_pytest({str(repo)!r}, sys.executable, {{'clean': None}}, 60)['clean']\n"
            "print(run.returncode, run.output[-500:])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout.startswith("0 "), done.stdout + done.stderr
