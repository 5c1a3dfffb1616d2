"""The Coach's worked answer for the bad-data criterion (Solution-02's team test file) does what it
claims: with the grader's own clean and corrupted data files (grader/testdata.py) it passes, then
fails, each test catching its corruption. The file runs in this process, by pytest's own `pytester`
(which imports it afresh each run and puts sys.modules back): twelve fresh interpreters would prove
nothing more here; the grader's sandboxed runs of team tests are tested in tests/grader."""

import re

import pytest
from docs_tools import REPO_ROOT

SOLUTION_02 = REPO_ROOT / "Coach" / "Solution-02.md"


@pytest.fixture(scope="module")
def data_pair():
    from grader.testdata import DataFiles

    files = DataFiles(None)  # the bundled data, or the simulator's window when it is not generated
    yield files.get()
    files.close()


def test_the_team_test_file_passes_on_clean_data_and_fails_on_corrupted(pytester, monkeypatch, data_pair):
    code = re.search(r"`test_data.py` in the team's `tests/` folder:\n\n```python\n(.*?)```", SOLUTION_02.read_text(), re.S).group(1)
    pytester.mkdir("tests").joinpath("test_data.py").write_text(code)

    def passes(data_file: str) -> pytest.RunResult:
        monkeypatch.setenv("WTH_DATA_FILE", data_file)
        return pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "--import-mode=importlib", "tests")

    clean = passes(data_pair.clean)
    assert clean.ret == 0 and clean.parseoutcomes().get("passed", 0) >= 1, clean.stdout.str()[-1500:]
    slipped = [kind for kind, path in data_pair.corrupted.items() if passes(path).ret == 0]
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
