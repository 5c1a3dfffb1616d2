"""What Student/ and the challenge-01 notebook state is the code's: each fact below is a phrase built
from the code it describes (the hack's window and protocol, what the seasonal naive scores, the
grader's counts, corruptions and budgets, the contract's bad requests, the bundled files' dates) and
must appear in its document. And every number in the documents' prose is one of those facts or a
label listed here (a step, a challenge, a check id, a year of a reference), so a new number cannot
enter a document without a test that holds it to the code."""

from __future__ import annotations

import configparser
import gzip
import json
import re
from functools import cache

import pytest
from docs_tools import REPO_ROOT

STUDENT = REPO_ROOT / "Student"
NOTEBOOK = REPO_ROOT / "resources" / "notebooks" / "challenge-01-time-series.ipynb"
WORDS = {4: "four", 5: "five", 7: "seven", 9: "nine"}
FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1\s*$", re.M | re.S)
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,:]\d+)*(?![\w])")


def flat(text: str) -> str:
    return " ".join(text.split())


@cache
def span(name: str) -> tuple[str, str]:
    """First and last TransactionDate of a bundled data file (a scan of its date column)."""
    with gzip.open(REPO_ROOT / "resources" / "data" / name, "rt") as rows:
        days = sorted({line.split("\t")[4][:10] for line in rows})
    return days[0], days[-1]


def azure_packages(cfg: configparser.ConfigParser) -> list[str]:
    """What a team adds to grade an Azure ML workspace: the `azure` extra's packages but azureml-core (the
    optional SDK v1 route, which nothing on the default path imports)."""
    from packaging.requirements import Requirement

    names = [Requirement(line).name for line in cfg["options.extras_require"]["azure"].split("\n") if line.strip()]
    return [name for name in names if name != "azureml-core"]


@cache
def facts() -> dict[str, list[str]]:
    from grader import backtest
    from grader.checks import all_checks
    from grader.teams import Budgets
    from grader.testdata import CORRUPTIONS
    from wth import contract, data
    from wth.cli import build_parser
    from wth.config import FOLDS, HOLDOUT_DAYS, HORIZON, INITIAL_TRAIN_END, SEASON, WINDOW_END, WINDOW_START

    all_checks()  # registered in their order, before one module of them is read
    from grader.checks.c0 import STARTER

    cfg = configparser.ConfigParser()
    cfg.read(REPO_ROOT / "setup.cfg")
    python = cfg["options"]["python_requires"].removeprefix(">=")
    ui_port = build_parser()._subparsers._group_actions[0].choices["ui"].get_default("port")
    forwarded = json.loads((REPO_ROOT / "kit" / "devcontainer.json").read_text())["forwardPorts"]
    endpoint_port = next(port for port in forwarded if port != ui_port)
    order = re.search(r"order=\((\d), (\d), (\d)\)", (REPO_ROOT / "resources" / "starter" / "train.py").read_text())
    arima = f"ARIMA({','.join(order.groups())})"
    rows = data.daily_series(data.read_transactions(data.bundled_file()), WINDOW_START, INITIAL_TRAIN_END)[0]
    snaive = backtest.snaive_mase(rows)
    new_data, clean, drifted = span("new-data-2014.csv.gz"), span("batch-clean.csv.gz"), span("batch-drifted.csv.gz")
    assert clean == drifted
    months = int(new_data[1][5:7]) - int(new_data[0][5:7]) + 1
    bad = contract.BAD_INPUTS
    azure = f"`pip install {' '.join(azure_packages(cfg))}`"
    return {
        "README.md": [
            f"Python {python} or newer", f"{arima}", f"no header, {WORDS[len(data.COLUMNS)]} columns", azure,
            f"| `TransactionHistory.csv.gz` | {WINDOW_START}..{WINDOW_END}, the window of the hack |",
            f"| `new-data-2014.csv.gz` | the 2014 rows ({new_data[0]}..{new_data[1]}): the \"new data\" |",
            f"| `batch-clean.csv.gz` | {clean[0]}..{clean[1]}, a batch",
        ],
        "Challenge-00.md": [
            f"(Python {python} or newer)", f"Python {python} with the tools", f"train the {arima}",
            f"lists its {WORDS[len(STARTER)]} files", f"the {WORDS[len(STARTER)]} files of the starter README",
            f"the MLflow UI on http://127.0.0.1:{ui_port}", f"`http://<your laptop>:{ui_port}`",
            f"ports {ui_port} (MLflow UI) and {endpoint_port} (endpoint)", f"`http://127.0.0.1:{endpoint_port}/score`",
            "--host 0.0.0.0",
        ],
        "Challenge-01.md": [
            f"{WINDOW_START}..{INITIAL_TRAIN_END}", f"The data scientists' {arima}", f"Backtest {arima}",
            f"{FOLDS} folds of {HORIZON} days over the last {FOLDS * HORIZON} days",
            f"**mean of the {FOLDS} per-fold MASEs**", f"it scores {snaive:.3f}",
            f"the {WORDS[FOLDS]} test weeks at the end of {INITIAL_TRAIN_END[:4]}",
            f"spikes at lags {SEASON}, {2 * SEASON}, {3 * SEASON}", f"the {new_data[0][:4]} days are the \"new data\"",
            f"({FOLDS} folds × {HORIZON} days", f"within {backtest.RELATIVE_TOLERANCE * 100:g} % of its figure",
        ],
        "Challenge-02.md": [
            f"({WORDS[len(data.COLUMNS)]} tab-separated columns)", "; ".join(what for what, _ in CORRUPTIONS.values()),
            f"the grader runs it {1 + len(CORRUPTIONS)} times", f"{Budgets().pytest_s / 60:g} minutes unless your coach",
        ],
        "Challenge-03.md": [
            contract.table_markdown().splitlines()[-1], f"the {len(bad)} bad requests",
            ", ".join(b.label for b in bad) + ".", f"`{{\"steps\": N}}`, `N` an integer 1..{contract.MAX_STEPS}",
            f"--port {endpoint_port}", f"http://127.0.0.1:{endpoint_port}/score",
            f"(e.g. {contract.INTERVAL_EXAMPLE})",
        ],
        "Challenge-04.md": [
            f"{WORDS[months].capitalize()} months of {new_data[0][:4]} transactions", f"(to {new_data[1]})",
            f"trained up to {INITIAL_TRAIN_END}", f"{WINDOW_START}..{WINDOW_END} once", f"127.0.0.1:{endpoint_port}",
        ],
        "Challenge-05.md": [
            f"Two batches of June {clean[0][:4]} transactions",
            f"{WORDS[HOLDOUT_DAYS // 7].capitalize()} weeks is {HOLDOUT_DAYS} days",
            f"covers the same {WORDS[HOLDOUT_DAYS // 7]} weeks",
        ],
        "notebook": [
            f"({WINDOW_START}..{INITIAL_TRAIN_END})", f"forecasts the next {HORIZON} days",
            f"repeats for {FOLDS} consecutive weeks: {FOLDS} **folds** of {HORIZON} days over the last {FOLDS * HORIZON} days",
            f"Spikes at lags {SEASON}, {2 * SEASON}, {3 * SEASON}", f"`seasonal_order=(P, D, Q, {SEASON})`",
            f"`seasonal_periods={SEASON}`", f"`auto_arima(m={SEASON})`", arima, f"the {new_data[0][:4]} days are the future",
        ],
    }


# Numbers in the prose that are labels, not facts of the code: list and step numbers, challenge and
# check numbers, the sections' headings, the years and editions of references, the HTTP statuses and
# the 0/1 of a flag the text explains.
LABELS = {
    "README.md": {"00", "01", "02", "03", "04", "05"},
    "Challenge-00.md": {"00", "01", "02", "03", "7"},
    "Challenge-01.md": {"00", "01", "02", "03", "04", "256", "3"},
    "Challenge-02.md": {"01", "02", "03", "256", "1", "0"},
    "Challenge-03.md": {"02", "03", "04", "200", "401", "403", "500", "0", "1", "3", "4", "5002"},
    "Challenge-04.md": {"03", "04", "05", "2006", "0", "1", "2", "5", "0.05"},
    "Challenge-05.md": {"04", "05", "256", "0", "1"},
    "notebook": {"01", "04", "1", "2", "3", "4", "2,0,2"},
}
DOCS = sorted(LABELS)


def text_of(doc: str) -> str:
    if doc == "notebook":
        notebook = json.loads(NOTEBOOK.read_text())
        return "\n\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    return (STUDENT / doc).read_text()


@pytest.mark.parametrize("doc", DOCS)
def test_the_document_states_the_codes_facts(doc):
    text = flat(text_of(doc))
    missing = [fact for fact in facts()[doc] if flat(fact) not in text]
    assert not missing, f"{doc} does not say (or no longer says) what the code says: {missing}"


def prose_numbers(text: str) -> set[str]:
    """The numbers of the prose: not in code blocks, link targets, check ids, dates or list markers."""
    text = FENCE.sub("", text)
    text = re.sub(r"\]\([^)]*\)|https?://\S+", "", text)
    text = re.sub(r"\bC\d\.\d+\b|\b\d{4}-\d{2}-\d{2}\b|^\s*\d+\.\s", "", text, flags=re.M)
    return set(NUMBER.findall(text))


def test_the_teams_example_says_what_grading_an_azure_ml_workspace_needs():
    cfg = configparser.ConfigParser()
    cfg.read(REPO_ROOT / "setup.cfg")
    example = (REPO_ROOT / "resources" / "teams.example.yaml").read_text()
    assert f"`pip install {' '.join(azure_packages(cfg))}`" in example


@pytest.mark.parametrize("doc", DOCS)
def test_every_number_of_the_prose_is_a_fact_or_a_label(doc):
    stated = set().union(*(prose_numbers(fact) | set(NUMBER.findall(fact)) for fact in facts()[doc]))
    unknown = sorted(prose_numbers(text_of(doc)) - stated - LABELS[doc])
    assert not unknown, (f"{doc} states numbers no test holds to the code: {unknown}; add the fact to facts() "
                         "(built from the code) or, for a label, to LABELS")
