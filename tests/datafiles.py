"""Test helpers for data files: the bundled data set (part of the repo: missing means broken, so it
fails rather than skips) and date cuts of a TransactionHistory file."""

import gzip
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED = REPO_ROOT / "resources" / "data"


def bundled(name: str) -> Path:
    path = BUNDLED / name
    if not path.exists():
        pytest.fail(f"the bundled data file {path} is missing: run `wth-solution simulate`")
    return path


def cut(source: Path, target: Path, start: str, end: str) -> Path:
    """The rows of a TransactionHistory file whose TransactionDate lies in start..end (inclusive)."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt") as rows, open(target, "w") as out:
        out.writelines(line for line in rows if start <= line.split("\t")[4][:10] <= end)
    return target
