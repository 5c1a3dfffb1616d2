"""Every `WTH_*` environment variable the hack reads, and the ones it sets for team code, in one place.

Each is read when asked (`Variable.get`), not at import, so a test or a pipeline step that sets one
sees it. docs/contracts.md shows `VARIABLES` as a table (tests/wth/test_settings.py keeps the two in step).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    name: str
    default: str | None
    meaning: str

    def get(self, default: str | None = None) -> str | None:
        """The value set (an empty one counts as unset), else `default`, else the variable's own default."""
        return os.environ.get(self.name) or (self.default if default is None else default)


WORKSPACE = Variable("WTH_WORKSPACE", ".wth", "the workspace when `--workspace` is not given: a folder, an MLflow "
                     "tracking URI, or `azureml`")
LOCAL_STATE = Variable("WTH_LOCAL_STATE", ".wth", "where a workspace given as a tracking URI keeps its local state "
                       "(acquired data, the local endpoint)")
BUNDLED_DATA = Variable("WTH_BUNDLED_DATA", None, "the bundled data folder, when not the `resources/data` of the tree "
                        "the tools are installed from")
ENDPOINT_START_TIMEOUT = Variable("WTH_ENDPOINT_START_TIMEOUT", "120", "seconds a local deployment has to answer "
                                  "`GET /` before its start is given up")
HOLDOUT_SEED = Variable("WTH_HOLDOUT_SEED", None, "the coach's secret seed of the simulated holdout (C3.4), when the "
                        "teams file configures no holdout")
DATA_FILE = Variable("WTH_DATA_FILE", None, "set by the grader for a team's tests (C2.2, C2.3): the TransactionHistory "
                     "file they are to read and validate")
DEPLOYMENT_SECRET = Variable("WTH_DEPLOYMENT_SECRET", None, "set by the local endpoint for each deployment's server: "
                             "the secret only the router sends, so the server scores nobody else (unset on Azure ML)")

VARIABLES = (WORKSPACE, LOCAL_STATE, BUNDLED_DATA, ENDPOINT_START_TIMEOUT, HOLDOUT_SEED, DATA_FILE, DEPLOYMENT_SECRET)


def table_markdown() -> str:
    """`VARIABLES` as the Markdown table docs/contracts.md shows."""
    rows = [f"| `{v.name}` | {f'`{v.default}`' if v.default else '-'} | {v.meaning} |" for v in VARIABLES]
    return "\n".join(["| variable | default | what it is |", "|---|---|---|", *rows])
