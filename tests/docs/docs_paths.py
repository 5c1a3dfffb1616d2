"""Paths shared by the documentation tests (a plain module: conftest.py is for fixtures)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
BUNDLED = REPO_ROOT / "resources" / "data" / "TransactionHistory.csv.gz"
