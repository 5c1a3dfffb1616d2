"""A team's venv made in seconds: a new venv that sees this suite's installed packages as a plain path, as if
the team had installed the student kit's tools (a real install from the package index takes minutes)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import sysconfig
from configparser import ConfigParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

SITE = sysconfig.get_paths()["purelib"]  # this suite's packages: pytest, pandas, mlflow, ...
REPO_CFG = Path(__file__).resolve().parent.parent / "setup.cfg"


def requirement_closure(requirements: list[str], path: str = SITE) -> list[importlib.metadata.Distribution]:
    """The distributions installed under `path` that `requirements` need, and theirs, and so on."""
    installed = {canonicalize_name(d.metadata["Name"]): d for d in importlib.metadata.distributions(path=[path])}
    wanted, seen = [canonicalize_name(Requirement(r).name) for r in requirements], set()
    while wanted:
        name = wanted.pop()
        if name in seen or name not in installed:
            continue
        seen.add(name)
        for line in installed[name].requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                wanted.append(canonicalize_name(requirement.name))
    return [installed[name] for name in sorted(seen)]


def student_requirements(cfg: Path = REPO_CFG) -> list[str]:
    """What the student kit's tools install: a setup.cfg's requirements and, in the repository's, its `student` extra."""
    parsed = ConfigParser()
    parsed.read(cfg)
    extra = parsed["options.extras_require"].get("student", "") if parsed.has_section("options.extras_require") else ""
    return (parsed["options"]["install_requires"] + "\n" + extra).split()


def new_venv(folder: Path, requirements: list[str], python: str = sys.executable) -> Path:
    """A venv made from `python` that sees this suite's packages through a .pth file (no .pth file of the
    suite's venv is processed: the coach's editable installs stay invisible), where pytest loads only the
    plugins of `requirements`' distributions, as a team's install of them would: the suite's own (xdist,
    schemathesis, hypothesis, ...) are not a team's, and loading them took ~3 s of every pytest run."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=180, capture_output=True)
    made = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run([str(made), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    wanted = {canonicalize_name(d.metadata["Name"]) for d in requirement_closure(requirements)}
    foreign = sorted(entry.name for d in importlib.metadata.distributions(path=[SITE])
                     if canonicalize_name(d.metadata["Name"]) not in wanted
                     for entry in d.entry_points.select(group="pytest11"))
    blocked = " ".join(f"-p no:{name}" for name in foreign)
    Path(site, "suite-packages.pth").write_text(
        f"{SITE}\nimport os; given = os.environ.get('PYTEST_ADDOPTS', ''); "
        f"os.environ['PYTEST_ADDOPTS'] = given if {blocked!r} in given else ({blocked!r} + ' ' + given).strip()\n")
    return made
