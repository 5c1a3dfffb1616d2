"""A state the grader cannot look at (an unreachable workspace, a timeout, the coach's secret unset, the
grading machine itself short of descriptors, memory or disk): the check's status is `error`, could not
be graded, never the team's failure."""

import errno

RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EAGAIN, errno.ENOSPC})


class NotGradable(Exception):
    pass
