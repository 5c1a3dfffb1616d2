"""`wth.settings`: every `WTH_*` variable in one place, its table in docs/contracts.md."""

import re

from datafiles import REPO_ROOT

from wth import settings


def test_the_contracts_show_the_modules_table():
    assert settings.table_markdown() in (REPO_ROOT / "docs" / "contracts.md").read_text()


def test_every_wth_variable_the_code_names_is_one_of_them():
    named = {name for package in ("wth", "solution", "grader") for path in (REPO_ROOT / package).rglob("*.py")
             for name in re.findall(r"\bWTH_[A-Z_]+\b", path.read_text())}
    assert named and named <= {variable.name for variable in settings.VARIABLES}, named


def test_a_variable_is_read_when_asked_and_empty_counts_as_unset(monkeypatch):
    monkeypatch.setenv("WTH_LOCAL_STATE", "elsewhere")
    assert settings.LOCAL_STATE.get() == "elsewhere"
    monkeypatch.setenv("WTH_LOCAL_STATE", "")
    assert settings.LOCAL_STATE.get() == ".wth"
    monkeypatch.delenv("WTH_WORKSPACE", raising=False)
    assert settings.WORKSPACE.get() == ".wth" and settings.WORKSPACE.get(default="azureml") == "azureml"
