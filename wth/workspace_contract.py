"""The workspace contract: the names a workspace's MLflow store holds, the bundled data's file names, and
the promotion rule. The reference writes through these, the grader reads through them.

docs/contracts.md's workspace table is `table_markdown()` (tests/wth/test_workspace_contract.py keeps the
two in step, and checks that no other module of the project spells these names again).
The store's file and the experiment and model names stay where they were declared (`wth.store`,
`wth.config`); the table shows them too.
"""

from __future__ import annotations

from .config import CHAMPION, CI_EXPERIMENT, EXPERIMENT, MODEL_NAME
from .store import ARTIFACTS, DB_FILE

# --- pipeline runs: a parent run per pipeline, a child run per step -------------------------------------
PIPELINE_TAG = "wth.pipeline"  # on the parent run: its pipeline
STEP_TAG = "wth.step"  # on each child run: its step
PIPELINE_RUN_TAG = "wth.pipeline_run_id"  # on each child run: its parent's run id
BUILD_PIPELINE, RELEASE_PIPELINE, RETRAIN_PIPELINE, DRIFT_PIPELINE = "build", "release", "retrain", "drift"
PIPELINES = (BUILD_PIPELINE, RELEASE_PIPELINE, RETRAIN_PIPELINE, DRIFT_PIPELINE)
BUILD_ID = "build_id"  # the CI run that made a pipeline run (or a registered version)
GIT_COMMIT = "git_commit"  # the commit that CI run built

# --- the release run ------------------------------------------------------------------------------------
RELEASED_VERSION = "model_version"  # the version it released
SCORING_URI = "scoring_uri"
SMOKE_TEST_STEP = "smoke-test"  # its step that smoke-tested the endpoint

# --- the retrain run: the recorded comparison and decision ------------------------------------------------
CHAMPION_MASE = "champion_mase"
CHALLENGER_MASE = "challenger_mase"
MARGIN = "margin"
PROMOTED_METRIC = "promoted"  # 1.0 promoted, 0.0 rejected
DECISION = "decision"
REASON = "reason"  # the decision in words
PROMOTED, REJECTED = "promoted", "rejected"
EVAL_START, EVAL_END = "eval_start", "eval_end"
CHAMPION_VERSION, CHALLENGER_VERSION = "champion_version", "challenger_version"

# --- the drift run --------------------------------------------------------------------------------------
BATCH_SHA256 = "batch_sha256"
DRIFT_DETECTED = "drift_detected"  # 1.0 drift, 0.0 no drift
DRIFT_SCORE = "drift_score"
VERDICT = "verdict"
DRIFT_REPORT = "drift_report.html"

# --- a registered version's lineage ---------------------------------------------------------------------
LINEAGE_TAGS = ("run_id", "data_sha256", "train_start", "train_end", "mase")  # every version carries these

# --- the bundled data (resources/data, `wth.config.bundled_data()`) --------------------------------------
WINDOW_FILE = "TransactionHistory.csv.gz"
NEW_DATA_FILE = "new-data-2014.csv.gz"
BATCH_FILES = {"clean": "batch-clean.csv.gz", "drifted": "batch-drifted.csv.gz"}  # the drift batches (C5.1, C5.2)


def promotes(champion: float, challenger: float, margin: float) -> bool:
    """The promotion rule: the challenger's MASE beats the champion's by at least `margin` (a fraction)."""
    return bool(challenger < champion * (1 - margin))


TABLE = (
    ("the MLflow store of a local workspace", f"`{DB_FILE}` and `{ARTIFACTS}/` in the folder", "wth.store.DB_FILE"),
    ("experiment", f"`{EXPERIMENT}`", "wth.config.EXPERIMENT"),
    ("the CI runs' experiment", f"`{CI_EXPERIMENT}`", "wth.config.CI_EXPERIMENT"),
    ("registered model", f"`{MODEL_NAME}`", "wth.config.MODEL_NAME"),
    ("the serving version", f"the one with the version tag `{CHAMPION}` (value: when it became champion; several: "
     "the latest wins; read by `wth.registry` on every registry, Azure ML's included, whose MLflow support "
     "documents version tags but not aliases)", "wth.config.CHAMPION"),
    ("a registered version", f"tags {', '.join(f'`{tag}`' for tag in LINEAGE_TAGS)} (its lineage), and "
     f"`{BUILD_ID}` when a CI build made it", "LINEAGE_TAGS"),
    ("a pipeline run", f"a parent run tagged `{PIPELINE_TAG}=<name>` "
     f"({', '.join(f'`{name}`' for name in PIPELINES)})", "PIPELINE_TAG, PIPELINES"),
    ("a step of it", f"a child run tagged `{STEP_TAG}=<step>` and `{PIPELINE_RUN_TAG}=<parent>`",
     "STEP_TAG, PIPELINE_RUN_TAG"),
    ("the CI run that made it", f"tags `{BUILD_ID}` (the CI run's number) and `{GIT_COMMIT}`", "BUILD_ID, GIT_COMMIT"),
    ("a release run", f"tags `{RELEASED_VERSION}` (the version released) and `{SCORING_URI}`; a step "
     f"`{SMOKE_TEST_STEP}`", "RELEASED_VERSION, SCORING_URI, SMOKE_TEST_STEP"),
    ("a retrain run", f"metrics `{CHAMPION_MASE}`, `{CHALLENGER_MASE}`, `{MARGIN}`, `{PROMOTED_METRIC}`; tags "
     f"`{DECISION}` (`{PROMOTED}`\\|`{REJECTED}`), `{REASON}`, `{EVAL_START}`, `{EVAL_END}`, `{CHAMPION_VERSION}`, "
     f"`{CHALLENGER_VERSION}`", "CHAMPION_MASE, CHALLENGER_MASE, DECISION, ..."),
    ("the promotion rule", f"promoted when `{CHALLENGER_MASE} < {CHAMPION_MASE} * (1 - {MARGIN})`", "promotes()"),
    ("a drift run", f"tag `{BATCH_SHA256}` (the batch's sha256); metrics `{DRIFT_DETECTED}` (1 drift, 0 none) and "
     f"`{DRIFT_SCORE}`; tag `{VERDICT}` (in words); the artifact `{DRIFT_REPORT}`", "BATCH_SHA256, DRIFT_DETECTED, ..."),
    ("the bundled data (`resources/data`)", f"`{WINDOW_FILE}` (the window), `{NEW_DATA_FILE}` (challenge 04's new "
     f"data), `{BATCH_FILES['clean']}` and `{BATCH_FILES['drifted']}` (challenge 05's batches)",
     "WINDOW_FILE, NEW_DATA_FILE, BATCH_FILES"),
)


def table_markdown() -> str:
    """`TABLE` as the Markdown table docs/contracts.md shows."""
    rows = [f"| {what} | {name} | `{where}` |" for what, name, where in TABLE]
    return "\n".join(["| what | name | constant (of `wth.workspace_contract` unless named) |", "|---|---|---|", *rows])
