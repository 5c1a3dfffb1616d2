"""Defaults shared by the solution, the grader and the docs (see DESIGN.md)."""

from pathlib import Path

WINDOW_START = "2013-07-31"
WINDOW_END = "2014-05-31"
INITIAL_TRAIN_END = "2013-12-31"  # challenge 01 / the demo train on the 2013 part of the window
EXPERIMENT = "wth-mlops"
MODEL_NAME = "transactions-forecast"
CHAMPION = "champion"
WORKSPACE_ENV = "WTH_WORKSPACE"
DEFAULT_WORKSPACE = ".wth"

# Evaluation protocol shared by every figure in the project: rolling origin, 4 folds x 7 days.
FOLDS = 4
HORIZON = 7
SEASON = 7

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DATA = REPO_ROOT / "resources" / "data"  # in the repository: `make` installs the project editable
