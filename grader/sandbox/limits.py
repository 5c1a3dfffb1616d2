"""The grader's limits on team code, declared once: the budgets a teams file may change per team
(`Budgets`, its `budgets` key) and the limits of the sandbox and of what the grader reads back (`LIMITS`).

Every module takes its numbers from here; grader/README.md's table of them is `table_markdown()` (a test
keeps the two in step, and holds every limit the docs name in their prose to its value). A name's suffix
is its unit: `_s` seconds, `_mb` and `_kb` MiB and KiB, `_share` a fraction.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Seconds = Annotated[float, Field(strict=True, gt=0)]


class Limits(BaseModel):
    """What team code may use inside the sandbox, what the grader reads of it, and the grader's graces."""

    model_config = ConfigDict(frozen=True)

    # inside the sandbox (`grader.sandbox`)
    scratch_mb: int = Field(256, description="the one writable folder, `/tmp`: a tmpfs holding the run's copy of the "
                                             "repository, `HOME` and `TMPDIR`")
    shm_mb: int = Field(64, description="`/dev/shm`, a tmpfs (POSIX semaphores, shared memory)")
    processes: int = Field(128, description="processes and threads of the sandbox's user at once (`RLIMIT_NPROC`)")
    memory_mb: int = Field(4096, description="address space per process (`RLIMIT_AS`); CPU time per process: what is "
                                             "left of the session's longest, `pytest_s` and its wait allowance, "
                                             "and `stop_s` (`RLIMIT_CPU`, a backstop); no core files")
    run_memory_mb: int = Field(2048, description="resident memory of a run's processes together: past it the grader "
                                                 "stops the run; also what a test slot is sized by")
    threads: int = Field(1, description="threads of the numeric libraries (`OMP_NUM_THREADS`, `OPENBLAS_NUM_THREADS`, "
                                        "`MKL_NUM_THREADS`): the teams share the CPUs")
    # what the grader copies and reads of a team's repository and runs (`grader.probes`)
    copy_mb: int = Field(128, description="of a repository, the files copied for its tests, by apparent size (a "
                                          "sparse file counts whole)")
    copy_files: int = Field(20000, description="... and at most this many files and folders")
    output_tail_kb: int = Field(64, description="of each run's output, the last this many KB are kept")
    output_read_mb: int = Field(16, description="of each stream of team code, at most this much is read: then the "
                                                "grader closes it")
    repo_files: int = Field(5000, description="files of a repository the grader lists (test files, pipelines, commands)")
    test_file_kb: int = Field(1024, description="of a test file, the part the grader parses to count its tests")
    venv_file_kb: int = Field(64, description="read of a team's `.pth` file, editable finder or `pyvenv.cfg` (to "
                                              "know what its interpreter needs to see)")
    venv_files: int = Field(200, description="`.pth` files and editable finders read per site-packages folder")
    # time: graces and measurement
    cpu_wait_share: float = Field(1.0, description="the session's time limit moves on by the time its runs waited for "
                                                   "a CPU, up to this share of `pytest_s` more")
    others_share: float = Field(0.25, description="a session out of time after waiting past that while other processes "
                                                  "used this share of the machine's CPU time is `error` (the machine "
                                                  "starved it), not `fail`")
    poll_s: float = Field(0.25, description="a run's process tree is looked at (memory, CPU, waiting) this often")
    drain_s: float = Field(1.0, description="after a run's process ended, its output is read at most this long more "
                                            "(what it left running may hold the stream open)")
    stop_s: float = Field(2.0, description="a run stopped at its time or memory limit gets this long to end before "
                                           "it is killed")
    check_grace_s: float = Field(10.0, description="a check that runs the team's tests may take this long past the "
                                                   "session's longest (copying, data files, stopping the runs)")
    probe_s: float = Field(10.0, description="bubblewrap's trial run, once per grader process: past it there is no "
                                             "sandbox")


LIMITS = Limits()


class Budgets(BaseModel):
    """Seconds. A check never runs past `check_s` (one running the team's tests: `of_check`), a team never past
    `team_s`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    check_s: Seconds = Field(30.0, description="one check, and one git clone or fetch")
    team_s: Seconds = Field(240.0, description="all of a team's checks")
    connect_s: Seconds = Field(3.0, description="connecting, per HTTP request")
    read_s: Seconds = Field(10.0, description="reading an answer, per HTTP request")
    pytest_s: Seconds = Field(120.0, description="the session of the team's tests (C2.2 and C2.3)")

    def session_s(self) -> float:
        """The longest the session of the team's tests may take: `pytest_s`, moved on by its runs' wait for a CPU."""
        return self.pytest_s * (1 + LIMITS.cpu_wait_share)

    def of_check(self, runs_tests: bool) -> float:
        """One check's budget: `check_s`, or for a check running the team's tests the session's longest and a grace."""
        return self.session_s() + LIMITS.check_grace_s if runs_tests else self.check_s


def table_markdown() -> str:
    """The budgets (with their defaults) and `LIMITS` as the Markdown table grader/README.md shows."""
    rows = ["| limit | value | what |", "|---|---|---|"]
    rows += [f"| `budgets.{name}` | {info.default:g} | {info.description} |" for name, info in Budgets.model_fields.items()]
    rows += [f"| `{name}` | {getattr(LIMITS, name):g} | {info.description} |" for name, info in Limits.model_fields.items()]
    return "\n".join(rows) + "\n\nThe `budgets` are defaults: a teams file may change them for every team (`defaults.budgets`) or per team."
