"""The Coach's worked answer for the bad-data criterion (Solution-02's team test file) does what it
claims: with the grader's own clean and corrupted data files (grader/testdata.py) it passes, then
fails, each test catching its corruption."""

import os
import re
import subprocess
import sys

import pytest
from docs_tools import REPO_ROOT

SOLUTION_02 = REPO_ROOT / "Coach" / "Solution-02.md"


@pytest.fixture(scope="module")
def data_pair():
    from grader.testdata import DataFiles

    files = DataFiles(None)  # the bundled data, or the simulator's window when it is not generated
    yield files.get()
    files.close()


def run_team_tests(folder, data_file):
    env = {**os.environ, "WTH_DATA_FILE": data_file}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def test_the_team_test_file_passes_on_clean_data_and_fails_on_corrupted(tmp_path, data_pair):
    code = re.search(r"`test_data.py` in the team's `tests/` folder:\n\n```python\n(.*?)```", SOLUTION_02.read_text(), re.S).group(1)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_data.py").write_text(code)
    clean = run_team_tests(tmp_path, data_pair.clean)
    assert clean.returncode == 0, clean.stdout[-1500:]
    slipped = [kind for kind, path in data_pair.corrupted.items() if run_team_tests(tmp_path, path).returncode == 0]
    assert not slipped, f"the Coach's test file lets these corruptions through: {slipped}"


def coach(name: str) -> str:
    return (REPO_ROOT / "Coach" / name).read_text()


def test_the_drift_thresholds_quoted_are_the_code_defaults():
    from solution.drift import Thresholds

    defaults, text = Thresholds(), coach("Solution-05.md")
    for quoted in (f"p < {defaults.ks_alpha:g}", f"psi ≥ {defaults.psi:g}", f"`weekday_distance` | ≥ {defaults.weekday:g}",
                   f"`performance_decay` | ≥ {defaults.decay:g}"):
        assert quoted in text


def test_the_retrain_margin_quoted_is_the_code_default():
    from solution.retrain import DEFAULT_MARGIN

    assert f"margin {DEFAULT_MARGIN * 100:g} % by default" in coach("Solution-04.md")


def test_the_models_in_solution_01_are_the_models_the_training_backtests():
    from solution.forecast import MODELS

    listed = re.findall(r"^  (\w+) +MASE \d", coach("Solution-01.md"), flags=re.M)
    assert listed == list(MODELS)
