"""The student kit: what the coach hands to the teams (`make student-kit`).

Writes `dist/student-kit/` (ready to push as the teams' template repository) and the same tree as
`dist/student-kit.zip`:

    README.md, .gitignore   the students' README and ignore file (kit/README.md, kit/gitignore)
    .devcontainer/          a dev container that sets the tools up (kit/devcontainer.json)
    Student/                the challenges and their images
    resources/              the data, the starter project, the notebook, the Power BI script, the example teams file
    tools/                  the students' tools, an installable package: `wth` (shared code, the `wth` command)
                            and `grader` (the self-check), with a setup.cfg made from the repository's own

The kit keeps the repository's relative layout (Student/ beside resources/), so every link in
Student/ resolves unchanged in both places. Nothing of solution/, Coach/, .pipelines/ or .github/
is copied: the kit is built from an allow-list, and tests/kit checks the result by content.
"""

from __future__ import annotations

import argparse
import configparser
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KIT = Path(__file__).resolve().parent
NAME = "student-kit"
COPIED = ("Student", "resources")  # copied as they are
PACKAGES = ("wth", "grader")  # the students' tools, under tools/
SKIPPED = ("__pycache__", "*.pyc", ".ipynb_checkpoints")
ZIP_DATE = (2026, 1, 1, 0, 0, 0)  # fixed: the same tree gives the same zip


def tracked(root: Path) -> set[Path] | None:
    """The files git tracks under `root` (so a kit never carries a local workspace or output), or None outside git."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return {root / name for name in out.stdout.decode().split("\0") if name}


def tools_setup_cfg(repository_cfg: Path) -> str:
    """The tools' setup.cfg: the repository's runtime requirements and `student` extra, only the shared
    packages, only the `wth` command. One list of requirements, in the repository's setup.cfg."""
    source = configparser.ConfigParser()
    source.read(repository_cfg)
    requires = source["options"]["install_requires"].strip().splitlines()
    requires += source["options.extras_require"]["student"].strip().splitlines()
    cfg = configparser.ConfigParser()
    cfg["metadata"] = {"name": "wth-tools", "version": source["metadata"]["version"],
                       "description": "What The Hack - MLOps: the teams' tools (self-check, smoke test, report, MLflow UI)",
                       "license": source["metadata"]["license"]}
    cfg["options"] = {"python_requires": source["options"]["python_requires"], "packages": "find_namespace:",
                      "include_package_data": "True", "install_requires": "\n" + "\n".join(requires)}
    cfg["options.packages.find"] = {"include": "\n" + "\n".join(f"{p}*" for p in PACKAGES)}
    cfg["options.package_data"] = {p: source["options.package_data"][p] for p in PACKAGES}
    cfg["options.entry_points"] = {"console_scripts": "\nwth = wth.cli:main",
                                   "wth.commands": source["options.entry_points"]["wth.commands"]}
    text = io.StringIO()
    cfg.write(text)
    return text.getvalue()


def _copy_tree(src: Path, dst: Path, allowed: set[Path] | None) -> None:
    ignore = shutil.ignore_patterns(*SKIPPED)

    def skip(folder: str, names: list[str]) -> set[str]:
        skipped = set(ignore(folder, names))
        if allowed is not None:
            skipped |= {n for n in names if (Path(folder) / n).is_file() and Path(folder, n) not in allowed}
        return skipped

    shutil.copytree(src, dst, ignore=skip)


def build(out: Path, root: Path = ROOT) -> tuple[Path, Path]:
    """Write the kit tree and its zip under `out`; returns (tree, zip)."""
    allowed = tracked(root)
    tree, archive = out / NAME, out / f"{NAME}.zip"
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    shutil.copyfile(KIT / "README.md", tree / "README.md")
    shutil.copyfile(KIT / "gitignore", tree / ".gitignore")
    (tree / ".devcontainer").mkdir()
    shutil.copyfile(KIT / "devcontainer.json", tree / ".devcontainer" / "devcontainer.json")
    for folder in COPIED:
        _copy_tree(root / folder, tree / folder, allowed)
    tools = tree / "tools"
    tools.mkdir()
    for package in PACKAGES:
        _copy_tree(root / package, tools / package, allowed)
    (tools / "setup.cfg").write_text(tools_setup_cfg(root / "setup.cfg"))
    shutil.copyfile(root / "pyproject.toml", tools / "pyproject.toml")
    with zipfile.ZipFile(archive.with_suffix(".tmp"), "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{NAME}/{path.relative_to(tree).as_posix()}", ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zipped.writestr(info, path.read_bytes())
    archive.with_suffix(".tmp").replace(archive)
    return tree, archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="folder to write into (default dist/)")
    args = parser.parse_args(argv)
    try:
        tree, archive = build(args.out)
    except OSError as err:
        print(f"student-kit: cannot write the kit to {args.out}: {err.strerror or err}", file=sys.stderr)
        return 2
    files = sum(1 for p in tree.rglob("*") if p.is_file())
    print(f"student kit: {files} files\n  {tree}{os.sep}  the tree, ready to push as the teams' template repository\n"
          f"  {archive}  {archive.stat().st_size / 1e6:.1f} MB, unpacks into {NAME}{os.sep}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
