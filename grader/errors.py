"""The grader's failures that are not a team's result: bad coach input (exit 2)."""


class ConfigError(Exception):
    """The teams file or the command line is wrong; the message is one line naming team and key."""

    exit_code = 2


class NotGradable(Exception):
    """A check could not look at the team's state (unreachable workspace, timeout): status `error`."""
