"""The grader's failures that are not a team's result: bad coach input (exit 2), a state it cannot look at."""

from wth.errors import UsageError


class ConfigError(UsageError):
    """The teams file or the command line is wrong; the message is one line naming team and key."""


class NotGradable(Exception):
    """A check could not look at the team's state (unreachable workspace, timeout): status `error`."""
