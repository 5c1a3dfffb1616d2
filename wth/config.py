"""The hack's facts, in one place: the data window, the workspace's names, the evaluation protocol.

The reference solution, the grader, the students' tools and the docs' tests all import these.
"""

from pathlib import Path

from . import settings

WINDOW_START = "2013-07-31"
WINDOW_END = "2014-05-31"
INITIAL_TRAIN_END = "2013-12-31"  # challenge 01 / the demo train on the 2013 part of the window
HOLDOUT_START = "2014-06-01"  # the days after the window: the drift batches and the coach's hidden holdout
HOLDOUT_DAYS = 28
EXPERIMENT = "wth-mlops"
CI_EXPERIMENT = "wth-ci"  # the CI runs of the offline path, one MLflow run each (wth.ci.records)
MODEL_NAME = "transactions-forecast"
CHAMPION = "champion"  # the champion's mark: a version tag of this name (see wth.registry), read on every path

# Evaluation protocol shared by every figure in the project: rolling origin, 4 folds x 7 days.
FOLDS = 4
HORIZON = 7
SEASON = 7


def bundled_data() -> Path:
    """`$WTH_BUNDLED_DATA`, else `resources/data` of the tree this package is installed from (editable):
    the coach's repository, where the package sits at the top, or the student kit, where it sits in `tools/`.
    Read when asked, as every variable is (`wth.settings`)."""
    if given := settings.BUNDLED_DATA.get():
        return Path(given)
    here = Path(__file__).resolve().parent
    for folder in here.parents:
        if (folder / "resources" / "data").is_dir():
            return folder / "resources" / "data"
    return here.parent / "resources" / "data"

