"""`wth.workspace_contract`: the workspace's names and the promotion rule once, its table in docs/contracts.md,
and no module of the three packages spelling one of the names again."""

import ast
import re

import pytest
from datafiles import REPO_ROOT

from wth import contract, settings, store
from wth import workspace_contract as names


def test_the_contracts_show_the_modules_table():
    assert names.table_markdown() in (REPO_ROOT / "docs" / "contracts.md").read_text()


@pytest.mark.parametrize(("champion", "challenger", "margin", "promoted"), [
    (1.0, 0.94, 0.05, True), (1.0, 0.95, 0.05, False), (1.0, 0.96, 0.05, False), (1.0, 0.99, 0.0, True),
    (1.0, 1.0, 0.0, False)])
def test_the_promotion_rule_wants_the_margin_strictly(champion, challenger, margin, promoted):
    assert names.promotes(champion, challenger, margin) is promoted


# each name and the one module that may spell it
HOMES = {
    **{value: "wth/workspace_contract.py" for value in (
        names.PIPELINE_TAG, names.STEP_TAG, names.PIPELINE_RUN_TAG, names.BUILD_ID, names.GIT_COMMIT,
        names.SCORING_URI, names.CHAMPION_MASE, names.CHALLENGER_MASE, names.CHAMPION_VERSION,
        names.CHALLENGER_VERSION, names.EVAL_START, names.EVAL_END, names.BATCH_SHA256, names.DRIFT_DETECTED,
        names.DRIFT_SCORE, names.DRIFT_REPORT, names.WINDOW_FILE, names.NEW_DATA_FILE, *names.BATCH_FILES.values())},
    store.DB_FILE: "wth/store.py",
    settings.DATA_FILE.name: "wth/settings.py",
    contract.DEPLOYMENT_HEADER: "wth/contract.py",
}


def _literals(path):
    """(line, text) of the string literals of a module, f-strings' parts included, docstrings left out."""
    text = path.read_text()
    if not any(name in text for name in HOMES):
        return []
    tree = ast.parse(text, str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_each_name_is_spelled_once_outside_the_tests():
    literals = {str(path.relative_to(REPO_ROOT)): _literals(path)
                for package in ("wth", "solution", "grader") for path in sorted((REPO_ROOT / package).rglob("*.py"))}
    spelled = {}
    for name in HOMES:
        alone = re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-]|\.\w)")  # wth.pipeline, not wth.pipeline_run_id
        spelled[name] = [f"{where}:{line}" for where, found in literals.items() for line, text in found
                         if alone.search(text)]
    assert {name: places for name, places in spelled.items()
            if [place.split(":")[0] for place in places] != [HOMES[name]]} == {}
