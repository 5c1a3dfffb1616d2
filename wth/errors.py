"""The two kinds of failure the CLI tells apart (exit codes of the CLI contract, docs/contracts.md)."""


class UsageError(Exception):
    """Bad usage or bad input (a missing file, a wrong layout, an empty window): exit 2."""

    exit_code = 2


class StepFailed(Exception):
    """A pipeline step that ran and failed (a smoke test, a deployment): exit 1."""

    exit_code = 1
