"""Shared fixtures: paths to ../shared (real data, schemas) that skip with a reason when absent."""

from pathlib import Path

import pytest
from datafiles import bundled

pytest_plugins = ["pytester"]  # pytest's own fixture for running a test file in this process

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
REAL_TABLE = SHARED / "data" / "adventureworks" / "TransactionHistory.csv"


def pytest_collection_modifyitems(items):
    """The files marked `long` first: each worker starts on one while the others' short files run beside it,
    instead of the suite ending on one worker still in the middle of a long file (`make test` keeps this
    order: `--no-loadscope-reorder`; pytest-xdist's default would put files with few tests, these, last)."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(scope="session")
def real_table() -> Path:
    if not REAL_TABLE.exists():
        pytest.skip(f"the real AdventureWorks table is not at {REAL_TABLE} (../shared is absent)")
    return REAL_TABLE


@pytest.fixture(scope="session")
def bundled_table() -> Path:
    return bundled("TransactionHistory.csv.gz")
