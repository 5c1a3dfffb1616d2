"""A state the grader cannot look at (an unreachable workspace, a timeout, the coach's secret unset): the
check's status is `error`, could not be graded, never the team's failure."""


class NotGradable(Exception):
    pass
