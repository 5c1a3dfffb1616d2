"""Helpers for the retrain tests: bundled data (skip with a reason when absent) and date cuts."""

import gzip
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED = REPO_ROOT / "resources" / "data"


def bundled(name: str) -> Path:
    path = BUNDLED / name
    if not path.exists():
        pytest.skip(f"bundled data {path} is absent (run `wth-solution simulate`)")
    return path


def cut(source: Path, target: Path, start: str, end: str) -> Path:
    """The rows of a TransactionHistory file whose TransactionDate lies in start..end (inclusive)."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt") as rows, open(target, "w") as out:
        out.writelines(line for line in rows if start <= line.split("\t")[4][:10] <= end)
    return target
